//! Conformance through a generated gateway (`tests/specs/conformance`): the official OpenAI and Anthropic Python SDKs against OpenAI-wire, Anthropic and DashScope native upstreams, streamed and not.
//!
//! Standalone `gatesmith-mock`s play the upstreams, one per protocol;
//! `x-mock-*` request headers (forwarded by the gateway) choose tool calls,
//! thinking, cache tokens, stop reasons and faults per request. A mock
//! answers every protocol by path, so the test also checks that each one
//! was only ever spoken to in its own protocol. The Python script
//! (`tests/python/conformance_sdk.py`) runs every case and prints one line per
//! case, so a failure names the pair and the expectation.

use gatesmith_e2e::python::run_script;
use gatesmith_e2e::{Gateway, MockUpstream};

const SPEC: &str = "tests/specs/conformance";
/// The upstream mocks of `tests/specs/conformance/services.yaml`: port,
/// protocol, and the only path the gateway may call on it.
const UPSTREAMS: [(u16, &str, &str); 3] = [
    (29351, "OpenAI wire", "/v1/chat/completions"),
    (29352, "Anthropic", "/v1/messages"),
    (
        29353,
        "DashScope native",
        "/api/v1/services/aigc/text-generation/generation",
    ),
];

/// `(client, upstream)` pairs and the cases each runs (see the script).
const OPENAI_CLIENT_CASES: [&str; 6] = [
    "plain",
    "usage-cache",
    "two-tools",
    "thinking",
    "stop-reasons",
    "include-usage",
];
const ANTHROPIC_CLIENT_CASES: [&str; 5] = [
    "plain",
    "usage-cache",
    "two-tools",
    "thinking",
    "stop-reasons",
];
const ERROR_CASES: [&str; 4] = [
    "errors/openai-client/anthropic-529",
    "errors/openai-client/anthropic-529-stream",
    "errors/anthropic-client/openai-429",
    "errors/anthropic-client/openai-429-stream",
];

fn expected_cases() -> Vec<String> {
    let mut cases = Vec::new();
    for upstream in ["openai", "anthropic", "dashscope"] {
        for case in OPENAI_CLIENT_CASES {
            cases.push(format!("openai-client/{upstream}-upstream/{case}"));
        }
    }
    for upstream in ["anthropic", "openai"] {
        for case in ANTHROPIC_CLIENT_CASES {
            cases.push(format!("anthropic-client/{upstream}-upstream/{case}"));
        }
    }
    cases.extend(ERROR_CASES.iter().map(|case| (*case).to_owned()));
    cases
}

#[test]
fn official_sdks_accept_every_client_and_upstream_protocol_pair() {
    let mocks: Vec<MockUpstream> = UPSTREAMS
        .iter()
        .map(|(port, _, _)| MockUpstream::start(*port, &[]))
        .collect();
    let gateway = Gateway::start_with_env(
        SPEC,
        &[("CONFORMANCE_UPSTREAM_KEY", "sk-conformance-upstream")],
    );
    let base_url = gateway.base_url();
    let output = run_script(
        "conformance_sdk.py",
        &[("GATESMITH_BASE_URL", base_url.as_str())],
    );
    let passed: Vec<&str> = output
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .collect();
    let missing: Vec<String> = expected_cases()
        .into_iter()
        .filter(|case| !passed.contains(&case.as_str()))
        .collect();
    assert!(
        output.success && missing.is_empty(),
        "{} of {} conformance cases did not pass: {missing:#?}\n{output}",
        missing.len(),
        expected_cases().len()
    );
    for (mock, (port, protocol, path)) in mocks.iter().zip(UPSTREAMS) {
        let stats = mock.stats();
        assert!(
            stats.at(path) > 0 && stats.by_path.len() == 1,
            "the {protocol} upstream (port {port}) must be called on {path} only, got {:?}",
            stats.by_path
        );
    }
}
