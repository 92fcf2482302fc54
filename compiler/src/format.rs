//! TODO(owner: back-end helper): TokenStream -> formatted Rust with the @generated header.
use crate::ir::Plan;
pub fn format(tokens: proc_macro2::TokenStream, plan: &Plan) -> String { let _ = (tokens, plan); String::new() }
