//! Providers, protocol conversion and usage records through a running gateway: every client protocol against upstreams speaking another.
//!
//! A standalone `gatesmith-mock` (answers every protocol by path) plays the
//! Anthropic, OpenAI and DashScope-native upstreams; a recording stub shows
//! exactly what reached an upstream (path, headers, bytes). Usage records
//! are read from a capturing sink installed on the gateway.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gatesmith_runtime::codegen::*;
use gatesmith_runtime::mock;
use gatesmith_runtime::proxy::Gateway;
use gatesmith_runtime::server::Server;
use gatesmith_runtime::usage_sink::{UsageRecord, UsageSink};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

const SERVICE_KEY: &str = "sk-service-key";
const CLIENT_KEY: &str = "sk-client-key-must-not-leak";

/// `(base path, protocol, service index, model rewrite)`.
const APIS: [(&str, Protocol, u16, Option<&str>); 8] = [
    ("/oa-anthropic", Protocol::OpenAi, 0, Some("claude-mock")),
    ("/an-openai", Protocol::Anthropic, 1, None),
    ("/oa-dashscope", Protocol::OpenAi, 2, Some("qwen-mock")),
    ("/oa-openai", Protocol::OpenAi, 1, None),
    ("/stub-oa-anthropic", Protocol::OpenAi, 3, Some("claude-x")),
    ("/stub-oa-openai", Protocol::OpenAi, 4, None),
    ("/stub-an-anthropic", Protocol::Anthropic, 3, None),
    (KEEP_BASE, Protocol::Anthropic, 4, None),
];

/// The one Model API with `stripBasePath: false`.
const KEEP_BASE: &str = "/keep-an-openai";

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

fn match_route(_host: &str, path: &str, _method: Method) -> RouteMatch {
    for (index, (base, protocol, _, _)) in APIS.iter().enumerate() {
        let Some(rest) = strip_base(path, base) else {
            continue;
        };
        let expected = match protocol {
            Protocol::OpenAi => "/v1/chat/completions",
            Protocol::Anthropic => "/v1/messages",
        };
        let model_api = u16::try_from(index).expect("few APIs");
        if rest != expected {
            return RouteMatch::NoRoute { model_api };
        }
        return RouteMatch::Found {
            route: model_api,
            base_len: u16::try_from(base.len()).expect("short"),
        };
    }
    RouteMatch::NotFound
}

fn service(name: &'static str, provider: Provider, base_url: String) -> Service {
    let mut options = ProviderOptions::DEFAULT;
    options.dashscope_native = provider == Provider::DashScope;
    options.default_max_tokens = 777;
    Service {
        name,
        provider,
        base_url: Box::leak(base_url.into_boxed_str()),
        api_key_env: Some("KEY"),
        timeouts: ServiceTimeouts {
            connect_ms: 1000,
            first_packet_ms: 0,
            idle_ms: 0,
            total_ms: 0,
        },
        mock: None,
        options,
    }
}

fn plan(mock: SocketAddr, stub: SocketAddr) -> &'static Plan {
    let services: &'static [Service] = Box::leak(Box::new([
        service(
            "anthropic-up",
            Provider::Anthropic,
            format!("http://{mock}"),
        ),
        service("openai-up", Provider::OpenAi, format!("http://{mock}")),
        service(
            "dashscope-up",
            Provider::DashScope,
            format!("http://{mock}"),
        ),
        service(
            "stub-anthropic",
            Provider::Anthropic,
            format!("http://{stub}"),
        ),
        service("stub-openai", Provider::OpenAi, format!("http://{stub}")),
    ]));
    let model_apis: Vec<ModelApi> = APIS
        .iter()
        .map(|(base, protocol, service, model)| ModelApi {
            name: &base[1..],
            use_case: UseCase::TextGeneration,
            protocol: *protocol,
            resource_group: "default",
            base_path: base,
            strip_base_path: *base != KEEP_BASE,
            monitoring: Monitoring {
                metrics: false,
                logs: false,
                traces: false,
                record_request: false,
                record_response: false,
            },
            model_service: ModelService::Single(Target {
                service: *service,
                model: *model,
            }),
            fallback: &[],
            failover: FailoverPolicy {
                on_client_errors: false,
                on_context_length: false,
                budget_ms: 0,
                when_all_cooling: WhenAllCooling::Reject,
            },
            timeouts: TimeoutOverrides {
                first_packet_ms: None,
                idle_ms: None,
                total_ms: None,
            },
        })
        .collect();
    let routes: Vec<Route> = APIS
        .iter()
        .enumerate()
        .map(|(index, (_, protocol, _, _))| Route {
            model_api: u16::try_from(index).expect("few"),
            name: match protocol {
                Protocol::OpenAi => "chat-completions",
                Protocol::Anthropic => "messages",
            },
            kind: match protocol {
                Protocol::OpenAi => RouteKind::ChatCompletions,
                Protocol::Anthropic => RouteKind::Messages,
            },
            path: match protocol {
                Protocol::OpenAi => "/v1/chat/completions",
                Protocol::Anthropic => "/v1/messages",
            },
            methods: Methods::POST,
        })
        .collect();
    leak(Plan {
        environment: "test",
        gateway: GatewaySettings {
            listen: "127.0.0.1:0",
            max_request_bytes: 1024 * 1024,
            header_read_timeout_ms: 2000,
            drain_grace_ms: 1000,
        },
        services,
        model_apis: Box::leak(model_apis.into_boxed_slice()),
        routes: Box::leak(routes.into_boxed_slice()),
        match_route,
    })
}

/// What reached the recording stub.
#[derive(Debug, Clone)]
struct Seen {
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

type SeenLog = Arc<Mutex<Vec<Seen>>>;

/// Records each request; answers Anthropic JSON on `/v1/messages`, OpenAI JSON otherwise.
async fn start_stub() -> (SocketAddr, SeenLog) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
    let addr = listener.local_addr().expect("addr");
    let seen: SeenLog = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let path_and_query = parts
                            .uri
                            .path_and_query()
                            .map(|pq| pq.as_str().to_owned())
                            .unwrap_or_default();
                        let answer = if path_and_query.starts_with("/v1/messages") {
                            json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                                   "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                                   "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 1}})
                        } else {
                            json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
                        };
                        log.lock().expect("lock").push(Seen {
                            path_and_query,
                            headers: parts.headers,
                            body,
                        });
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(answer.to_string())))
                                .expect("response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

#[derive(Default)]
struct CapturingSink(Mutex<Vec<UsageRecord>>);

impl UsageSink for CapturingSink {
    fn record(&self, record: &UsageRecord) {
        self.0.lock().expect("lock").push(record.clone());
    }
}

struct Harness {
    gateway: SocketAddr,
    stub_seen: SeenLog,
    records: Arc<CapturingSink>,
}

impl Harness {
    /// The records so far, waiting briefly for the one a finished body sends on drop.
    async fn records(&self, at_least: usize) -> Vec<UsageRecord> {
        for _ in 0..100 {
            let records = self.records.0.lock().expect("lock").clone();
            if records.len() >= at_least {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.records.0.lock().expect("lock").clone()
    }
}

async fn start() -> Harness {
    let mock_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
    let mock_addr = mock_listener.local_addr().expect("addr");
    let settings = MockSettings {
        latency_ms: 0,
        stream_chunks: 4,
        chunk_delay_ms: 0,
        completion_tokens: 8,
        fault: None,
    };
    tokio::spawn(mock::server::serve(mock_listener, settings));
    let (stub_addr, stub_seen) = start_stub().await;
    let plan = plan(mock_addr, stub_addr);
    let keys = vec![Some(SERVICE_KEY.to_owned()); plan.services.len()];
    let gateway: &'static Gateway = leak(Gateway::new(plan, keys).expect("gateway"));
    let records = Arc::new(CapturingSink::default());
    gateway.usage().set_extra(records.clone());
    let (addr, handle) = Server::bind(gateway, "127.0.0.1:0").await.expect("bind");
    std::mem::forget(handle);
    Harness {
        gateway: addr,
        stub_seen,
        records,
    }
}

async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, HeaderMap, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::post(path)
        .header("host", "gw.test")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CLIENT_KEY}"))
        .header("x-api-key", CLIENT_KEY);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    (status, headers, bytes)
}

fn json_of(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("JSON body, got {}", String::from_utf8_lossy(bytes)))
}

/// The `data:` payloads of an SSE body, parsed (the `[DONE]` marker as a string).
fn events(bytes: &Bytes) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|line| line.strip_prefix("data: ").or(line.strip_prefix("data:")))
        })
        .map(|data| serde_json::from_str(data).unwrap_or(Value::String(data.to_owned())))
        .collect()
}

const CACHE_HEADERS: [(&str, &str); 2] = [
    ("x-mock-cache-read-tokens", "9000"),
    ("x-mock-cache-creation-tokens", "500"),
];

#[tokio::test]
async fn openai_client_gets_an_anthropic_answer_with_tool_calls_and_exact_cache_usage() {
    let h = start().await;
    let headers = [
        CACHE_HEADERS[0],
        CACHE_HEADERS[1],
        ("x-mock-tool-calls", "2"),
    ];
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}],
                      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]});
    let (status, _, bytes) = post(
        h.gateway,
        "/oa-anthropic/v1/chat/completions",
        &headers,
        body,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let answer = json_of(&bytes);
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let calls = answer["choices"][0]["message"]["tool_calls"]
        .as_array()
        .expect("tool calls");
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|call| call["type"] == "function"));
    let usage = &answer["usage"];
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 9000);
    let records = h.records(1).await;
    let record = &records[0];
    assert_eq!(
        (record.usage.cache_read, record.usage.cache_creation),
        (9000, 500)
    );
    assert_eq!(
        usage["prompt_tokens"].as_u64(),
        Some(record.usage.input + 9500),
        "OpenAI's prompt count includes both cache counts"
    );
    assert_eq!(
        usage["completion_tokens"].as_u64(),
        Some(record.usage.output)
    );
    assert_eq!(
        (record.service, record.model.as_str()),
        ("anthropic-up", "claude-mock")
    );
    assert!(!record.streamed && !record.truncated && !record.cancelled && record.reported);
}

#[tokio::test]
async fn openai_client_streams_from_anthropic_with_parallel_tools_and_usage_when_asked() {
    let h = start().await;
    let headers = [
        CACHE_HEADERS[0],
        CACHE_HEADERS[1],
        ("x-mock-tool-calls", "2"),
    ];
    let body = json!({"model": "gpt", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "hi"}],
                      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]});
    let (status, response_headers, bytes) = post(
        h.gateway,
        "/oa-anthropic/v1/chat/completions",
        &headers,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        response_headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream")
    );
    let events = events(&bytes);
    assert_eq!(events.last(), Some(&Value::String("[DONE]".into())));
    // Tool-call fragments are reassembled per index into two whole calls.
    let mut arguments = [String::new(), String::new()];
    for event in &events {
        for call in event["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().expect("index") as usize;
            arguments[index].push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    for text in &arguments {
        assert!(
            serde_json::from_str::<Value>(text).is_ok(),
            "arguments {text:?}"
        );
    }
    let usage_chunk = events
        .iter()
        .find(|event| {
            event["usage"].is_object() && event["choices"].as_array().is_some_and(Vec::is_empty)
        })
        .expect("the client asked for the usage chunk");
    let record = h.records(1).await[0].clone();
    assert!(record.streamed && !record.truncated && !record.cancelled);
    assert_eq!(
        usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"],
        9000
    );
    assert_eq!(
        usage_chunk["usage"]["prompt_tokens"].as_u64(),
        Some(record.usage.input + 9500)
    );
    assert_eq!(
        usage_chunk["usage"]["completion_tokens"].as_u64(),
        Some(record.usage.output)
    );
}

#[tokio::test]
async fn anthropic_client_gets_openai_answers_json_and_streamed() {
    let h = start().await;
    let body = json!({"model": "gpt-mock", "max_tokens": 64, "system": "be brief",
                      "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, bytes) = post(
        h.gateway,
        "/an-openai/v1/messages",
        &CACHE_HEADERS,
        body.clone(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let answer = json_of(&bytes);
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["type"], "text");
    assert_eq!(answer["usage"]["cache_read_input_tokens"], 9000);
    let record = h.records(1).await[0].clone();
    assert_eq!(
        answer["usage"]["input_tokens"].as_u64(),
        Some(record.usage.input)
    );
    assert_eq!(record.usage.cache_read, 9000);

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let (status, _, bytes) = post(
        h.gateway,
        "/an-openai/v1/messages",
        &CACHE_HEADERS,
        streamed,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(text.contains("event: content_block_delta"));
    assert!(
        text.trim_end()
            .ends_with(r#"data: {"type":"message_stop"}"#),
        "{text}"
    );
    let record = h.records(2).await[1].clone();
    assert!(record.streamed && record.reported);
    assert_eq!(record.usage.cache_read, 9000);
}

#[tokio::test]
async fn openai_client_is_served_by_dashscope_native_json_and_streamed() {
    let h = start().await;
    let body = json!({"model": "qwen", "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, bytes) = post(
        h.gateway,
        "/oa-dashscope/v1/chat/completions",
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let answer = json_of(&bytes);
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "qwen-mock");
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let record = h.records(1).await[0].clone();
    assert_eq!(
        answer["usage"]["completion_tokens"].as_u64(),
        Some(record.usage.output)
    );

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let (status, _, bytes) = post(
        h.gateway,
        "/oa-dashscope/v1/chat/completions",
        &[],
        streamed,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = events(&bytes);
    assert_eq!(events.last(), Some(&Value::String("[DONE]".into())));
    assert!(
        events.iter().all(|event| !event["usage"].is_object()),
        "usage not asked for"
    );
    let text: String = events
        .iter()
        .filter_map(|event| event["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
    );
    let record = h.records(2).await[1].clone();
    assert!(record.reported && record.usage.output > 0);
}

#[tokio::test]
async fn the_usage_chunk_reaches_an_openai_client_only_when_it_asked() {
    let h = start().await;
    let body = json!({"model": "gpt-mock", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (_, _, bytes) = post(
        h.gateway,
        "/oa-openai/v1/chat/completions",
        &[],
        body.clone(),
    )
    .await;
    let events_unasked = events(&bytes);
    assert!(
        events_unasked
            .iter()
            .all(|event| !event["usage"].is_object())
    );
    assert_eq!(events_unasked.last(), Some(&Value::String("[DONE]".into())));
    let record = h.records(1).await[0].clone();
    assert!(
        record.reported && record.usage.total > 0,
        "metered even though dropped"
    );

    let mut asked = body;
    asked["stream_options"] = json!({"include_usage": true});
    let (_, _, bytes) = post(h.gateway, "/oa-openai/v1/chat/completions", &[], asked).await;
    let usage_chunks: Vec<_> = events(&bytes)
        .into_iter()
        .filter(|event| event["usage"].is_object())
        .collect();
    assert_eq!(usage_chunks.len(), 1);
    assert_eq!(
        usage_chunks[0]["usage"]["total_tokens"].as_u64(),
        Some(record.usage.total)
    );
}

#[tokio::test]
async fn a_cut_converted_stream_ends_with_an_error_event_and_still_records_usage() {
    let h = start().await;
    let headers = [
        ("x-mock-fault", "cut-after-chunks:2"),
        ("x-mock-chunks", "6"),
    ];
    let body =
        json!({"model": "gpt", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, bytes) = post(
        h.gateway,
        "/oa-anthropic/v1/chat/completions",
        &headers,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = events(&bytes);
    assert!(
        !events.contains(&Value::String("[DONE]".into())),
        "a cut is never a clean end"
    );
    assert!(
        events
            .last()
            .is_some_and(|event| event["error"].is_object()),
        "{events:?}"
    );
    let record = h.records(1).await[0].clone();
    assert!(record.truncated && !record.cancelled);
    assert!(
        record.reported && record.usage.input > 0,
        "message_start's usage is kept"
    );
}

#[tokio::test]
async fn upstream_credentials_follow_the_provider_and_the_client_key_never_travels() {
    let h = start().await;
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, _) = post(
        h.gateway,
        "/stub-oa-anthropic/v1/chat/completions",
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = post(h.gateway, "/stub-oa-openai/v1/chat/completions", &[], body).await;
    assert_eq!(status, StatusCode::OK);
    let seen = h.stub_seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    let anthropic = &seen[0];
    assert_eq!(anthropic.path_and_query, "/v1/messages");
    assert_eq!(anthropic.headers["x-api-key"], SERVICE_KEY);
    assert_eq!(anthropic.headers["anthropic-version"], "2023-06-01");
    assert!(anthropic.headers.get("authorization").is_none());
    let sent: Value = serde_json::from_slice(&anthropic.body).expect("json");
    assert_eq!(
        (sent["model"].as_str(), sent["max_tokens"].as_u64()),
        (Some("claude-x"), Some(777))
    );
    let openai = &seen[1];
    assert_eq!(
        openai.headers["authorization"],
        format!("Bearer {SERVICE_KEY}").as_str()
    );
    assert!(openai.headers.get("x-api-key").is_none());
    assert_eq!(openai.headers["accept-encoding"], "identity");
    for request in &seen {
        for value in request.headers.values() {
            assert!(
                !value.to_str().unwrap_or("").contains(CLIENT_KEY),
                "client key forwarded"
            );
        }
    }
}

#[tokio::test]
async fn same_protocol_requests_forward_the_client_bytes_unchanged() {
    let h = start().await;
    let raw = r#"{ "messages":[{"role":"user","content":"h\u00e9"}], "model" : "gpt",  "temperature":0.5 }"#;
    let stream = TcpStream::connect(h.gateway).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = Request::post("/stub-oa-openai/v1/chat/completions")
        .header("host", "gw.test")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(raw.as_bytes())))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let answer = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(json_of(&answer)["choices"][0]["message"]["content"], "ok");
    let anthropic_body = json!({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let raw_anthropic = anthropic_body.to_string();
    let (status, _, _) = post(
        h.gateway,
        "/stub-an-anthropic/v1/messages",
        &[("anthropic-version", "2023-01-01")],
        anthropic_body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let seen = h.stub_seen.lock().expect("lock").clone();
    assert_eq!(
        seen[0].body.as_ref(),
        raw.as_bytes(),
        "OpenAI bytes unchanged"
    );
    assert_eq!(
        seen[1].body.as_ref(),
        raw_anthropic.as_bytes(),
        "Anthropic bytes unchanged"
    );
    assert_eq!(
        seen[1].headers["anthropic-version"], "2023-01-01",
        "the client's version kept"
    );
    let records = h.records(2).await;
    assert_eq!(
        records[0].usage.total, 4,
        "usage read from a passed-through answer"
    );
    assert_eq!(records[1].usage.total, 4);
}

#[tokio::test]
async fn a_kept_base_path_sits_between_the_service_url_and_the_provider_path() {
    let h = start().await;
    let body =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, bytes) = post(h.gateway, "/keep-an-openai/v1/messages?beta=1", &[], body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_of(&bytes)["type"],
        "message",
        "converted back for the Anthropic client"
    );
    let seen = h.stub_seen.lock().expect("lock").clone();
    assert_eq!(
        seen[0].path_and_query,
        "/keep-an-openai/v1/chat/completions?beta=1"
    );
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_still_gets_one_cancelled_record() {
    let h = start().await;
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]});
    let request = post(
        h.gateway,
        "/oa-anthropic/v1/chat/completions",
        &[("x-mock-latency-ms", "5000")],
        body,
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), request)
            .await
            .is_err(),
        "the mock answers late"
    );
    let records = h.records(1).await;
    assert_eq!(records.len(), 1);
    assert!(records[0].cancelled && !records[0].truncated);
    assert_eq!(
        (records[0].service, records[0].model.as_str()),
        ("anthropic-up", "claude-mock")
    );
}
