//! `gatesmith explain` on the `model-service-modes` fixture: one snapshot per mode and per way a request can fail to match.

use gatesmith::explain::{Request, explain};
use gatesmith::files;

fn explain_fixture(host: &str, path: &str, method: &str, model: Option<&str>) -> String {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/valid/model-service-modes");
    let mut folder = files::read_spec_folder(&dir).expect("fixture folder");
    folder.display = "specs/valid/model-service-modes".to_owned();
    let compiled = gatesmith::compile(&folder).expect("the fixture is valid");
    explain(
        &compiled.plan,
        &Request {
            host: host.to_owned(),
            path: path.to_owned(),
            method: method.to_owned(),
            model: model.map(str::to_owned),
        },
    )
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        prepend_module_to_snapshot => false,
        snapshot_path => "snapshots/explain",
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("explain@{name}"), text);
    });
}

#[test]
fn by_model_name_names_the_winner_and_the_rules_it_beat() {
    let text = explain_fixture(
        "LLM.example.com:443",
        "/v1/chat/completions?stream=true",
        "POST",
        Some("claude-3-5-haiku"),
    );
    assert!(text.contains("rule 4 `claude-3-5-*` wins"), "{text}");
    snapshot("by-model-name-glob", &text);
}

#[test]
fn an_exact_rule_wins_and_a_repeated_fallback_is_skipped() {
    let text = explain_fixture(
        "llm.example.com",
        "/v1/chat/completions",
        "POST",
        Some("gpt-4o"),
    );
    assert!(text.contains("skipped: fallback 2"), "{text}");
    snapshot("by-model-name-catch-all", &text);
    let text = explain_fixture(
        "llm.example.com",
        "/v1/completions",
        "POST",
        Some("claude-3-5-sonnet-latest"),
    );
    assert!(text.contains("(an exact pattern)"), "{text}");
}

#[test]
fn by_proportion_lists_shares_and_by_metrics_defers_to_run_time() {
    snapshot(
        "by-proportion",
        &explain_fixture(
            "llm.example.com",
            "/split/v1/chat/completions",
            "POST",
            None,
        ),
    );
    snapshot(
        "by-metrics",
        &explain_fixture("llm.example.com", "/fastest/v1/messages", "POST", None),
    );
}

#[test]
fn unmatched_requests_say_why() {
    let text = [
        explain_fixture("other.example.com", "/v1/chat/completions", "POST", None),
        explain_fixture("llm.example.com", "/fastest/v1/messages", "GET", None),
        explain_fixture("llm.example.com", "/fastest/v2/messages", "POST", None),
    ]
    .join("\n");
    assert!(text.contains("405"), "{text}");
    snapshot("unmatched", &text);
}
