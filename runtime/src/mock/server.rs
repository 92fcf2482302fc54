//! The mock as a standalone HTTP server (HTTP/1.1 and h2c on one port), for `gatesmith-mock`.
//!
//! It is the benchmark's upstream, so it does no per-request logging and no
//! work beyond counting the request ([`super::stats`]), buffering its body and
//! calling [`super::respond`]. `GET /__mock/stats` and `POST /__mock/reset`
//! let tests count the attempts a gateway made at this upstream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use super::stats::Stats;
use crate::body::{self, ResponseBody};
use crate::codegen::MockSettings;

/// Largest request body the standalone mock buffers.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Serves the mock on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, settings: MockSettings) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let stats = Arc::new(Stats::default());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Usually EMFILE under load: back off instead of spinning.
                eprintln!("gatesmith-mock: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Without it, small SSE frames wait for Nagle and the stream looks buffered.
        let _ = stream.set_nodelay(true);
        let builder = Arc::clone(&builder);
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(settings, Arc::clone(&stats), request));
            // A connection error (client gone, protocol error) concerns only that connection.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    settings: MockSettings,
    stats: Arc<Stats>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let (parts, incoming) = request.into_parts();
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/healthz") => {
            return Ok(with_type(Bytes::from_static(b"ok\n"), "text/plain"));
        }
        (&Method::GET, "/__mock/stats") => {
            return Ok(with_type(stats.to_json(), "application/json"));
        }
        (&Method::POST, "/__mock/reset") => {
            stats.reset();
            return Ok(with_type(stats.to_json(), "application/json"));
        }
        (_, path) => stats.record(path),
    }
    let bytes = match Limited::new(incoming, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let message =
                format!("request body unreadable or larger than {MAX_REQUEST_BYTES} bytes");
            return Ok(super::error_for_path(
                parts.uri.path(),
                StatusCode::PAYLOAD_TOO_LARGE,
                &message,
            ));
        }
    };
    Ok(super::respond(&settings, Request::from_parts(parts, bytes)).await)
}

fn with_type(body: impl Into<Bytes>, content_type: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(body.into()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
