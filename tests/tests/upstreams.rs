//! The gateway in front of real HTTP upstreams (`provider: openai`): what the upstream receives, and streams passing through.

use std::time::{Duration, Instant};

use gatesmith_e2e::http::sse_data;
use gatesmith_e2e::stub_upstream::{StubReply, StubUpstream};
use gatesmith_e2e::{E2E_RECORDER_KEY, Gateway, RawRequest, RunningServer, mock_binary};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn base_path_is_stripped_and_the_service_key_replaces_the_clients() {
    let canned = json!({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": "client-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "from the stub"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}
    });
    let stub = StubUpstream::start("127.0.0.1:29311", StubReply::Json(canned.to_string()));
    let gateway = Gateway::e2e();
    let sent = json!({"model": "client-model", "messages": [{"role": "user", "content": "hi"}]});

    let response = RawRequest::post_json("/llm/v1/chat/completions?trace=1", &sent)
        .header("Authorization", "Bearer client-secret-must-not-leak")
        .send(gateway.addr());

    assert_eq!(response.status, 200, "body: {}", response.text());
    assert_eq!(
        response.json(),
        canned,
        "the upstream's answer passes through unchanged"
    );
    let received = stub
        .next_request(WAIT)
        .expect("the stub upstream received no request");
    assert_eq!(received.method, "POST");
    assert_eq!(
        received.target, "/v1/chat/completions?trace=1",
        "base path /llm must be stripped, query kept"
    );
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {E2E_RECORDER_KEY}").as_str()),
        "the service's key replaces the client's credentials"
    );
    let forwarded: Value =
        serde_json::from_slice(&received.body).expect("the forwarded body is JSON");
    assert_eq!(
        forwarded, sent,
        "no model rewrite configured: the body passes through"
    );
}

#[test]
fn standalone_mock_upstream_answers_and_streams_through_the_gateway() {
    let _mock = RunningServer::start(&mock_binary(), &["--listen", "127.0.0.1:29312"], &[]);
    let gateway = Gateway::e2e();
    let mut request =
        json!({"model": "client-model", "messages": [{"role": "user", "content": "hi"}]});

    let response =
        RawRequest::post_json("/standalone/v1/chat/completions", &request).send(gateway.addr());
    assert_eq!(response.status, 200, "body: {}", response.text());
    let body = response.json();
    assert_eq!(
        body["model"],
        json!("standalone-model"),
        "model rewritten before the upstream: {body}"
    );
    let content = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!content.is_empty(), "no content in {body}");

    // Four chunks 150 ms apart: the client must see the first long before the last.
    request["stream"] = json!(true);
    let mut stream = RawRequest::post_json("/standalone/v1/chat/completions", &request)
        .header("x-mock-chunks", "4")
        .header("x-mock-chunk-delay-ms", "150")
        .open(gateway.addr());
    assert_eq!(stream.status, 200);
    assert!(
        stream
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
    );
    assert!(
        stream
            .read_until_contains("\"content\":\"This", WAIT)
            .expect("read the stream")
    );
    let first_content_at = Instant::now();
    assert!(
        stream
            .read_until_contains("[DONE]", WAIT)
            .expect("read the stream"),
        "{}",
        stream.text_so_far()
    );
    let streaming_took = first_content_at.elapsed();
    assert!(
        streaming_took >= Duration::from_millis(300),
        "the stream arrived all at once ({streaming_took:?} from first content to [DONE]): something buffers it"
    );
    let streamed: String = sse_data(&stream.text_so_far())
        .iter()
        .filter(|data| data.as_str() != "[DONE]")
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        streamed, content,
        "streamed content concatenates to the non-streamed content"
    );
}
