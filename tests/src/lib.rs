//! Shared helpers of the end-to-end tests in `tests/tests/`: build gateways from spec folders, run them on loopback, talk to them.
//!
//! Every wait here has a deadline: a broken gateway fails a test, it never
//! hangs the suite.

pub mod artifacts;
pub mod http;
pub mod mock_upstream;
pub mod process;
pub mod python;
pub mod stub_upstream;
pub mod workspace;

pub use artifacts::{compiler_binary, gateway_binary, mock_binary};
pub use http::{KeepAliveConnection, RawRequest, RawResponse, StreamingResponse};
pub use mock_upstream::{MockStats, MockUpstream};
pub use process::{E2E_RECORDER_KEY, E2E_SPEC, Gateway, RunningServer};
