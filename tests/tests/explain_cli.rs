//! `gatesmith explain` and the unreachable-rule warning, as a user runs them: nothing is sent, the plan is printed.

use std::process::Command;
use std::time::Duration;

use gatesmith_e2e::process::{CommandOutput, run_command};
use gatesmith_e2e::{compiler_binary, workspace};

const TIMEOUT: Duration = Duration::from_secs(60);

fn gatesmith(args: &[&str]) -> CommandOutput {
    let mut command = Command::new(compiler_binary());
    command
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(workspace::root());
    run_command(command, TIMEOUT)
}

/// Asserts that `needles` appear in `text` in this order.
fn assert_in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match text[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => {
                panic!("{needle:?} missing (or out of order, expected {needles:?}) in:\n{text}")
            }
        }
    }
}

#[test]
fn explain_names_the_matched_model_api_and_the_targets_in_the_order_they_are_tried() {
    let output = gatesmith(&[
        "explain",
        "tests/specs/failover",
        "--host",
        "api.example.test",
        "--path",
        "/chain/v1/chat/completions",
    ]);
    assert!(output.success, "{output}");
    let text = output.stdout.as_str();
    assert!(
        text.contains("ModelAPI chain") && text.contains("/chain"),
        "the matched Model API and base path:\n{text}"
    );
    assert!(
        text.contains("chat-completions"),
        "the matched route:\n{text}"
    );
    // Primary first, then the fallbacks in spec order, each once.
    assert_in_order(text, &["1. chain-a", "2. chain-b", "3. chain-c"]);
    assert_eq!(text.matches("chain-a (model").count(), 1, "{text}");
}

#[test]
fn explain_shows_a_first_packet_timeout_override_and_the_fallback() {
    let output = gatesmith(&[
        "explain",
        "tests/specs/failover",
        "--host",
        "localhost",
        "--path",
        "/stream-handover/v1/chat/completions",
    ]);
    assert!(output.success, "{output}");
    let text = output.stdout.as_str();
    assert_in_order(
        text,
        &[
            "1. prelude-then-stall",
            "2. stream-fallback",
            "first packet 300 ms",
        ],
    );
}

#[test]
fn explain_with_a_model_shows_the_winning_rule_and_its_rewrite() {
    let output = gatesmith(&[
        "explain",
        "tests/specs/balancing",
        "--host",
        "localhost",
        "--path",
        "/by-name/v1/chat/completions",
        "--model",
        "gpt-4o-mini",
    ]);
    assert!(output.success, "{output}");
    let text = output.stdout.as_str();
    assert!(
        text.contains("ModelAPI by-name "),
        "the Model API is named:\n{text}"
    );
    assert!(
        text.contains("`gpt-4?-mini` wins for `gpt-4o-mini`"),
        "the winning rule (most literal characters) is named:\n{text}"
    );
    // The losing rules are listed with the reason, most specific first.
    assert_in_order(text, &["`gpt-4o*`", "`gpt-*`", "`*`"]);
    assert!(
        text.contains("1. mock-a (model rewritten to rule-gpt-4-any-mini)"),
        "the target it resolves to:\n{text}"
    );
}

#[test]
fn explain_of_an_unknown_model_without_a_catch_all_says_404_and_tries_nothing() {
    let output = gatesmith(&[
        "explain",
        "tests/specs/balancing",
        "--host",
        "localhost",
        "--path",
        "/by-name-strict/v1/chat/completions",
        "--model",
        "llama-3",
    ]);
    let text = output.stdout.as_str();
    assert!(
        text.contains("no rule matches `llama-3`") && text.contains("404"),
        "{output}"
    );
    assert!(!text.contains("1. "), "nothing is tried:\n{text}");
}

#[test]
fn explain_of_an_unmatched_path_says_so_without_failing_silently() {
    let output = gatesmith(&[
        "explain",
        "tests/specs/failover",
        "--host",
        "localhost",
        "--path",
        "/no-such-base/v2/anything",
    ]);
    let text = output.stdout.as_str();
    assert!(
        text.contains("base: none of") && text.contains("404"),
        "an unmatched request is reported as a 404:\n{output}"
    );
    assert!(
        !text.contains("chain-a"),
        "no targets for an unmatched request:\n{output}"
    );
}

#[test]
fn check_warns_about_an_unreachable_model_rule_naming_both_rules() {
    let output = gatesmith(&["check", "specs/invalid/W0204-unreachable-rule"]);
    let text = format!("{}{}", output.stdout, output.stderr);
    assert!(
        output.success,
        "a warning alone does not fail check:\n{output}"
    );
    assert!(text.contains("W0204"), "the unreachable-rule code:\n{text}");
    // `qwen?*` is hidden by the earlier `qwen*`; `**` by `*`.
    assert!(
        text.contains("qwen?*") && text.contains("qwen*"),
        "the warning names the hidden rule and the one hiding it:\n{text}"
    );
    assert!(text.contains("**"), "the second hidden rule:\n{text}");
    assert!(
        text.contains("unreachable"),
        "the warning says why:\n{text}"
    );
    // Each warning points at the hidden rule's line.
    for location in ["chat.yaml:20:", "chat.yaml:23:"] {
        assert!(text.contains(location), "no warning at {location}:\n{text}");
    }
    assert!(text.contains("2 warnings"), "{text}");
}

#[test]
fn the_e2e_specs_of_issue_3_check_clean() {
    for spec in ["tests/specs/failover", "tests/specs/balancing"] {
        let output = gatesmith(&["check", spec]);
        assert!(output.success, "`gatesmith check {spec}`:\n{output}");
        assert!(
            !output.stdout.contains("W0") && !output.stderr.contains("W0"),
            "no warnings expected in {spec}:\n{output}"
        );
    }
}
