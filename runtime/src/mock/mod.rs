//! TODO(owner: mock helper) — replaced by the real module.
