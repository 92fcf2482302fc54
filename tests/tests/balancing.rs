//! Choosing the primary target through a generated gateway (`tests/specs/balancing`): by proportion, by model name, by metrics.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use gatesmith_e2e::{Gateway, KeepAliveConnection, MockUpstream, RawRequest, RawResponse};
use serde_json::{Value, json};

const SPEC: &str = "tests/specs/balancing";

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn header<'a>(response: &'a RawResponse, name: &str) -> &'a str {
    response.header(name).unwrap_or("<missing>")
}

/// Sends `total` requests to `path` over `connections` keep-alive connections
/// in parallel and counts them by the service that served them.
fn split(
    gateway: &Gateway,
    path: &str,
    total: usize,
    connections: usize,
) -> BTreeMap<String, usize> {
    let addr = gateway.addr();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let path = path.to_owned();
            let share = total / connections + usize::from(worker < total % connections);
            thread::spawn(move || {
                let mut connection =
                    KeepAliveConnection::open(addr).expect("connect to the gateway");
                let request = RawRequest::post_json(&path, &chat("client-model"));
                let mut counts = BTreeMap::new();
                for _ in 0..share {
                    let response = connection.send(&request).expect("a keep-alive exchange");
                    assert_eq!(response.status, 200, "{}", response.text());
                    let service = header(&response, "x-gatesmith-service").to_owned();
                    let model = response.json()["model"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    assert_eq!(
                        Some(model.as_str()),
                        service
                            .strip_prefix("mock-")
                            .map(|id| format!("weight-{id}"))
                            .as_deref(),
                        "the service header and the rewritten model name the same entry"
                    );
                    *counts.entry(service).or_insert(0) += 1;
                }
                counts
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for worker in workers {
        for (service, n) in worker.join().expect("a load thread panicked") {
            *counts.entry(service).or_insert(0) += n;
        }
    }
    counts
}

#[test]
fn weights_one_to_two_and_a_half_to_zero_split_traffic_whatever_the_listing_order() {
    // 3,500 requests per listing order keep this test quick; the 2% bound over
    // 30,000 picks in every order is the runtime's unit test of the picker. At
    // 3,500 requests one share's standard deviation is ~0.8 points, so a
    // 3-point bound (~4 sigma; tighter than 5% of 2.5/3.5) fails only on a real bias.
    const REQUESTS: usize = 3_500;
    let gateway = Gateway::start(SPEC);
    for path in [
        "/weights-abc/v1/chat/completions",
        "/weights-cba/v1/chat/completions",
    ] {
        let counts = split(&gateway, path, REQUESTS, 4);
        let share =
            |service: &str| counts.get(service).copied().unwrap_or(0) as f64 / REQUESTS as f64;
        assert_eq!(
            counts.get("mock-c"),
            None,
            "{path}: the zero-weight service got traffic: {counts:?}"
        );
        assert_eq!(
            counts.values().sum::<usize>(),
            REQUESTS,
            "{path}: {counts:?}"
        );
        let (expected_a, expected_b) = (1.0 / 3.5, 2.5 / 3.5);
        assert!(
            (share("mock-a") - expected_a).abs() <= 0.03
                && (share("mock-b") - expected_b).abs() <= 0.03,
            "{path}: split {counts:?} is not 1 : 2.5 (expected shares {expected_a:.3} / {expected_b:.3})"
        );
    }
}

#[test]
fn model_name_rules_resolve_by_the_documented_precedence() {
    let _echo = MockUpstream::start(29345, &[]);
    let gateway = Gateway::start(SPEC);
    // (client model, winning pattern, service, model the upstream answers with)
    let cases = [
        ("gpt-4o", "gpt-4o", "mock-a", "rule-exact-gpt-4o"),
        (
            "gpt-4o-mini",
            "gpt-4?-mini",
            "mock-a",
            "rule-gpt-4-any-mini",
        ),
        ("gpt-4o-2024", "gpt-4o*", "mock-b", "rule-gpt-4o-star"),
        ("gpt-4oo-mini", "gpt-4o*", "mock-b", "rule-gpt-4o-star"),
        ("gpt-3.5-turbo", "gpt-*", "mock-b", "rule-gpt-star"),
        // qwen* and *-max have 4 literal characters each: declaration order decides.
        ("qwen-max", "qwen*", "mock-a", "rule-qwen-star"),
        ("llama-max", "*-max", "mock-b", "rule-star-max"),
        ("mistral", "*", "mock-c", "rule-catch-all"),
        // A real upstream answers with the model it received: the rewrite reached its body.
        ("echo-1", "echo-*", "echo", "echo-rewritten"),
        ("pass-through-7", "pass-*", "echo", "pass-through-7"),
    ];
    let mut wrong = Vec::new();
    for (model, pattern, service, answered) in cases {
        let response = RawRequest::post_json("/by-name/v1/chat/completions", &chat(model))
            .send(gateway.addr());
        let body_model = serde_json::from_slice::<Value>(&response.body)
            .map(|body| body["model"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let got = (
            response.status,
            header(&response, "x-gatesmith-rule").to_owned(),
            header(&response, "x-gatesmith-service").to_owned(),
            body_model,
            header(&response, "x-gatesmith-model").to_owned(),
        );
        let expected = (
            200,
            pattern.to_owned(),
            service.to_owned(),
            answered.to_owned(),
            answered.to_owned(),
        );
        if got != expected {
            wrong.push(format!(
                "model {model:?}: expected (status, x-gatesmith-rule, x-gatesmith-service, body model, x-gatesmith-model) {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let response = RawRequest::post_json("/by-name-strict/v1/chat/completions", &chat("llama-3"))
        .send(gateway.addr());
    assert_eq!(
        response.status,
        404,
        "no rule and no `*`: {}",
        response.text()
    );
    let body = response.json();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("llama-3")),
        "an OpenAI error naming the model: {body}"
    );
    let matched = RawRequest::post_json(
        "/by-name-strict/v1/chat/completions",
        &chat("claude-3-5-sonnet"),
    )
    .send(gateway.addr());
    assert_eq!(matched.status, 200, "{}", matched.text());
    assert_eq!(matched.json()["model"], json!("strict-claude"));
}

/// Sends one request to the metrics Model API and returns the service that served it.
fn metrics_pick(gateway: &Gateway) -> String {
    let response = RawRequest::post_json("/by-metrics/v1/chat/completions", &chat("client-model"))
        .send(gateway.addr());
    assert_eq!(response.status, 200, "{}", response.text());
    header(&response, "x-gatesmith-service").to_owned()
}

fn share_of(picks: &[String], service: &str) -> f64 {
    picks.iter().filter(|pick| *pick == service).count() as f64 / picks.len().max(1) as f64
}

#[test]
fn metrics_mode_moves_traffic_off_a_slow_service_and_back_after_it_heals() {
    const DECAY: Duration = Duration::from_millis(1000); // decayMs in metrics.yaml
    let first = MockUpstream::start(29346, &["--latency-ms", "5"]);
    let _second = MockUpstream::start(29347, &["--latency-ms", "120"]);
    let gateway = Gateway::start(SPEC);

    // Warm-up: both get observed, then the fast one should carry the traffic.
    for _ in 0..20 {
        metrics_pick(&gateway);
    }
    let picks: Vec<String> = (0..50).map(|_| metrics_pick(&gateway)).collect();
    assert!(
        share_of(&picks, "first") >= 0.8,
        "after warm-up the 5 ms service should get >= 80%: {picks:?}"
    );

    // `first` turns slow (400 ms, worse than second's 120 ms).
    let first = first.restart(&["--latency-ms", "400"]);
    let slowed_at = Instant::now();
    let mut during = Vec::new();
    while slowed_at.elapsed() < DECAY {
        during.push(metrics_pick(&gateway));
    }
    let after: Vec<String> = (0..10).map(|_| metrics_pick(&gateway)).collect();
    assert!(
        share_of(&after, "second") >= 0.8,
        "within one decay window ({DECAY:?}) of `first` turning slow, traffic should move to `second`; \
         during the window: {during:?}, after it: {after:?}"
    );

    // `first` heals: decayed observations let it win its traffic back.
    let _first = first.restart(&["--latency-ms", "5"]);
    let healed_at = Instant::now();
    let give_up = DECAY * 8;
    let mut recent: Vec<String> = Vec::new();
    loop {
        recent.push(metrics_pick(&gateway));
        let last_ten = &recent[recent.len().saturating_sub(10)..];
        if last_ten.len() == 10 && share_of(last_ten, "first") >= 0.8 {
            break;
        }
        assert!(
            healed_at.elapsed() < give_up,
            "{give_up:?} after `first` healed it still gets no traffic back; last picks: {:?}",
            &recent[recent.len().saturating_sub(20)..]
        );
    }
}
