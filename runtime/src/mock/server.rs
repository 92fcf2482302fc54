//! The mock as a standalone HTTP server (HTTP/1.1 and h2c on one port), for `gatesmith-mock`.
//!
//! It is the benchmark's upstream, so it does no per-request logging and no
//! work beyond buffering the request body and calling [`super::respond`].

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

use crate::body::{self, ResponseBody};
use crate::codegen::MockSettings;

/// Largest request body the standalone mock buffers.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Serves the mock on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, settings: MockSettings) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
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
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(settings, request));
            // A connection error (client gone, protocol error) concerns only that connection.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    settings: MockSettings,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let (parts, incoming) = request.into_parts();
    if parts.uri.path() == "/healthz" && parts.method == Method::GET {
        let mut response = Response::new(body::full(Bytes::from_static(b"ok\n")));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return Ok(response);
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
