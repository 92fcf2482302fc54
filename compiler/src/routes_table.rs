//! TODO(owner: back-end helper): the human-readable route table.
use crate::ir::Plan;
pub fn render(plan: &Plan) -> String { let _ = plan; String::new() }
