//! Attempts, failover, cooldowns, the commit point and transparency headers, against stub upstreams on loopback.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use gatesmith_runtime::codegen::*;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use support::*;

const CHAT: &str = r#"{"model":"client-model","messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str =
    r#"{"model":"client-model","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

async fn chat(h: &Harness, body: &'static str) -> http::Response<Incoming> {
    send(h.gateway_addr, json_request("/v1/chat/completions", body)).await
}

async fn text(response: http::Response<Incoming>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("complete body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn header<'r>(response: &'r http::Response<Incoming>, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {:?}", response.headers()))
}

#[tokio::test]
async fn each_failure_class_fails_over_or_not_as_the_taxonomy_says() {
    // (primary model, fails over, status the client gets)
    let cases: [(&'static str, bool, u16); 16] = [
        ("status:500", true, 200),
        ("status:502", true, 200),
        ("status:503", true, 200),
        ("status:504", true, 200),
        ("status:529", true, 200),
        ("status:429", true, 200),
        ("status:408", true, 200),
        ("status:400", false, 400),
        ("status:401", false, 401),
        ("status:403", false, 403),
        ("status:404", false, 404),
        ("status:413", false, 413),
        ("status:422", false, 422),
        ("context", false, 400),
        ("error-event", true, 200),
        ("stall", true, 200),
    ];
    for (primary, fails_over, status) in cases {
        let mut api = ApiSpec::single(stub(primary), &[stub("fallback")]);
        api.timeouts.first_packet_ms = Some(200);
        let mut h = start_failover(api).await;
        let body = if matches!(primary, "error-event" | "stall") {
            STREAM
        } else {
            CHAT
        };
        let response = chat(&h, body).await;
        assert_eq!(response.status().as_u16(), status, "{primary}");
        let attempts = if fails_over { 2 } else { 1 };
        assert_eq!(
            header(&response, "x-gatesmith-attempts"),
            attempts.to_string(),
            "{primary}"
        );
        drop(text(response).await);
        let expected: Vec<&str> = if fails_over {
            vec![primary, "fallback"]
        } else {
            vec![primary]
        };
        assert_eq!(h.stub.models_seen(), expected, "{primary}");
    }
}

#[tokio::test]
async fn a_connect_error_fails_over_to_the_next_service() {
    let api = ApiSpec::single(
        Target {
            service: DOWN_SERVICE,
            model: None,
        },
        &[stub("fallback")],
    );
    let mut h = start_failover(api).await;
    let response = chat(&h, CHAT).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-gatesmith-service"), "stub");
    assert_eq!(header(&response, "x-gatesmith-attempts"), "2");
    drop(text(response).await);
    assert_eq!(h.stub.models_seen(), ["fallback"]);
}

#[tokio::test]
async fn client_errors_and_context_length_fail_over_only_when_configured() {
    for (primary, on_client_errors, on_context_length, fails_over) in [
        ("status:401", true, false, true),
        ("context", true, false, false),
        ("context", false, true, true),
        ("status:401", false, true, false),
    ] {
        let mut api = ApiSpec::single(stub(primary), &[stub("fallback")]);
        api.failover.on_client_errors = on_client_errors;
        api.failover.on_context_length = on_context_length;
        let mut h = start_failover(api).await;
        let response = chat(&h, CHAT).await;
        assert_eq!(response.status() == StatusCode::OK, fails_over, "{primary}");
        drop(text(response).await);
        assert_eq!(h.stub.models_seen().len(), 1 + usize::from(fails_over));
    }
}

#[tokio::test]
async fn every_target_failing_gives_the_last_error_after_one_attempt_each() {
    let api = ApiSpec::single(
        stub("status:503"),
        // The primary again and a repeat: neither is tried twice.
        &[
            stub("status:502"),
            stub("status:503"),
            stub("status:500"),
            stub("status:502"),
        ],
    );
    let mut h = start_failover(api).await;
    let response = chat(&h, CHAT).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(header(&response, "x-gatesmith-attempts"), "3");
    assert_eq!(header(&response, "x-gatesmith-model"), "status:500");
    assert_eq!(header(&response, "x-gatesmith-service"), "stub");
    assert_eq!(header(&response, "x-gatesmith-model-api"), "failover");
    // An OpenAI upstream's error reaches an OpenAI client as it was.
    assert_eq!(
        body_json(response).await["error"]["message"],
        "stub status 500"
    );
    assert_eq!(
        h.stub.models_seen(),
        ["status:503", "status:502", "status:500"]
    );
}

#[tokio::test]
async fn the_last_error_is_mapped_to_the_anthropic_format() {
    let mut api = ApiSpec::single(stub("status:529"), &[stub("status:429")]);
    api.protocol = Protocol::Anthropic;
    let h = start_failover(api).await;
    let response = send(
        h.gateway_addr,
        json_request(
            "/v1/messages",
            r#"{"model":"m","max_tokens":5,"messages":[]}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = body_json(response).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["message"], "stub status 429");
}

#[tokio::test]
async fn a_429_cools_its_target_down_and_later_requests_skip_it() {
    let api = ApiSpec::single(stub("status:429:ra:7"), &[stub("fallback")]);
    let mut h = start_failover(api).await;
    let first = chat(&h, CHAT).await;
    assert_eq!(header(&first, "x-gatesmith-attempts"), "2");
    drop(text(first).await);
    let second = chat(&h, CHAT).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(header(&second, "x-gatesmith-attempts"), "1");
    assert_eq!(header(&second, "x-gatesmith-model"), "fallback");
    drop(text(second).await);
    assert_eq!(
        h.stub.models_seen(),
        ["status:429:ra:7", "fallback", "fallback"]
    );
}

#[tokio::test]
async fn all_targets_cooling_is_a_503_with_the_soonest_retry_after() {
    let api = ApiSpec::single(stub("status:429:ra:7"), &[]);
    let mut h = start_failover(api).await;
    let first = chat(&h, CHAT).await;
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&first, "retry-after"), "7");
    drop(text(first).await);
    let second = chat(&h, CHAT).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = header(&second, "retry-after").parse().expect("seconds");
    assert!((6..=7).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&second, "x-gatesmith-model-api"), "failover");
    assert_eq!(
        body_json(second).await["error"]["code"],
        "all_targets_cooling"
    );
    assert_eq!(h.stub.models_seen(), ["status:429:ra:7"]);
}

#[tokio::test]
async fn wait_up_to_waits_for_the_soonest_recovery_then_tries_it() {
    let mut api = ApiSpec::single(stub("status:429:ra:1"), &[]);
    api.failover.when_all_cooling = WhenAllCooling::WaitUpTo { ms: 2000 };
    let mut h = start_failover(api).await;
    drop(text(chat(&h, CHAT).await).await);
    let started = Instant::now();
    let second = chat(&h, CHAT).await;
    let waited = started.elapsed();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    drop(text(second).await);
    assert_eq!(h.stub.models_seen().len(), 2);
}

#[tokio::test]
async fn the_budget_bounds_all_attempts_before_commit() {
    let mut api = ApiSpec::single(stub("slow-head"), &[stub("fallback")]);
    api.failover.budget_ms = 300;
    let h = start_failover(api).await;
    let started = Instant::now();
    let response = chat(&h, CHAT).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        waited >= Duration::from_millis(280) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(header(&response, "x-gatesmith-attempts"), "1");
}

#[tokio::test]
async fn a_stalled_primary_hands_the_client_the_fallback_stream_with_no_primary_byte() {
    let mut api = ApiSpec::single(stub("stall"), &[stub("stream-fallback")]);
    api.timeouts.first_packet_ms = Some(300);
    let mut h = start_failover(api).await;
    let started = Instant::now();
    let response = chat(&h, STREAM).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(header(&response, "x-gatesmith-model"), "stream-fallback");
    assert_eq!(header(&response, "x-gatesmith-attempts"), "2");
    let body = text(response).await;
    assert!(!body.contains("primary"), "primary bytes leaked: {body}");
    assert_eq!(body.matches("\"id\":\"fallback\"").count(), 3, "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    // The stalled primary's connection was closed.
    tokio::time::timeout(Duration::from_secs(1), h.stub.body_dropped.recv())
        .await
        .expect("the stalled primary was not dropped")
        .expect("stub alive");
}

#[tokio::test]
async fn an_error_event_before_content_fails_over_to_one_clean_stream() {
    let api = ApiSpec::single(stub("error-event"), &[stub("stream-fallback")]);
    let h = start_failover(api).await;
    let response = chat(&h, STREAM).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(!body.contains("error"), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
}

/// Streams one request to the built-in mock with `fault` and returns the body and the gateway.
async fn mock_stream_with_fault(protocol: Protocol, fault: &str) -> (String, Harness) {
    let mut api = ApiSpec::single(
        Target {
            service: MOCK_SERVICE,
            model: Some("mock-small"),
        },
        &[],
    );
    api.protocol = protocol;
    api.timeouts.idle_ms = Some(200);
    let h = start_failover(api).await;
    let (path, body) = match protocol {
        Protocol::OpenAi => ("/v1/chat/completions", STREAM),
        Protocol::Anthropic => (
            "/v1/messages",
            r#"{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    };
    let request = post(path)
        .header("x-mock-fault", fault)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    (text(response).await, h)
}

#[tokio::test]
async fn a_stream_cut_after_5_chunks_ends_with_the_openai_error_event() {
    let (body, h) = mock_stream_with_fault(Protocol::OpenAi, "cut-after-chunks:5").await;
    assert!(!body.contains("[DONE]"), "{body}");
    let last = body.trim_end().rsplit("\n\n").next().unwrap_or_default();
    assert!(last.starts_with("data: {\"error\":"), "{body}");
    let event: serde_json::Value =
        serde_json::from_str(last.trim_start_matches("data: ")).expect("JSON error event");
    assert_eq!(event["error"]["code"], "upstream_stream_cut");
    assert!(body.matches("\"content\":").count() >= 5, "{body}");
    assert_eq!(h.gateway.stats().truncated(), 1);
}

#[tokio::test]
async fn a_stream_cut_after_5_chunks_ends_with_the_anthropic_error_event() {
    let (body, h) = mock_stream_with_fault(Protocol::Anthropic, "cut-after-chunks:5").await;
    assert!(!body.contains("message_stop"), "{body}");
    let last = body.trim_end().rsplit("\n\n").next().unwrap_or_default();
    assert!(last.starts_with("event: error\ndata: "), "{body}");
    let event: serde_json::Value =
        serde_json::from_str(last.trim_start_matches("event: error\ndata: "))
            .expect("JSON error event");
    assert_eq!(event["type"], "error");
    assert_eq!(event["error"]["type"], "api_error");
    assert_eq!(h.gateway.stats().truncated(), 1);
}

#[tokio::test]
async fn an_idle_gap_after_commit_ends_with_a_timeout_error_event() {
    let started = Instant::now();
    let (body, h) = mock_stream_with_fault(Protocol::OpenAi, "stall-after-chunks:2:5000").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!body.contains("[DONE]"), "{body}");
    assert!(body.contains("\"code\":\"stream_idle_timeout\""), "{body}");
    assert_eq!(h.gateway.stats().truncated(), 1);
}

#[tokio::test]
async fn idle_timeout_on_the_stub_releases_the_upstream() {
    let mut api = ApiSpec::single(stub("stream-primary-stall"), &[]);
    api.timeouts.idle_ms = Some(200);
    let mut h = start_failover(api).await;
    let body = text(chat(&h, STREAM).await).await;
    assert_eq!(body.matches("\"id\":\"primary\"").count(), 2, "{body}");
    assert!(
        body.ends_with("\"code\":\"stream_idle_timeout\"}}\n\n"),
        "{body}"
    );
    tokio::time::timeout(Duration::from_secs(1), h.stub.body_dropped.recv())
        .await
        .expect("upstream kept open after the idle timeout")
        .expect("stub alive");
}

fn select_model(model: &str) -> Option<u16> {
    match model {
        "exact-model" => Some(0),
        m if m.starts_with("stream") => Some(1),
        _ => None,
    }
}

const RULES: &[ModelRule] = &[
    ModelRule {
        pattern: "exact-model",
        target: stub("rewritten"),
    },
    ModelRule {
        pattern: "stream*",
        target: Target {
            service: STUB_SERVICE,
            model: None,
        },
    },
];

fn by_model_name() -> ApiSpec {
    ApiSpec {
        model_service: ModelService::ByModelName {
            rules: RULES,
            select: select_model,
        },
        ..ApiSpec::single(stub("unused"), &[])
    }
}

#[tokio::test]
async fn an_unmatched_model_gets_404_model_not_found_naming_it() {
    let h = start_failover(by_model_name()).await;
    let response = chat(&h, CHAT).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("client-model")),
        "{body}"
    );
    // No model at all is the empty string, which no rule matches either.
    let response = chat(&h, r#"{"messages":[]}"#).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn transparency_headers_are_identical_for_streaming_and_non_streaming() {
    let mut h = start_failover(by_model_name()).await;
    let json = chat(&h, r#"{"model":"exact-model","messages":[]}"#).await;
    assert_eq!(json.status(), StatusCode::OK);
    let stream = chat(&h, r#"{"model":"stream-x","stream":true,"messages":[]}"#).await;
    assert_eq!(stream.status(), StatusCode::OK);
    for (response, model, rule) in [
        (&json, "rewritten", "exact-model"),
        (&stream, "stream-x", "stream*"),
    ] {
        assert_eq!(header(response, "x-gatesmith-model-api"), "failover");
        assert_eq!(header(response, "x-gatesmith-route"), "chat-completions");
        assert_eq!(header(response, "x-gatesmith-service"), "stub");
        assert_eq!(header(response, "x-gatesmith-model"), model);
        assert_eq!(header(response, "x-gatesmith-attempts"), "1");
        assert_eq!(header(response, "x-gatesmith-rule"), rule);
    }
    assert_eq!(json.headers()["content-type"], "application/json");
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop((text(json).await, text(stream).await));
    assert_eq!(h.stub.models_seen(), ["rewritten", "stream-x"]);
}

#[tokio::test]
async fn proportion_mode_never_sends_to_a_drained_target() {
    const WEIGHTS: &[WeightedTarget] = &[
        WeightedTarget {
            target: stub("drained"),
            weight: 0.0,
        },
        WeightedTarget {
            target: stub("a"),
            weight: 1.0,
        },
        WeightedTarget {
            target: stub("b"),
            weight: 1.0,
        },
    ];
    let api = ApiSpec {
        model_service: ModelService::ByProportion(WEIGHTS),
        ..ApiSpec::single(stub("unused"), &[])
    };
    let mut h = start_failover(api).await;
    for _ in 0..40 {
        drop(text(chat(&h, CHAT).await).await);
    }
    let seen = h.stub.models_seen();
    assert_eq!(seen.len(), 40);
    assert!(!seen.iter().any(|m| m == "drained"));
    assert!(
        seen.iter().any(|m| m == "a") && seen.iter().any(|m| m == "b"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn metrics_mode_avoids_a_failing_target() {
    const TARGETS: &[Target] = &[stub("status:500"), stub("healthy")];
    let api = ApiSpec {
        model_service: ModelService::ByMetrics(MetricsBalance {
            targets: TARGETS,
            objective: Objective::Latency,
            decay_ms: 60_000,
        }),
        ..ApiSpec::single(stub("unused"), &[])
    };
    let mut h = start_failover(api).await;
    for _ in 0..20 {
        drop(text(chat(&h, CHAT).await).await);
    }
    let seen = h.stub.models_seen();
    let failing = seen.iter().filter(|m| *m == "status:500").count();
    assert!(
        failing <= 1,
        "the failing target kept getting traffic: {seen:?}"
    );
}

#[tokio::test]
async fn a_non_streaming_body_cut_after_commit_aborts_the_connection() {
    let api = ApiSpec::single(
        Target {
            service: MOCK_SERVICE,
            model: None,
        },
        &[],
    );
    let h = start_failover(api).await;
    // The mock cuts a JSON answer in the middle of its body.
    let request = post("/v1/chat/completions")
        .header("x-mock-fault", "cut-after-chunks:1")
        .body(Full::new(Bytes::from_static(CHAT.as_bytes())))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let outcome = response.into_body().collect().await;
    assert!(outcome.is_err(), "a cut JSON body must not look complete");
    assert_eq!(h.gateway.stats().truncated(), 1);
}
