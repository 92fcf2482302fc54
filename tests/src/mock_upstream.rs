//! Standalone `gatesmith-mock` upstreams on fixed loopback ports, with their attempt counters (`/__mock/stats`).
//!
//! Specs bake upstream URLs into the gateway at build time, so each mock
//! listens on the port its spec names; each port belongs to one test.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use crate::artifacts::mock_binary;
use crate::http::RawRequest;
use crate::process::RunningServer;

/// How long a restarted mock may wait for its port to be free again.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// A running `gatesmith-mock`; stopped on drop.
#[derive(Debug)]
pub struct MockUpstream {
    server: RunningServer,
    port: u16,
}

/// What `GET /__mock/stats` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockStats {
    pub requests: u64,
    pub by_path: BTreeMap<String, u64>,
}

impl MockStats {
    /// Requests counted for one path (0 when none arrived).
    pub fn at(&self, path: &str) -> u64 {
        self.by_path.get(path).copied().unwrap_or(0)
    }
}

impl MockUpstream {
    /// Starts `gatesmith-mock --listen 127.0.0.1:PORT --workers 1 FLAGS...`.
    pub fn start(port: u16, flags: &[&str]) -> Self {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["--listen", listen.as_str(), "--workers", "1"];
        args.extend_from_slice(flags);
        let server = RunningServer::start(&mock_binary(), &args, &[]);
        MockUpstream { server, port }
    }

    /// Stops this mock and starts another on the same port with new flags,
    /// once the old process has let go of the port.
    pub fn restart(self, flags: &[&str]) -> Self {
        let port = self.port;
        drop(self);
        let deadline = Instant::now() + REBIND_TIMEOUT;
        while TcpListener::bind(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "port {port} still taken {REBIND_TIMEOUT:?} after its mock stopped"
            );
            thread::sleep(Duration::from_millis(20));
        }
        MockUpstream::start(port, flags)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The counts since start or the last [`MockUpstream::reset`].
    pub fn stats(&self) -> MockStats {
        let response = RawRequest::get("/__mock/stats").send(self.addr());
        assert_eq!(
            response.status,
            200,
            "GET /__mock/stats on port {}: {}",
            self.port,
            response.text()
        );
        let json = response.json();
        let requests = json["requests"]
            .as_u64()
            .unwrap_or_else(|| panic!("stats without a request count: {json}"));
        let by_path = json["by_path"]
            .as_object()
            .unwrap_or_else(|| panic!("stats without by_path: {json}"))
            .iter()
            .map(|(path, count)| (path.clone(), count.as_u64().unwrap_or(0)))
            .collect();
        MockStats { requests, by_path }
    }

    /// Sets the counts back to zero.
    pub fn reset(&self) {
        let response = RawRequest::new("POST", "/__mock/reset").send(self.addr());
        assert_eq!(
            response.status,
            200,
            "POST /__mock/reset: {}",
            response.text()
        );
    }
}
