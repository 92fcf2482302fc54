//! The in-process mock as the gateway calls it: `mock::respond` on a buffered request.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gatesmith_runtime::codegen::{MockFault, MockSettings};
use gatesmith_runtime::mock::respond;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

fn settings() -> MockSettings {
    MockSettings {
        latency_ms: 0,
        stream_chunks: 2,
        chunk_delay_ms: 0,
        completion_tokens: 6,
        fault: None,
    }
}

fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> Request<Bytes> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Bytes::from_static(body.as_bytes()))
        .expect("valid request")
}

const MESSAGES: &str = r#"{"model":"claude-test","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;

#[tokio::test]
async fn anthropic_stream_frames_are_typed_events() {
    let response = respond(
        &settings(),
        request(Method::POST, "/anthropic/v1/messages", &[], MESSAGES),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut names = Vec::new();
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        let data = frame
            .expect("no error frame")
            .into_data()
            .unwrap_or_default();
        let event = String::from_utf8_lossy(&data).into_owned();
        let (name, json) = event
            .strip_prefix("event: ")
            .and_then(|e| e.trim_end().split_once("\ndata: "))
            .expect("one SSE event per frame");
        let json: Value = serde_json::from_str(json).expect("event data is JSON");
        if let Some(piece) = json["delta"]["text"].as_str() {
            text.push_str(piece);
        }
        names.push(name.to_owned());
    }
    assert_eq!(names.len(), 8, "{names:?}");
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert_eq!(text, "This is a deterministic answer from");
}

#[tokio::test]
async fn configured_latency_delays_the_head() {
    let slow = MockSettings {
        latency_ms: 120,
        ..settings()
    };
    let start = Instant::now();
    let response = respond(
        &slow,
        request(
            Method::POST,
            "/v1/completions",
            &[],
            r#"{"model":"m","prompt":"x"}"#,
        ),
    )
    .await;
    assert!(start.elapsed() >= Duration::from_millis(120));
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["object"], "text_completion");
    assert_eq!(
        json["choices"][0]["text"],
        "This is a deterministic answer from"
    );
}

#[tokio::test]
async fn configured_malformed_fault_breaks_a_json_answer() {
    let faulty = MockSettings {
        fault: Some(MockFault::MalformedAfterChunks { chunks: 3 }),
        ..settings()
    };
    let chat = r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#;
    let response = respond(
        &faulty,
        request(Method::POST, "/v1/chat/completions", &[], chat),
    )
    .await;
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "the answer is not valid JSON"
    );
    assert!(String::from_utf8_lossy(&body).contains("{not json"));
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let response = respond(
        &settings(),
        request(Method::GET, "/v1/chat/completions", &[], ""),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
}
