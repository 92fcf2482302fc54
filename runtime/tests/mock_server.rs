//! The standalone mock server over real sockets: answers, timed SSE frames, faults and header overrides.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatesmith_runtime::codegen::{MockFault, MockSettings};
use gatesmith_runtime::mock::server::serve;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

fn settings() -> MockSettings {
    MockSettings {
        latency_ms: 0,
        stream_chunks: 4,
        chunk_delay_ms: 0,
        completion_tokens: 12,
        fault: None,
    }
}

async fn start(settings: MockSettings) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(serve(listener, settings));
    address
}

fn post(path: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path).header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("valid request")
}

async fn send(address: SocketAddr, request: Request<Full<Bytes>>) -> Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("response head")
}

async fn json(response: Response<Incoming>) -> Value {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("whole body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("JSON body")
}

/// Body frames with their arrival time since `start`, then the error if the body ended with one.
async fn frames(
    response: Response<Incoming>,
    start: Instant,
) -> (Vec<(Duration, Bytes)>, Option<String>) {
    let mut body = response.into_body();
    let mut seen = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    seen.push((start.elapsed(), data));
                }
            }
            Err(error) => return (seen, Some(error.to_string())),
        }
    }
    (seen, None)
}

/// Concatenated delta contents of an OpenAI chat stream.
fn streamed_content(body: &str) -> String {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

const CHAT: &str = r#"{"model":"gpt-test","messages":[{"role":"user","content":"Say something"}]}"#;
const CHAT_STREAM: &str = r#"{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say something"}]}"#;

#[tokio::test]
async fn chat_completion_is_deterministic_openai_json() {
    let address = start(settings()).await;
    let first = send(address, post("/v1/chat/completions", &[], CHAT)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["content-type"], "application/json");
    assert!(first.headers().contains_key("x-mock-request-count"));
    let first = json(first).await;
    assert_eq!(first["object"], "chat.completion");
    assert_eq!(first["model"], "gpt-test");
    assert_eq!(
        first["choices"][0]["message"]["content"],
        "This is a deterministic answer from the gatesmith mock provider with real"
    );
    // 3 priming + 3 per message + ceil(13 chars / 4) = 10
    assert_eq!(first["usage"]["prompt_tokens"], 10);
    assert_eq!(first["usage"]["completion_tokens"], 12);
    let again = json(send(address, post("/prefix/v1/chat/completions", &[], CHAT)).await).await;
    assert_eq!(again, first, "same request, same answer, behind any prefix");
}

#[tokio::test]
async fn sse_chunks_arrive_as_separate_frames_over_time() {
    let address = start(settings()).await;
    let start_time = Instant::now();
    let response = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-chunk-delay-ms", "60")],
            CHAT_STREAM,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let (frames, error) = frames(response, start_time).await;
    assert_eq!(error, None);
    // role + 4 content + finish + usage + [DONE]
    assert_eq!(frames.len(), 8, "one frame per event");
    let first_content = frames[1].0;
    let last_content = frames[4].0;
    assert!(
        last_content - first_content >= Duration::from_millis(170),
        "3 delays of 60 ms separate 4 content chunks: {first_content:?} -> {last_content:?}"
    );
    let text: String = frames
        .iter()
        .map(|(_, data)| String::from_utf8_lossy(data))
        .collect();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let whole = json(send(address, post("/v1/chat/completions", &[], CHAT)).await).await;
    assert_eq!(
        streamed_content(&text),
        whole["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("?")
    );
    let usage_chunk: Value = serde_json::from_str(
        text.split("\n\n")
            .nth(6)
            .and_then(|e| e.strip_prefix("data: "))
            .unwrap_or("null"),
    )
    .expect("usage chunk is JSON");
    assert_eq!(usage_chunk["usage"], whole["usage"]);
}

#[tokio::test]
async fn status_fault_answers_with_the_protocol_error() {
    let address = start(settings()).await;
    let limited = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-fault", "status:429")],
            CHAT,
        ),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(json(limited).await["error"]["code"], "rate_limit_exceeded");

    let configured = start(MockSettings {
        fault: Some(MockFault::Status(529)),
        ..settings()
    })
    .await;
    let overloaded = send(configured, post("/v1/messages", &[], r#"{"messages":[]}"#)).await;
    assert_eq!(overloaded.status().as_u16(), 529);
    assert_eq!(json(overloaded).await["error"]["type"], "overloaded_error");
    let cleared = send(
        configured,
        post(
            "/v1/messages",
            &[("x-mock-fault", "none")],
            r#"{"messages":[]}"#,
        ),
    )
    .await;
    assert_eq!(
        cleared.status(),
        StatusCode::OK,
        "x-mock-fault: none overrides the configured fault"
    );
}

#[tokio::test]
async fn cut_fault_leaves_the_client_with_an_incomplete_body() {
    let address = start(settings()).await;
    let response = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-fault", "cut-after-chunks:2")],
            CHAT_STREAM,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (frames, error) = frames(response, Instant::now()).await;
    assert!(error.is_some(), "the client sees a broken chunked body");
    let text: String = frames
        .iter()
        .map(|(_, data)| String::from_utf8_lossy(data))
        .collect();
    assert!(!text.contains("[DONE]"));
    assert_eq!(
        streamed_content(&text),
        "This is a deterministic answer from",
        "2 chunks of 3 words"
    );

    let whole = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-fault", "cut-after-chunks:0")],
            CHAT,
        ),
    )
    .await;
    assert!(
        whole.into_body().collect().await.is_err(),
        "a JSON answer is cut mid-body"
    );
}

#[tokio::test]
async fn stalls_delay_the_head_or_the_first_chunk() {
    let address = start(settings()).await;
    let start_time = Instant::now();
    let response = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-fault", "stall-before-first-chunk:200")],
            CHAT_STREAM,
        ),
    )
    .await;
    let head = start_time.elapsed();
    assert!(
        head < Duration::from_millis(150),
        "head comes first: {head:?}"
    );
    let (frames, _) = frames(response, start_time).await;
    assert!(
        frames[0].0 >= Duration::from_millis(200),
        "first chunk waits: {:?}",
        frames[0].0
    );

    let start_time = Instant::now();
    let response = send(
        address,
        post(
            "/v1/chat/completions",
            &[
                ("x-mock-fault", "stall-before-head:150"),
                ("x-mock-latency-ms", "50"),
            ],
            CHAT,
        ),
    )
    .await;
    assert!(
        start_time.elapsed() >= Duration::from_millis(200),
        "latency and stall add up before the head"
    );
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_fault_inserts_a_broken_event_and_carries_on() {
    let address = start(settings()).await;
    let response = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-fault", "malformed-after-chunks:1")],
            CHAT_STREAM,
        ),
    )
    .await;
    let (frames, error) = frames(response, Instant::now()).await;
    assert_eq!(error, None);
    let events: Vec<String> = frames
        .iter()
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert_eq!(events[2], "data: {not json\n\n");
    assert_eq!(events.last().map(String::as_str), Some("data: [DONE]\n\n"));
}

#[tokio::test]
async fn header_overrides_shape_the_answer_and_typos_are_rejected() {
    let address = start(settings()).await;
    let short = json(
        send(
            address,
            post(
                "/v1/chat/completions",
                &[("x-mock-completion-tokens", "3")],
                CHAT,
            ),
        )
        .await,
    )
    .await;
    assert_eq!(short["choices"][0]["message"]["content"], "This is a");
    assert_eq!(short["usage"]["completion_tokens"], 3);

    let typo = send(
        address,
        post("/v1/chat/completions", &[("x-mock-chunk", "3")], CHAT),
    )
    .await;
    assert_eq!(typo.status(), StatusCode::BAD_REQUEST);
    let message = json(typo).await["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("x-mock-chunk"), "{message}");

    let echoed = send(
        address,
        post(
            "/v1/chat/completions",
            &[
                ("x-mock-echo-headers", "true"),
                ("authorization", "Bearer sk-do-not-leak"),
            ],
            CHAT,
        ),
    )
    .await;
    assert_eq!(
        echoed.headers()["x-mock-authorization"],
        "present; scheme=Bearer"
    );
    let names = echoed.headers()["x-mock-received-headers"]
        .to_str()
        .unwrap_or_default();
    assert!(names.contains("authorization") && !names.contains("sk-do-not-leak"));
}

#[tokio::test]
async fn request_count_increases_per_request() {
    let address = start(settings()).await;
    let count = |response: &Response<Incoming>| -> u64 {
        response.headers()["x-mock-request-count"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let first = count(&send(address, post("/v1/chat/completions", &[], CHAT)).await);
    let second = count(&send(address, post("/v1/chat/completions", &[], CHAT)).await);
    assert!(first >= 1 && second > first, "{first} then {second}");
}

#[tokio::test]
async fn bad_requests_and_unknown_paths_get_openai_errors() {
    let address = start(settings()).await;
    let missing = send(
        address,
        post("/v1/chat/completions", &[], r#"{"model":"m"}"#),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json(missing).await["error"]["type"],
        "invalid_request_error"
    );
    let bad_anthropic = send(address, post("/v1/messages", &[], "{not json")).await;
    assert_eq!(bad_anthropic.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(bad_anthropic).await["type"], "error");
    let unknown = send(address, post("/v1/embeddings", &[], CHAT)).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json(unknown).await["error"]["message"],
        "Invalid URL (POST /v1/embeddings)"
    );
    let health = send(
        address,
        Request::get("/healthz")
            .body(Full::new(Bytes::new()))
            .expect("request"),
    )
    .await;
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let address = start(settings()).await;
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let request = Request::post(format!("http://{address}/v1/chat/completions"))
        .body(Full::new(Bytes::from_static(CHAT.as_bytes())))
        .expect("request");
    let response = sender.send_request(request).await.expect("h2 response");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(json(response).await["object"], "chat.completion");
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .body(Full::new(Bytes::new()))
        .expect("valid request")
}

#[tokio::test]
async fn stats_count_attempts_per_path_on_arrival_and_reset_clears_them() {
    let address = start(settings()).await;
    assert_eq!(
        json(send(address, get("/__mock/stats")).await).await,
        serde_json::json!({"requests": 0, "by_path": {}})
    );
    send(address, post("/v1/chat/completions", &[], CHAT)).await;
    send(address, post("/llm/v1/chat/completions", &[], CHAT)).await;
    send(address, post("/llm/v1/chat/completions?x=1", &[], CHAT)).await;
    // A request that fails is an attempt too; a stalled one counts before its head.
    send(
        address,
        post("/v1/messages", &[("x-mock-fault", "status:503")], CHAT),
    )
    .await;
    let stalled = tokio::spawn(send(
        address,
        post(
            "/stalled/v1/chat/completions",
            &[("x-mock-fault", "stall-before-head:2000")],
            CHAT,
        ),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        json(send(address, get("/__mock/stats")).await).await,
        serde_json::json!({"requests": 5, "by_path": {
            "/v1/chat/completions": 1,
            "/llm/v1/chat/completions": 2,
            "/v1/messages": 1,
            "/stalled/v1/chat/completions": 1,
        }})
    );
    stalled.abort();

    let reset = send(
        address,
        Request::post("/__mock/reset")
            .body(Full::new(Bytes::new()))
            .expect("valid request"),
    )
    .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(
        json(send(address, get("/__mock/stats")).await).await,
        serde_json::json!({"requests": 0, "by_path": {}})
    );
}

#[tokio::test]
async fn error_event_fault_ends_the_stream_with_the_protocols_error_event() {
    let address = start(settings()).await;
    let response = send(
        address,
        post(
            "/v1/chat/completions",
            &[("x-mock-fault", "error-after-chunks:2")],
            CHAT_STREAM,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (seen, error) = frames(response, Instant::now()).await;
    assert_eq!(error, None, "the body ends cleanly after the error event");
    let body: String = seen
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    let data: Vec<&str> = body
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .collect();
    let content_events = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|text| !text.is_empty())
        })
        .count();
    assert_eq!(
        content_events, 2,
        "2 content chunks, then the error: {body}"
    );
    assert!(!streamed_content(&body).is_empty());
    let last: Value = serde_json::from_str(data.last().copied().unwrap_or_default())
        .expect("the last event is JSON");
    assert!(last["error"]["message"].is_string(), "{body}");
    assert!(!body.contains("[DONE]"), "{body}");

    let anthropic = send(
        address,
        post(
            "/v1/messages",
            &[("x-mock-fault", "error-after-chunks:0")],
            r#"{"model":"claude-test","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    )
    .await;
    let (seen, _) = frames(anthropic, Instant::now()).await;
    let body: String = seen
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    assert!(
        body.ends_with("\n\n") && body.contains("event: error\n"),
        "{body}"
    );
    assert!(
        !body.contains("content_block_delta"),
        "no content before the error: {body}"
    );
    assert!(!body.contains("message_stop"), "{body}");
}

#[tokio::test]
async fn context_length_fault_answers_400_saying_the_prompt_is_too_long() {
    let address = start(MockSettings {
        fault: Some(MockFault::ContextLength),
        ..settings()
    })
    .await;
    let openai = send(address, post("/v1/chat/completions", &[], CHAT)).await;
    assert_eq!(openai.status(), StatusCode::BAD_REQUEST);
    let body = json(openai).await;
    assert_eq!(body["error"]["code"], "context_length_exceeded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum context length")),
        "{body}"
    );
    let anthropic = send(
        address,
        post(
            "/v1/messages",
            &[],
            r#"{"model":"claude-test","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    )
    .await;
    assert_eq!(anthropic.status(), StatusCode::BAD_REQUEST);
    let body = json(anthropic).await;
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("prompt is too long")),
        "{body}"
    );
}
