//! Test harness: a hand-built plan, an upstream stub the tests control, and small HTTP client helpers.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gatesmith_runtime::codegen::*;
use gatesmith_runtime::proxy::Gateway;
use gatesmith_runtime::server::{Server, ServerHandle};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const API_KEY: &str = "sk-test-upstream-key";

/// Route ids of the test plan.
pub const CHAT: RouteId = 0;
pub const PASS: RouteId = 1;
pub const FPT: RouteId = 2;
pub const ANTHROPIC: RouteId = 3;
pub const SLOW: RouteId = 4;
pub const DOWN: RouteId = 5;
pub const MOCK: RouteId = 6;

/// The hand-written matcher: host `gw.test` only; base paths `/`, `/pass`,
/// `/fpt`, `/anth`, `/slow`, `/down`, `/mock`; `/panic` is a test hook.
pub fn match_route(host: &str, path: &str, method: Method) -> RouteMatch {
    if path == "/panic" {
        panic!("test hook: the handler panics");
    }
    if host != "gw.test" {
        return RouteMatch::NotFound;
    }
    let bases: [(&str, ModelApiId, RouteId, &str); 6] = [
        ("/pass", 1, PASS, "/v1/chat/completions"),
        ("/fpt", 2, FPT, "/v1/chat/completions"),
        ("/anth", 3, ANTHROPIC, "/v1/messages"),
        ("/slow", 4, SLOW, "/v1/chat/completions"),
        ("/down", 5, DOWN, "/v1/chat/completions"),
        ("/mock", 6, MOCK, "/v1/chat/completions"),
    ];
    let (model_api, route, rest, base_len) = bases
        .iter()
        .find_map(|(base, api, route, route_path)| {
            strip_base(path, base).map(|rest| (*api, *route, (rest, *route_path), base.len()))
        })
        .unwrap_or((0, CHAT, (path, "/v1/chat/completions"), 0));
    let (rest, route_path) = rest;
    if rest != route_path {
        return RouteMatch::NoRoute { model_api };
    }
    if !Methods::POST.contains(method) {
        return RouteMatch::MethodNotAllowed {
            model_api,
            allowed: Methods::POST,
        };
    }
    RouteMatch::Found {
        route,
        base_len: base_len as u16,
    }
}

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

fn leak_str(value: String) -> &'static str {
    Box::leak(value.into_boxed_str())
}

fn model_api(
    name: &'static str,
    protocol: Protocol,
    base: &'static str,
    service: ServiceId,
    model: Option<&'static str>,
    fpt_ms: u64,
) -> ModelApi {
    ModelApi {
        name,
        use_case: UseCase::TextGeneration,
        protocol,
        resource_group: "default",
        base_path: base,
        strip_base_path: base != "/",
        monitoring: Monitoring {
            metrics: true,
            logs: true,
            traces: false,
            record_request: false,
            record_response: false,
        },
        model_service: ModelService::Single(Target { service, model }),
        fallback: &[],
        failover: FailoverPolicy {
            on_client_errors: false,
            on_context_length: false,
            budget_ms: 0,
            when_all_cooling: WhenAllCooling::Reject,
        },
        timeouts: TimeoutOverrides {
            first_packet_ms: Some(fpt_ms),
            idle_ms: None,
            total_ms: None,
        },
    }
}

fn route(model_api: ModelApiId, name: &'static str, kind: RouteKind, path: &'static str) -> Route {
    Route {
        model_api,
        name,
        kind,
        path,
        methods: Methods::POST,
    }
}

pub const MOCK_SETTINGS: MockSettings = MockSettings {
    latency_ms: 0,
    stream_chunks: 4,
    chunk_delay_ms: 0,
    completion_tokens: 8,
    fault: None,
};

/// A plan whose OpenAI services point at `upstream`; `down` is a closed port.
pub fn plan(upstream: SocketAddr, down: SocketAddr, max_request_bytes: u64) -> &'static Plan {
    let base = leak_str(format!("http://{upstream}"));
    let down = leak_str(format!("http://{down}"));
    let service = |name, base_url, api_key_env, request_ms| Service {
        name,
        provider: Provider::OpenAi,
        base_url,
        api_key_env,
        timeouts: ServiceTimeouts {
            connect_ms: 1000,
            first_packet_ms: 0,
            idle_ms: 0,
            total_ms: request_ms,
        },
        mock: None,
        options: ProviderOptions::DEFAULT,
    };
    let services: &'static [Service] = Box::leak(Box::new([
        service("stub", base, Some("STUB_KEY"), 0),
        service("slow-stub", base, None, 300),
        service("down", down, None, 0),
        Service {
            name: "builtin-mock",
            provider: Provider::Mock,
            base_url: "",
            api_key_env: None,
            timeouts: ServiceTimeouts {
                connect_ms: 1000,
                first_packet_ms: 0,
                idle_ms: 0,
                total_ms: 0,
            },
            mock: Some(MOCK_SETTINGS),
            options: ProviderOptions::DEFAULT,
        },
    ]));
    let model_apis: &'static [ModelApi] = Box::leak(Box::new([
        model_api("chat", Protocol::OpenAi, "/", 0, Some("upstream-model"), 0),
        model_api("passthru", Protocol::OpenAi, "/pass", 0, None, 0),
        model_api("first-packet", Protocol::OpenAi, "/fpt", 0, None, 300),
        model_api("claude", Protocol::Anthropic, "/anth", 0, None, 0),
        model_api("slow", Protocol::OpenAi, "/slow", 1, None, 0),
        model_api("down", Protocol::OpenAi, "/down", 2, None, 0),
        model_api(
            "mocked",
            Protocol::OpenAi,
            "/mock",
            3,
            Some("mock-small"),
            0,
        ),
    ]));
    let routes: &'static [Route] = Box::leak(Box::new([
        route(
            0,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
        route(
            1,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
        route(
            2,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
        route(3, "messages", RouteKind::Messages, "/v1/messages"),
        route(
            4,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
        route(
            5,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
        route(
            6,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
    ]));
    leak(Plan {
        environment: "test",
        gateway: GatewaySettings {
            listen: "127.0.0.1:0",
            max_request_bytes,
            header_read_timeout_ms: 500,
            drain_grace_ms: 5000,
        },
        services,
        model_apis,
        routes,
        match_route,
    })
}

/// What the stub saw of one request.
#[derive(Debug)]
pub struct Seen {
    pub method: http::Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The upstream stub. Behaviour by the request's `model` first (see
/// [`by_model`]: that is how one request gets a failing primary and a
/// healthy fallback), then by the `x-stub-mode` request header:
/// - absent: a JSON chat completion
/// - `controlled`: an SSE stream fed by [`Stub::stream_sender`]
/// - `pings`: head, then only `: ping` comments every 50 ms, forever
/// - `late-content`: pings for 100 ms, then one content event and `[DONE]`
/// - `endless`: a content event every 50 ms, forever
/// - `slow-head`: the head after 2 s
/// - `hang-head`: never answers; reports on `body_dropped` when abandoned
pub struct Stub {
    pub addr: SocketAddr,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    /// Fires when a streamed response body is dropped (connection closed).
    pub body_dropped: mpsc::UnboundedReceiver<()>,
    controlled: Arc<Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>>,
}

impl Stub {
    /// Arms the next `controlled` stream; returns its feeding end.
    pub fn stream_sender(&self) -> mpsc::UnboundedSender<Bytes> {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self.controlled.lock().expect("lock") = Some(receiver);
        sender
    }
}

/// A body fed by a channel that reports when it is dropped.
struct ChannelBody {
    frames: mpsc::UnboundedReceiver<Bytes>,
    on_drop: mpsc::UnboundedSender<()>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.frames
            .poll_recv(cx)
            .map(|frame| frame.map(|bytes| Ok(Frame::data(bytes))))
    }
}

impl Drop for ChannelBody {
    fn drop(&mut self) {
        let _ = self.on_drop.send(());
    }
}

type StubBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn sse_response(
    frames: mpsc::UnboundedReceiver<Bytes>,
    on_drop: mpsc::UnboundedSender<()>,
) -> Response<StubBody> {
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("connection", "keep-alive")
        .header("x-upstream", "stub")
        .body(ChannelBody { frames, on_drop }.boxed())
        .expect("response")
}

fn feed_forever(sender: mpsc::UnboundedSender<Bytes>, every: Duration, chunk: &'static [u8]) {
    tokio::spawn(async move {
        while sender.send(Bytes::from_static(chunk)).is_ok() {
            tokio::time::sleep(every).await;
        }
    });
}

pub async fn start_stub() -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
    let addr = listener.local_addr().expect("addr");
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (dropped_tx, body_dropped) = mpsc::unbounded_channel();
    let controlled: Arc<Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>> = Arc::default();
    let stub_controlled = controlled.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let seen_tx = seen_tx.clone();
            let dropped_tx = dropped_tx.clone();
            let controlled = stub_controlled.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let seen_tx = seen_tx.clone();
                let dropped_tx = dropped_tx.clone();
                let controlled = controlled.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    let mode = parts
                        .headers
                        .get("x-stub-mode")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let model = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["model"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let _ = seen_tx.send(Seen {
                        method: parts.method.clone(),
                        path_and_query: parts
                            .uri
                            .path_and_query()
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        headers: parts.headers.clone(),
                        body,
                    });
                    if model == "slow-head" {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    if let Some(response) = by_model(&model, dropped_tx.clone()) {
                        return Ok::<_, Infallible>(response);
                    }
                    let response = match mode.as_str() {
                        "controlled" => {
                            let frames = controlled
                                .lock()
                                .expect("lock")
                                .take()
                                .expect("stream armed");
                            sse_response(frames, dropped_tx)
                        }
                        "pings" => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            feed_forever(tx, Duration::from_millis(50), b": ping\n\n");
                            sse_response(rx, dropped_tx)
                        }
                        "endless" => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            feed_forever(
                                tx,
                                Duration::from_millis(50),
                                b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
                            );
                            sse_response(rx, dropped_tx)
                        }
                        "late-content" => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            tokio::spawn(async move {
                                let _ = tx.send(Bytes::from_static(b": ping\n\n"));
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                let _ = tx.send(Bytes::from_static(b"event: ping\n"));
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                let _ = tx.send(Bytes::from_static(b"\ndata: {\"n\":1}\n"));
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                let _ = tx.send(Bytes::from_static(b"\ndata: [DONE]\n\n"));
                            });
                            sse_response(rx, dropped_tx)
                        }
                        "hang-head" => {
                            // Never answers; reports when the gateway gives up
                            // on it (the stub's server drops this future).
                            let _guard = ChannelBody {
                                frames: mpsc::unbounded_channel().1,
                                on_drop: dropped_tx,
                            };
                            std::future::pending::<()>().await;
                            unreachable!()
                        }
                        "slow-head" => {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                            Response::new(Full::new(Bytes::from_static(b"{}")).boxed())
                        }
                        _ => {
                            let answer = serde_json::json!({
                                "id": "chatcmpl-stub",
                                "object": "chat.completion",
                                "model": model,
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
                            });
                            Response::builder()
                                .header("content-type", "application/json")
                                .header("keep-alive", "timeout=5")
                                .body(Full::new(Bytes::from(answer.to_string())).boxed())
                                .expect("response")
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Stub {
        addr,
        seen,
        body_dropped,
        controlled,
    }
}

/// A loopback address nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// Stub, gateway and server, ready for requests.
pub struct Harness {
    pub stub: Stub,
    pub gateway_addr: SocketAddr,
    pub handle: ServerHandle,
    pub gateway: &'static Gateway,
}

pub async fn start_with_limit(max_request_bytes: u64) -> Harness {
    let stub = start_stub().await;
    let plan = plan(stub.addr, closed_port().await, max_request_bytes);
    let gateway =
        Gateway::new(plan, vec![Some(API_KEY.to_owned()), None, None, None]).expect("gateway");
    let gateway: &'static Gateway = leak(gateway);
    let (gateway_addr, handle) = Server::bind(gateway, "127.0.0.1:0")
        .await
        .expect("bind gateway");
    Harness {
        stub,
        gateway_addr,
        handle,
        gateway,
    }
}

pub async fn start() -> Harness {
    start_with_limit(32 * 1024 * 1024).await
}

/// Sends one request on a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect gateway");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("response head")
}

/// A POST to `path` on host `gw.test` with a JSON body.
pub fn post(path: &str) -> http::request::Builder {
    Request::post(path)
        .header("host", "gw.test")
        .header("content-type", "application/json")
}

pub fn json_request(path: &str, body: &'static str) -> Request<Full<Bytes>> {
    post(path)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request")
}

pub async fn body_json(response: Response<Incoming>) -> serde_json::Value {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body, got {bytes:?}"))
}

/// Reads frames until `needle` has appeared in the collected bytes.
pub async fn read_until(body: &mut Incoming, collected: &mut Vec<u8>, needle: &[u8]) {
    while !collected.windows(needle.len()).any(|w| w == needle) {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    collected.extend_from_slice(&data);
                }
            }
            other => panic!(
                "stream ended before {:?}: {other:?}",
                String::from_utf8_lossy(needle)
            ),
        }
    }
}

/// Writes a raw HTTP/1.1 request and returns the open socket.
pub async fn raw_request(addr: SocketAddr, text: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(text.as_bytes()).await.expect("write");
    stream
}

/// Reads from a raw socket until `needle` appears.
pub async fn raw_read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(
            read > 0,
            "closed before {:?}; got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
    seen
}

/// An SSE chunk with this content and chunk id.
fn content_chunk(id: &str, content: &str) -> Bytes {
    Bytes::from(format!(
        "data: {{\"id\":\"{id}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n"
    ))
}

/// Behaviours chosen by the upstream model name (after the gateway's rewrite):
/// - `status:CODE` / `status:CODE:ra:SECS`: that status with an OpenAI error body (and `Retry-After`)
/// - `context`: a 400 context-length error
/// - `slow-head`: a JSON answer after 2 s
/// - `stall`: an SSE head, a role-only prelude and pings, never content
/// - `error-event`: an SSE head, then an error event before any content
/// - `stream-NAME`: an SSE stream of 3 chunks with id `NAME`, then `[DONE]`
/// - `stream-NAME-stall`: 2 chunks with id `NAME`, then silence
fn by_model(model: &str, on_drop: mpsc::UnboundedSender<()>) -> Option<Response<StubBody>> {
    let json = |status: u16, body: String, retry_after: Option<&str>| {
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/json");
        if let Some(seconds) = retry_after {
            builder = builder.header("retry-after", seconds);
        }
        builder
            .body(Full::new(Bytes::from(body)).boxed())
            .expect("response")
    };
    if let Some(rest) = model.strip_prefix("status:") {
        let mut parts = rest.split(':');
        let code: u16 = parts.next()?.parse().ok()?;
        let retry_after = match (parts.next(), parts.next()) {
            (Some("ra"), Some(seconds)) => Some(seconds),
            _ => None,
        };
        let body = format!(
            r#"{{"error":{{"message":"stub status {code}","type":"stub_error","code":"stub_{code}"}}}}"#
        );
        return Some(json(code, body, retry_after));
    }
    match model {
        "context" => Some(json(
            400,
            r#"{"error":{"message":"This model's maximum context length is 8 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#.to_owned(),
            None,
        )),
        "stall" => {
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = tx.send(Bytes::from_static(
                b"data: {\"id\":\"primary\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            ));
            feed_forever(tx, Duration::from_millis(50), b": primary ping\n\n");
            Some(sse_response(rx, on_drop))
        }
        "error-event" => {
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = tx.send(Bytes::from_static(
                b": primary\n\ndata: {\"error\":{\"message\":\"primary overloaded\",\"type\":\"server_error\"}}\n\n",
            ));
            Some(sse_response(rx, on_drop))
        }
        _ => {
            let name = model.strip_prefix("stream-")?;
            let (tx, rx) = mpsc::unbounded_channel();
            match name.strip_suffix("-stall") {
                Some(name) => {
                    for n in 0..2 {
                        let _ = tx.send(content_chunk(name, &n.to_string()));
                    }
                    // Keep the stream open and silent until the gateway leaves.
                    tokio::spawn(async move {
                        tx.closed().await;
                    });
                }
                None => {
                    for n in 0..3 {
                        let _ = tx.send(content_chunk(name, &n.to_string()));
                    }
                    let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n"));
                }
            }
            Some(sse_response(rx, on_drop))
        }
    }
}

/// Service ids of [`failover_plan`].
pub const STUB_SERVICE: ServiceId = 0;
pub const DOWN_SERVICE: ServiceId = 1;
pub const MOCK_SERVICE: ServiceId = 2;

/// The one Model API of a [`failover_plan`].
pub struct ApiSpec {
    pub protocol: Protocol,
    pub model_service: ModelService,
    pub fallback: &'static [Target],
    pub failover: FailoverPolicy,
    pub timeouts: TimeoutOverrides,
}

pub const DEFAULT_FAILOVER: FailoverPolicy = FailoverPolicy {
    on_client_errors: false,
    on_context_length: false,
    budget_ms: 0,
    when_all_cooling: WhenAllCooling::Reject,
};

pub const NO_OVERRIDES: TimeoutOverrides = TimeoutOverrides {
    first_packet_ms: None,
    idle_ms: None,
    total_ms: None,
};

/// A stub target with this upstream model.
pub const fn stub(model: &'static str) -> Target {
    Target {
        service: STUB_SERVICE,
        model: Some(model),
    }
}

impl ApiSpec {
    /// A Single OpenAI Model API on `primary` with these fallbacks.
    pub fn single(primary: Target, fallback: &[Target]) -> ApiSpec {
        ApiSpec {
            protocol: Protocol::OpenAi,
            model_service: ModelService::Single(primary),
            fallback: Box::leak(fallback.to_vec().into_boxed_slice()),
            failover: DEFAULT_FAILOVER,
            timeouts: NO_OVERRIDES,
        }
    }
}

/// Every path ending in `/v1/messages` is route 1 (messages), anything else route 0 (chat).
fn match_any(_host: &str, path: &str, method: Method) -> RouteMatch {
    if !Methods::POST.contains(method) {
        return RouteMatch::MethodNotAllowed {
            model_api: 0,
            allowed: Methods::POST,
        };
    }
    let route = if path.ends_with("/v1/messages") { 1 } else { 0 };
    RouteMatch::Found { route, base_len: 0 }
}

/// A plan with one Model API (`api`) over services `stub` (at `upstream`),
/// `down` (a closed port) and `builtin-mock`.
pub fn failover_plan(upstream: SocketAddr, down: SocketAddr, api: ApiSpec) -> &'static Plan {
    let service = |name, base_url: String| Service {
        name,
        provider: Provider::OpenAi,
        base_url: leak_str(base_url),
        api_key_env: None,
        timeouts: ServiceTimeouts {
            connect_ms: 1000,
            first_packet_ms: 0,
            idle_ms: 0,
            total_ms: 0,
        },
        mock: None,
        options: ProviderOptions::DEFAULT,
    };
    let services: &'static [Service] = Box::leak(Box::new([
        service("stub", format!("http://{upstream}")),
        service("down", format!("http://{down}")),
        Service {
            name: "builtin-mock",
            provider: Provider::Mock,
            base_url: "",
            api_key_env: None,
            timeouts: ServiceTimeouts {
                connect_ms: 1000,
                first_packet_ms: 0,
                idle_ms: 0,
                total_ms: 0,
            },
            mock: Some(MockSettings {
                stream_chunks: 8,
                ..MOCK_SETTINGS
            }),
            options: ProviderOptions::DEFAULT,
        },
    ]));
    let mut model_api = model_api("failover", api.protocol, "/", 0, None, 0);
    model_api.model_service = api.model_service;
    model_api.fallback = api.fallback;
    model_api.failover = api.failover;
    model_api.timeouts = api.timeouts;
    let model_apis: &'static [ModelApi] = Box::leak(Box::new([model_api]));
    let routes: &'static [Route] = Box::leak(Box::new([
        route(
            0,
            "chat-completions",
            RouteKind::ChatCompletions,
            "/v1/chat/completions",
        ),
        route(0, "messages", RouteKind::Messages, "/v1/messages"),
    ]));
    leak(Plan {
        environment: "failover-test",
        gateway: GatewaySettings {
            listen: "127.0.0.1:0",
            max_request_bytes: 1024 * 1024,
            header_read_timeout_ms: 500,
            drain_grace_ms: 5000,
        },
        services,
        model_apis,
        routes,
        match_route: match_any,
    })
}

/// Stub and a gateway serving [`failover_plan`] with `api`.
pub async fn start_failover(api: ApiSpec) -> Harness {
    let stub = start_stub().await;
    let plan = failover_plan(stub.addr, closed_port().await, api);
    let gateway = Gateway::new(plan, vec![None, None, None]).expect("gateway");
    let gateway: &'static Gateway = leak(gateway);
    let (gateway_addr, handle) = Server::bind(gateway, "127.0.0.1:0")
        .await
        .expect("bind gateway");
    Harness {
        stub,
        gateway_addr,
        handle,
        gateway,
    }
}

impl Stub {
    /// The upstream models of the requests the stub has seen since the last call.
    pub fn models_seen(&mut self) -> Vec<String> {
        let mut models = Vec::new();
        while let Ok(seen) = self.seen.try_recv() {
            let model = serde_json::from_slice::<serde_json::Value>(&seen.body)
                .ok()
                .and_then(|v| v["model"].as_str().map(str::to_owned))
                .unwrap_or_default();
            models.push(model);
        }
        models
    }
}
