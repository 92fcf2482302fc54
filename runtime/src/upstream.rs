//! The pooled HTTP client every proxied request goes through: TCP_NODELAY, connect timeout, rustls.
//!
//! One hyper-util legacy client per distinct connect timeout (in practice
//! one for the whole plan), so connections are pooled across services that
//! share an upstream host. Redirects are never followed: the client is the
//! bare legacy client, which has no redirect logic.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::codegen::{Plan, ServiceId};

/// The request body the gateway sends upstream: the (possibly rewritten) buffered client body.
pub type UpstreamBody = Full<Bytes>;

/// The client type shared by services.
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, UpstreamBody>;

const POOL_MAX_IDLE_PER_HOST: usize = 256;
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The clients of a plan, indexed by service.
#[derive(Clone)]
pub struct Upstreams {
    clients: Vec<UpstreamClient>,
    client_of_service: Vec<usize>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams")
            .field("clients", &self.clients.len())
            .finish()
    }
}

impl Upstreams {
    /// Builds one client per distinct connect timeout among the plan's services.
    /// Needs no runtime; connections are made lazily on the caller's runtime.
    pub fn new(plan: &Plan) -> Upstreams {
        let tls = Arc::new(tls_config());
        let mut timeouts: Vec<u64> = Vec::new();
        let mut clients = Vec::new();
        let mut client_of_service = Vec::with_capacity(plan.services.len());
        for service in plan.services {
            let connect_ms = service.timeouts.connect_ms;
            let index = match timeouts.iter().position(|&t| t == connect_ms) {
                Some(index) => index,
                None => {
                    timeouts.push(connect_ms);
                    clients.push(build_client(connect_ms, tls.clone()));
                    clients.len() - 1
                }
            };
            client_of_service.push(index);
        }
        Upstreams {
            clients,
            client_of_service,
        }
    }

    /// The client for `service`, or `None` for an id outside the plan.
    pub fn client(&self, service: ServiceId) -> Option<&UpstreamClient> {
        let index = *self.client_of_service.get(usize::from(service))?;
        self.clients.get(index)
    }
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The ring provider always supports the safe defaults; fall back to
        // the process default rather than panic if that ever changes.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth(),
    };
    // ALPN (h2, http/1.1) is set by the hyper-rustls builder, which
    // rejects a config that already has protocols.
    config
}

fn build_client(connect_ms: u64, tls: Arc<rustls::ClientConfig>) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    if connect_ms > 0 {
        http.set_connect_timeout(Some(Duration::from_millis(connect_ms)));
    }
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(Arc::unwrap_or_clone(tls))
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

/// True when a client error (or anything it wraps) is a timeout, so the
/// gateway answers 504 rather than 502.
pub fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
            // `io::Error::source` skips the wrapped error itself.
            if let Some(inner) = io.get_ref()
                && is_timeout(inner)
            {
                return true;
            }
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_found_anywhere_in_the_error_chain() {
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
        let wrapped = std::io::Error::other(timed_out);
        assert!(is_timeout(&wrapped));
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(!is_timeout(&refused));
    }
}
