//! TODO(owner: front-end helper): Valid spec -> ir::Plan.
use crate::{ir::Plan, validate::Valid};
pub fn lower(valid: &Valid, source: &str) -> Plan { let _ = (valid, source); unimplemented!() }
