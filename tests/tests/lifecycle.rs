//! The gateway process over time: client hang-ups, SIGTERM drain, startup refusing a missing secret.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use gatesmith_e2e::http::sse_data;
use gatesmith_e2e::process::run_command;
use gatesmith_e2e::stub_upstream::{StubEvent, StubReply, StubUpstream};
use gatesmith_e2e::{E2E_SPEC, Gateway, RawRequest, gateway_binary};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn stream_request() -> serde_json::Value {
    json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn client_disconnect_mid_stream_cancels_the_upstream_request() {
    let events = (0..50)
        .map(|i| json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": format!("w{i} ")}}]}).to_string())
        .collect();
    let stub = StubUpstream::start(
        "127.0.0.1:29314",
        StubReply::SlowStream {
            events,
            interval: Duration::from_millis(100),
        },
    );
    let gateway = Gateway::e2e();

    let mut stream = RawRequest::post_json("/streamed/v1/chat/completions", &stream_request())
        .open(gateway.addr());
    assert_eq!(stream.status, 200);
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
    let gone = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match stub.next_event(left) {
            Some(StubEvent::PeerGone { events_sent, at }) => break (events_sent, at),
            Some(StubEvent::StreamFinished) => {
                panic!("the upstream stream ran to its end after the client left")
            }
            Some(StubEvent::Request(_)) => continue,
            None => panic!("the upstream never noticed the client leaving"),
        }
    };
    let noticed_after = gone.1.saturating_duration_since(disconnected_at);
    assert!(
        noticed_after < Duration::from_secs(1),
        "upstream closed {noticed_after:?} after the client left"
    );
    assert!(
        gone.0 < 20,
        "upstream sent {} of 50 events after the client left",
        gone.0
    );

    // The gateway is unharmed.
    let response = RawRequest::post_json(
        "/v1/chat/completions",
        &json!({"model": "m", "messages": []}),
    )
    .send(gateway.addr());
    assert_eq!(response.status, 200, "{}", response.text());
}

#[test]
fn sigterm_drains_in_flight_streams_and_refuses_new_connections() {
    let mut gateway = Gateway::e2e();
    let addr = gateway.addr();
    let mut stream = RawRequest::post_json("/v1/chat/completions", &stream_request())
        .header("x-mock-chunks", "20")
        .header("x-mock-completion-tokens", "40")
        .header("x-mock-chunk-delay-ms", "100")
        .open(addr);
    assert_eq!(stream.status, 200);
    assert!(
        stream
            .read_until_contains("\"content\":\"This", WAIT)
            .expect("read the stream")
    );

    gateway.server.terminate();
    let terminated_at = Instant::now();
    let refused_at = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => break Instant::now(),
            _ if terminated_at.elapsed() > Duration::from_secs(1) => {
                panic!("new connections were still accepted 1 s after SIGTERM")
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };

    if let Err(error) = stream.read_to_end(Instant::now() + WAIT) {
        panic!(
            "the in-flight stream did not complete after SIGTERM ({error}, {:?} after SIGTERM); received:\n{}",
            terminated_at.elapsed(),
            stream.text_so_far()
        );
    }
    let finished_at = Instant::now();
    assert!(
        refused_at < finished_at,
        "refusal must be observed while the stream is still in flight"
    );
    let data = sse_data(&stream.text_so_far());
    assert_eq!(
        data.last().map(String::as_str),
        Some("[DONE]"),
        "stream cut short: {data:?}"
    );
    let content_chunks = data
        .iter()
        .filter(|d| d.contains("\"content\":\"") && !d.contains("\"content\":\"\""))
        .count();
    assert_eq!(
        content_chunks, 20,
        "every chunk of the in-flight stream arrives: {data:?}"
    );

    let status = gateway
        .server
        .wait_exit(Duration::from_secs(5))
        .expect("the gateway exits once drained");
    assert!(status.success(), "drained gateway exit status {status:?}");
}

#[test]
fn startup_names_a_missing_api_key_variable_and_exits() {
    let mut command = Command::new(gateway_binary(E2E_SPEC));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("E2E_RECORDER_KEY");
    let output = run_command(command, Duration::from_secs(10));
    assert!(
        !output.success,
        "the gateway started without its API key:\n{output}"
    );
    assert!(
        output.stderr.contains("E2E_RECORDER_KEY"),
        "the message must name the variable:\n{output}"
    );
}
