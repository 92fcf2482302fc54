//! TODO(owner: server helper) — replaced by the real module.
