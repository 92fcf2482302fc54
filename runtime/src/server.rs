//! The listener: accepts TCP connections, serves HTTP/1.1 and h2c on one port, isolates panics, drains on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::body::ResponseBody;
use crate::codegen::Protocol;
use crate::protocol_error::{self, GatewayError, protocol_for_unmatched_path};
use crate::proxy::Gateway;

/// A bound, serving gateway.
#[derive(Debug)]
pub struct Server;

/// Controls a running server: start the drain, wait for it to finish.
#[derive(Debug)]
pub struct ServerHandle {
    shutdown: watch::Sender<bool>,
    finished: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting (the listener closes at once) and lets in-flight
    /// requests finish within the plan's drain grace period.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once the server has stopped: after [`shutdown`](Self::shutdown)
    /// and the drain.
    pub async fn stopped(self) {
        let _ = self.finished.await;
    }
}

impl Server {
    /// Binds `addr` and serves `gateway` on the current tokio runtime.
    /// Returns the bound address (useful with port 0).
    pub async fn bind(
        gateway: &'static Gateway,
        addr: impl ToSocketAddrs,
    ) -> std::io::Result<(SocketAddr, ServerHandle)> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (shutdown, shutdown_requested) = watch::channel(false);
        let finished = tokio::spawn(serve(gateway, listener, shutdown_requested));
        Ok((local_addr, ServerHandle { shutdown, finished }))
    }
}

async fn serve(
    gateway: &'static Gateway,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = &gateway.plan().gateway;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(
            (settings.header_read_timeout_ms > 0)
                .then(|| Duration::from_millis(settings.header_read_timeout_ms)),
        );
    builder.http2().timer(TokioTimer::new());

    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // Out of file descriptors or an aborted handshake: back off
                // briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service_fn(move |request: Request<Incoming>| {
            let protocol = protocol_for_unmatched_path(request.uri().path());
            CatchPanic::new(gateway.handle(request), protocol)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            let _ = connection.await;
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let grace = Duration::from_millis(settings.drain_grace_ms);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    // Whatever is still running after the grace period is closed here.
    connections.shutdown().await;
}

pin_project_lite::pin_project! {
    /// Turns a panic inside a request handler into a 500 for that request
    /// alone; the connection and the process carry on.
    pub struct CatchPanic<F> {
        #[pin]
        handler: F,
        protocol: Protocol,
    }
}

impl<F> CatchPanic<F> {
    pub fn new(handler: F, protocol: Protocol) -> CatchPanic<F> {
        CatchPanic { handler, protocol }
    }
}

impl<F> Future for CatchPanic<F>
where
    F: Future<Output = Response<ResponseBody>>,
{
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let handler = this.handler;
        match std::panic::catch_unwind(AssertUnwindSafe(|| handler.poll(cx))) {
            Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_panic) => Poll::Ready(Ok(protocol_error::response(
                *this.protocol,
                GatewayError::Internal,
                "the gateway failed while handling this request",
            ))),
        }
    }
}
