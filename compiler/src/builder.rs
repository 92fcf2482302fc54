//! TODO(owner: back-end helper): writes the gateway crate and runs cargo.
