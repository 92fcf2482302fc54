//! TODO(owner: front-end helper): typed, spanned spec.
use crate::{diagnostic::Diagnostics, syntax::Document};
#[derive(Debug, Default)]
pub struct Spec;
pub fn build(documents: &[Document], diagnostics: &mut Diagnostics) -> Spec { let _ = (documents, diagnostics); Spec }
