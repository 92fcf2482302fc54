//! gatesmith-runtime: the hyper + tokio server linked into every generated gateway binary.
//!
//! A generated gateway crate is `plan.rs` (static tables and a `match`
//! function, naming only [`codegen`]) plus a three-line `main.rs` calling
//! [`main`]. Everything algorithmic lives here, unit-tested once.

pub mod adapt;
pub mod attempts;
pub mod balance;
pub mod body;
pub mod codegen;
pub mod commit;
pub mod convert;
pub mod cooldown;
pub mod failure;
pub mod headers;
pub mod mock;
pub mod protocol_error;
pub mod provider;
pub mod proxy;
pub mod request_body;
pub mod respond;
pub mod server;
pub mod sse;
pub mod startup;
pub mod stats;
pub mod stream_guard;
pub mod upstream;
pub mod usage;
pub mod usage_sink;

/// Entry point of a generated gateway binary: parses the command line, reads
/// secrets from the environment, serves until SIGTERM/SIGINT, then drains.
pub fn main(plan: &'static codegen::Plan) -> std::process::ExitCode {
    startup::run(plan)
}
