//! The README's first command: `gatesmith run specs/quickstart` builds and serves the quickstart, and the README's curl works.

use std::time::Duration;

use gatesmith_e2e::{RawRequest, RunningServer, compiler_binary, gateway_binary, workspace};
use serde_json::json;

#[test]
fn gatesmith_run_serves_the_quickstart_and_stops_on_sigterm() {
    // Build under the shared build lock first, so `run` finds it up to date
    // instead of racing another test's build.
    gateway_binary("specs/quickstart");
    let quickstart = workspace::spec_dir("specs/quickstart");
    let home = workspace::root();
    let mut server = RunningServer::start_within(
        &compiler_binary(),
        &[
            "run",
            &quickstart.to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("GATESMITH_HOME", &home.to_string_lossy())],
        Duration::from_secs(300),
    );

    // The README's curl line.
    let readme_body =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]});
    let response = RawRequest::post_json("/v1/chat/completions", &readme_body).send(server.addr);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["model"], json!("mock-small"), "{body}");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|content| content.starts_with("This is a deterministic answer")),
        "{body}"
    );

    // Ctrl-C or a supervisor's SIGTERM must reach the gateway, not just the CLI.
    server.terminate();
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("`gatesmith run` exits after SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert!(
        RawRequest::get("/")
            .try_send(server.addr, Duration::from_secs(2))
            .is_err(),
        "the gateway still answers after `gatesmith run` was stopped"
    );
}
