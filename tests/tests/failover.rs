//! Fallback through a generated gateway (`tests/specs/failover`): which failures move on to the next target, attempt counts at each upstream, the commit point for streams.
//!
//! Upstreams are standalone `gatesmith-mock`s with injected faults on the
//! fixed ports the spec names; `GET /__mock/stats` counts the attempts each
//! one received.

use std::time::{Duration, Instant};

use gatesmith_e2e::http::sse_data;
use gatesmith_e2e::python::assert_script_passes;
use gatesmith_e2e::stub_upstream::{StubEvent, StubReply, StubUpstream};
use gatesmith_e2e::{Gateway, MockUpstream, RawRequest, RawResponse};
use serde_json::{Value, json};

const SPEC: &str = "tests/specs/failover";
const WAIT: Duration = Duration::from_secs(10);

fn chat(stream: bool) -> Value {
    json!({"model": "client-model", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn header<'a>(response: &'a RawResponse, name: &str) -> &'a str {
    response.header(name).unwrap_or("<missing>")
}

/// The `data:` payloads of an SSE body that are JSON objects, parsed.
fn json_events(body: &str) -> Vec<Value> {
    sse_data(body)
        .iter()
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .collect()
}

fn content_of(event: &Value) -> Option<&str> {
    event["choices"][0]["delta"]["content"]
        .as_str()
        .filter(|text| !text.is_empty())
}

/// One failure class: the primary of Model API `api` fails this way.
struct FailureClass {
    api: &'static str,
    /// The primary's service name (as `x-gatesmith-service` would name it).
    service: &'static str,
    /// `None`: nothing listens on the primary's port.
    primary: Option<(u16, &'static [&'static str])>,
    stream: bool,
    fails_over: bool,
    /// The status the client gets when the class does not fail over.
    status_without_failover: u16,
}

const fn class(
    api: &'static str,
    service: &'static str,
    primary: Option<(u16, &'static [&'static str])>,
    stream: bool,
    fails_over: bool,
    status_without_failover: u16,
) -> FailureClass {
    FailureClass {
        api,
        service,
        primary,
        stream,
        fails_over,
        status_without_failover,
    }
}

/// The pinned taxonomy, one row per class.
const CLASSES: &[FailureClass] = &[
    class(
        "c429",
        "status-429",
        Some((29322, &["--fault", "status:429"])),
        false,
        true,
        0,
    ),
    class(
        "c500",
        "status-500",
        Some((29323, &["--fault", "status:500"])),
        false,
        true,
        0,
    ),
    class(
        "c502",
        "status-502",
        Some((29324, &["--fault", "status:502"])),
        false,
        true,
        0,
    ),
    class(
        "c503",
        "status-503",
        Some((29325, &["--fault", "status:503"])),
        false,
        true,
        0,
    ),
    class(
        "c529",
        "status-529",
        Some((29326, &["--fault", "status:529"])),
        false,
        true,
        0,
    ),
    class("refused", "refused", None, false, true, 0),
    class(
        "first-packet",
        "stalled-first-chunk",
        Some((29328, &["--fault", "stall-before-first-chunk:5000"])),
        true,
        true,
        0,
    ),
    class(
        "total-timeout",
        "stalled-head",
        Some((29329, &["--fault", "stall-before-head:5000"])),
        false,
        true,
        0,
    ),
    class(
        "error-event",
        "error-event",
        Some((29330, &["--fault", "error-after-chunks:0"])),
        true,
        true,
        0,
    ),
    class(
        "c400",
        "status-400",
        Some((29331, &["--fault", "status:400"])),
        false,
        false,
        400,
    ),
    class(
        "c401",
        "status-401",
        Some((29332, &["--fault", "status:401"])),
        false,
        false,
        401,
    ),
    class(
        "c403",
        "status-403",
        Some((29333, &["--fault", "status:403"])),
        false,
        false,
        403,
    ),
    class(
        "c404",
        "status-404",
        Some((29334, &["--fault", "status:404"])),
        false,
        false,
        404,
    ),
    class(
        "c413",
        "status-413",
        Some((29335, &["--fault", "status:413"])),
        false,
        false,
        413,
    ),
    class(
        "context-length",
        "context-length",
        Some((29336, &["--fault", "context-length"])),
        false,
        false,
        400,
    ),
    // The same upstreams as c400 and context-length, behind Model APIs that opt in.
    class("c400-client-errors", "status-400", None, false, true, 0),
    class(
        "context-length-allowed",
        "context-length",
        None,
        false,
        true,
        0,
    ),
];

/// Which mock counts a class's primary attempts (opt-in rows share a port).
fn primary_port(row: &FailureClass) -> Option<u16> {
    match row.api {
        "c400-client-errors" => Some(29331),
        "context-length-allowed" => Some(29336),
        _ => row.primary.map(|(port, _)| port),
    }
}

#[test]
fn failure_classes_fail_over_as_the_taxonomy_says() {
    let fallback = MockUpstream::start(29321, &[]);
    let primaries: Vec<(u16, MockUpstream)> = CLASSES
        .iter()
        .filter_map(|row| row.primary)
        .map(|(port, flags)| (port, MockUpstream::start(port, flags)))
        .collect();
    let primary_count = |port: u16, path: &str| {
        primaries
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, mock)| mock.stats().at(path))
    };
    let gateway = Gateway::start(SPEC);

    let mut wrong = Vec::new();
    for row in CLASSES {
        let path = format!("/{}/v1/chat/completions", row.api);
        let started = Instant::now();
        let response =
            match RawRequest::post_json(&path, &chat(row.stream)).try_send(gateway.addr(), WAIT) {
                Ok(response) => response,
                Err(error) => {
                    wrong.push(format!("{}: request failed: {error}", row.api));
                    continue;
                }
            };
        let took = started.elapsed();
        let (status, service, attempts) = (
            response.status,
            header(&response, "x-gatesmith-service"),
            header(&response, "x-gatesmith-attempts"),
        );
        let at_fallback = fallback.stats().at(&path);
        let at_primary = primary_port(row).and_then(|port| primary_count(port, &path));
        let got = format!(
            "status {status}, x-gatesmith-service {service}, x-gatesmith-attempts {attempts}, \
             fallback saw {at_fallback}, primary saw {at_primary:?}, took {took:?}, body {}",
            response.text().chars().take(300).collect::<String>()
        );
        let expected_ok = if row.fails_over {
            let served = status == 200
                && service == "ok"
                && attempts == "2"
                && header(&response, "x-gatesmith-model") == "fallback-model"
                && response.text().contains("fallback-model")
                && at_fallback == 1
                && at_primary.unwrap_or(1) == 1;
            let complete = !row.stream || response.text().contains("[DONE]");
            served && complete
        } else {
            let error_json = serde_json::from_slice::<Value>(&response.body)
                .is_ok_and(|body| body["error"]["message"].is_string());
            status == row.status_without_failover
                && service == row.service
                && attempts == "1"
                && error_json
                && at_fallback == 0
                && at_primary == Some(1)
        };
        if !expected_ok {
            let want = if row.fails_over {
                "the fallback `ok` serves: 200, attempts 2, model fallback-model, one attempt at each upstream"
            } else {
                "no failover: the primary's own error status and OpenAI error JSON, attempts 1, fallback untouched"
            };
            wrong.push(format!(
                "{} (POST {path}, stream {}): expected {want}; got {got}",
                row.api, row.stream
            ));
        }
    }

    // Retry-After: 1 on the 429 cools that target down: a second request
    // right away goes straight to the fallback without touching it.
    let path = "/c429/v1/chat/completions";
    let response = RawRequest::post_json(path, &chat(false)).send(gateway.addr());
    let at_primary = primary_count(29322, path);
    if response.status != 200
        || header(&response, "x-gatesmith-service") != "ok"
        || at_primary != Some(1)
    {
        wrong.push(format!(
            "c429 cooldown: a second request within Retry-After must skip the cooling primary; \
             got status {}, service {}, attempts {}, primary saw {at_primary:?} in total",
            response.status,
            header(&response, "x-gatesmith-service"),
            header(&response, "x-gatesmith-attempts"),
        ));
    }

    assert!(
        wrong.is_empty(),
        "{} of {} failure classes misbehaved:\n{}",
        wrong.len(),
        CLASSES.len() + 1,
        wrong.join("\n")
    );
}

#[test]
fn three_failing_targets_are_each_tried_once_and_the_last_error_is_returned() {
    let targets: Vec<MockUpstream> = [29337, 29338, 29339]
        .into_iter()
        .map(|port| MockUpstream::start(port, &["--fault", "status:503"]))
        .collect();
    let gateway = Gateway::start(SPEC);
    let path = "/chain/v1/chat/completions";

    let response = RawRequest::post_json(path, &chat(false)).send(gateway.addr());

    assert_eq!(response.status, 503, "body: {}", response.text());
    let body = response.json();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "the last error reaches the client in OpenAI's format: {body}"
    );
    assert_eq!(header(&response, "x-gatesmith-attempts"), "3");
    assert_eq!(
        header(&response, "x-gatesmith-service"),
        "chain-c",
        "the answer is the last target's"
    );
    let counts: Vec<u64> = targets.iter().map(|mock| mock.stats().at(path)).collect();
    assert_eq!(
        counts,
        vec![1, 1, 1],
        "attempts at chain-a, chain-b, chain-c"
    );
}

#[test]
fn first_packet_timeout_hands_the_client_the_fallbacks_stream_and_nothing_of_the_primarys() {
    let primary = MockUpstream::start(29340, &["--fault", "stall-after-chunks:0:5000"]);
    let fallback = MockUpstream::start(29341, &["--chunks", "6"]);
    let gateway = Gateway::start(SPEC);

    let started = Instant::now();
    let mut stream = RawRequest::post_json("/stream-handover/v1/chat/completions", &chat(true))
        .open(gateway.addr());
    let head_after = started.elapsed();
    stream
        .read_to_end(Instant::now() + WAIT)
        .expect("the fallback's stream ends cleanly");
    let body = stream.text_so_far();

    assert_eq!(stream.status, 200, "{body}");
    assert!(
        head_after >= Duration::from_millis(250) && head_after < Duration::from_secs(3),
        "the head must wait for the fallback's first content (~300 ms), not the primary's 5 s stall: {head_after:?}"
    );
    assert_eq!(
        stream.header("x-gatesmith-service"),
        Some("stream-fallback")
    );
    assert_eq!(stream.header("x-gatesmith-model"), Some("fallback-model"));
    assert_eq!(stream.header("x-gatesmith-attempts"), Some("2"));
    assert!(
        !body.contains("primary-model"),
        "a byte of the primary's stream (its role prelude) reached the client:\n{body}"
    );
    let events = json_events(&body);
    assert!(
        events
            .iter()
            .all(|event| event["model"] == json!("fallback-model")),
        "every event is the fallback's:\n{body}"
    );
    let preludes = events
        .iter()
        .filter(|event| event["choices"][0]["delta"]["role"].is_string())
        .count();
    assert_eq!(preludes, 1, "exactly one role prelude:\n{body}");
    assert_eq!(
        events.iter().filter_map(content_of).count(),
        6,
        "the fallback's 6 content chunks:\n{body}"
    );
    assert_eq!(
        sse_data(&body).last().map(String::as_str),
        Some("[DONE]"),
        "{body}"
    );
    let path = "/v1/chat/completions";
    assert_eq!(primary.stats().at(path), 1, "one attempt at the primary");
    assert_eq!(fallback.stats().at(path), 1, "one attempt at the fallback");
}

#[test]
fn stream_cut_after_five_chunks_ends_with_an_openai_error_event_not_done() {
    let _cut = MockUpstream::start(
        29342,
        &[
            "--fault",
            "cut-after-chunks:5",
            "--chunks",
            "8",
            "--chunk-delay-ms",
            "10",
        ],
    );
    let gateway = Gateway::start(SPEC);

    let mut stream =
        RawRequest::post_json("/cut/v1/chat/completions", &chat(true)).open(gateway.addr());
    assert_eq!(
        stream.status, 200,
        "the stream was committed before the cut"
    );
    // The gateway may end the body cleanly after the error event or close the
    // connection: either way the client must see the error event.
    let ended = stream.read_until(Instant::now() + WAIT, |_| false);
    let body = stream.text_so_far();
    assert!(
        ended.is_ok_and(|matched| !matched),
        "the stream did not end within {WAIT:?}:\n{body}"
    );
    let data = sse_data(&body);
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "a cut stream must not look complete:\n{body}"
    );
    let events = json_events(&body);
    assert_eq!(
        events.iter().filter_map(content_of).count(),
        5,
        "the 5 chunks before the cut arrive:\n{body}"
    );
    let last = events.last().cloned().unwrap_or_default();
    assert!(
        last["error"]["message"].is_string(),
        "the stream ends with an OpenAI `data: {{\"error\":...}}` event:\n{body}"
    );

    let output = assert_script_passes(
        "openai_stream_cut.py",
        &[(
            "GATESMITH_BASE_URL",
            &format!("{}/cut/v1", gateway.base_url()),
        )],
    );
    assert!(
        output.stdout.contains("stream cut raised ok"),
        "the SDK scenario did not run:\n{output}"
    );
}

#[test]
fn client_disconnect_after_a_failover_closes_the_fallback_upstream_within_a_second() {
    let primary = MockUpstream::start(29343, &["--fault", "status:503"]);
    let events = (0..50)
        .map(|i| json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": format!("w{i} ")}}]}).to_string())
        .collect();
    let stub = StubUpstream::start(
        "127.0.0.1:29344",
        StubReply::SlowStream {
            events,
            interval: Duration::from_millis(100),
        },
    );
    let gateway = Gateway::start(SPEC);

    let mut stream =
        RawRequest::post_json("/disconnect/v1/chat/completions", &chat(true)).open(gateway.addr());
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("x-gatesmith-service"), Some("slow-stream"));
    assert_eq!(stream.header("x-gatesmith-attempts"), Some("2"));
    assert!(
        stream
            .read_until_contains("w1 ", WAIT)
            .expect("read the stream"),
        "{}",
        stream.text_so_far()
    );
    stream.disconnect();
    let disconnected_at = Instant::now();

    let deadline = disconnected_at + Duration::from_secs(5);
    let (events_sent, noticed_at) = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match stub.next_event(left) {
            Some(StubEvent::PeerGone { events_sent, at }) => break (events_sent, at),
            Some(StubEvent::StreamFinished) => {
                panic!("the fallback's stream ran to its end after the client left")
            }
            Some(StubEvent::Request(_)) => continue,
            None => panic!("the fallback upstream never noticed the client leaving"),
        }
    };
    let noticed_after = noticed_at.saturating_duration_since(disconnected_at);
    assert!(
        noticed_after < Duration::from_secs(1),
        "the fallback upstream closed {noticed_after:?} after the client left"
    );
    assert!(
        events_sent < 20,
        "{events_sent} of 50 events sent after the client left"
    );
    assert_eq!(
        primary.stats().at("/v1/chat/completions"),
        1,
        "the primary was tried once"
    );
}
