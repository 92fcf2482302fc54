//! Raw HTTP against generated gateways: the error answers and request handling clients depend on.

use std::time::{Duration, Instant};

use gatesmith_e2e::http::sse_data;
use gatesmith_e2e::{Gateway, RawRequest, RawResponse};
use serde_json::{Value, json};

const QUICKSTART: &str = "specs/quickstart";

fn chat_request(prompt: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
}

/// An OpenAI error body: `{"error": {"message": "...", "type": "...", ...}}`.
fn assert_openai_error(response: &RawResponse, status: u16) -> Value {
    assert_eq!(response.status, status, "body: {}", response.text());
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "error content-type {:?}",
        response.header("content-type")
    );
    let body = response.json();
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no error.message in {body}"
    );
    assert!(error["type"].is_string(), "no error.type in {body}");
    body
}

#[test]
fn unknown_path_gets_a_404_openai_error() {
    let gateway = Gateway::start(QUICKSTART);
    let response =
        RawRequest::post_json("/v1/no-such-endpoint", &chat_request("hi")).send(gateway.addr());
    assert_openai_error(&response, 404);
    let response = RawRequest::get("/").send(gateway.addr());
    assert_openai_error(&response, 404);
}

#[test]
fn wrong_method_gets_a_405_with_allow_post() {
    let gateway = Gateway::start(QUICKSTART);
    let response = RawRequest::get("/v1/chat/completions").send(gateway.addr());
    assert_openai_error(&response, 405);
    assert_eq!(response.header("allow"), Some("POST"));
}

#[test]
fn invalid_json_body_gets_a_400_openai_error() {
    let gateway = Gateway::start(QUICKSTART);
    let response = RawRequest::new("POST", "/v1/chat/completions")
        .header("Content-Type", "application/json")
        .body(b"{\"model\": \"gpt-4o-mini\", \"messages\": [".to_vec())
        .send(gateway.addr());
    assert_openai_error(&response, 400);
}

#[test]
fn default_limit_accepts_a_4_mib_prompt() {
    let gateway = Gateway::start(QUICKSTART);
    let prompt = "a".repeat(4 * 1024 * 1024);
    let response =
        RawRequest::post_json("/v1/chat/completions", &chat_request(&prompt)).send(gateway.addr());
    assert_eq!(response.status, 200, "body: {}", response.text());
    let body = response.json();
    // ceil(4 MiB / 4) + 3 per message + 3: the mock saw the whole prompt.
    assert_eq!(
        body["usage"]["prompt_tokens"],
        json!(1024 * 1024 + 6),
        "{body}"
    );
}

#[test]
fn body_over_the_limit_gets_a_413_openai_error() {
    let gateway = Gateway::e2e();
    let prompt = "a".repeat(2 * 1024 * 1024);
    let request = RawRequest::post_json("/v1/chat/completions", &chat_request(&prompt));
    let response = request.send(gateway.addr());
    assert_openai_error(&response, 413);

    // Without Content-Length the gateway must count while reading and stop at the limit.
    let body = chat_request(&prompt).to_string().into_bytes();
    let response = RawRequest::new("POST", "/v1/chat/completions")
        .header("Content-Type", "application/json")
        .chunked_body(body, 64 * 1024)
        .send(gateway.addr());
    assert_openai_error(&response, 413);

    // Just under the limit still works.
    let response = RawRequest::post_json(
        "/v1/chat/completions",
        &chat_request(&"a".repeat(900 * 1024)),
    )
    .send(gateway.addr());
    assert_eq!(response.status, 200, "body: {}", response.text());
}

#[test]
fn host_matching_ignores_the_port() {
    let gateway = Gateway::e2e();
    let model_for_host = |host: &str| {
        let response = RawRequest::post_json("/v1/chat/completions", &chat_request("hi"))
            .host(host)
            .send(gateway.addr());
        assert_eq!(response.status, 200, "Host {host}: {}", response.text());
        let model = response.json()["model"].clone();
        // The debugging headers name what served the request; they agree with the body.
        let api = if model == json!("hosted-model") {
            "hosted"
        } else {
            "chat"
        };
        assert_eq!(
            response.header("x-gatesmith-model-api"),
            Some(api),
            "Host {host}"
        );
        assert_eq!(
            response.header("x-gatesmith-service"),
            Some("mock"),
            "Host {host}"
        );
        assert_eq!(
            response.header("x-gatesmith-model").map(|m| json!(m)),
            Some(model.clone())
        );
        model
    };
    assert_eq!(model_for_host("api.example.test"), json!("hosted-model"));
    assert_eq!(
        model_for_host("api.example.test:8443"),
        json!("hosted-model")
    );
    assert_eq!(
        model_for_host("API.Example.Test:443"),
        json!("hosted-model")
    );
    assert_eq!(
        model_for_host("other.example.test:8443"),
        json!("e2e-model")
    );
}

#[test]
fn first_packet_timeout_answers_504_in_time() {
    let gateway = Gateway::e2e();
    let mut request = chat_request("hi");
    request["stream"] = json!(true);
    let started = Instant::now();
    let response = RawRequest::post_json("/v1/chat/completions", &request)
        .header("x-mock-fault", "stall-before-first-chunk:2000")
        .send(gateway.addr());
    let elapsed = started.elapsed();
    assert_openai_error(&response, 504);
    // firstPacketTimeoutMs is 300; the stall is 2000.
    assert!(elapsed < Duration::from_secs(2), "504 took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(250),
        "504 came before the timeout: {elapsed:?}"
    );

    // The same stream without the fault passes the first packet check.
    let response = RawRequest::post_json("/v1/chat/completions", &request).send(gateway.addr());
    assert_eq!(response.status, 200, "body: {}", response.text());
    assert_eq!(
        sse_data(&response.text()).last().map(String::as_str),
        Some("[DONE]")
    );
}

#[test]
fn upstream_down_gets_a_502_openai_error() {
    let gateway = Gateway::e2e();
    let started = Instant::now();
    let response = RawRequest::post_json("/down/v1/chat/completions", &chat_request("hi"))
        .send(gateway.addr());
    assert_openai_error(&response, 502);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "502 took {:?}",
        started.elapsed()
    );
}

#[test]
fn mock_faults_pass_through_as_status_codes() {
    let gateway = Gateway::e2e();
    let response = RawRequest::post_json("/v1/chat/completions", &chat_request("hi"))
        .header("x-mock-fault", "status:503")
        .send(gateway.addr());
    assert_openai_error(&response, 503);
}
