//! Golden test of every provider's upstream request: method, URL, headers and body after conversion.
//!
//! For each provider and each client request it can serve (OpenAI chat,
//! OpenAI chat streaming, Anthropic messages) the upstream request is built
//! exactly as the proxy builds it (hop-by-hop and `NOT_FORWARDED` headers
//! out, then the provider's header rules, then the body conversion) from a
//! client request that carries its own credentials, and compared with a
//! snapshot under `tests/golden/`. Independently of the snapshots, no client
//! credential and no key other than the configured test key may appear.

use gatesmith_runtime::codegen::{Protocol, RouteKind};
use gatesmith_runtime::headers::{NOT_FORWARDED, strip_hop_by_hop};
use gatesmith_runtime::provider::{
    self, CLIENT_CREDENTIAL_HEADERS, Kind, ProviderSettings, UpstreamKey, UpstreamPlan,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

/// The only secret allowed upstream.
const SERVICE_KEY: &str = "sk-golden-service-key";
/// Every client credential contains this marker; none may reach the upstream.
const CLIENT_SECRET: &str = "client-secret";
/// The model after the Model API's mapping.
const UPSTREAM_MODEL: &str = "upstream-model";

/// A client request of one protocol.
struct ClientCase {
    name: &'static str,
    protocol: Protocol,
    route: RouteKind,
    body: Value,
}

fn client_cases() -> Vec<ClientCase> {
    let chat = json!({
        "model": "client-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is 2+2?"}
        ],
        "max_tokens": 64,
        "temperature": 0.2
    });
    let mut chat_stream = chat.clone();
    chat_stream["stream"] = json!(true);
    vec![
        ClientCase {
            name: "openai chat",
            protocol: Protocol::OpenAi,
            route: RouteKind::ChatCompletions,
            body: chat,
        },
        ClientCase {
            name: "openai chat streaming",
            protocol: Protocol::OpenAi,
            route: RouteKind::ChatCompletions,
            body: chat_stream,
        },
        ClientCase {
            name: "anthropic messages",
            protocol: Protocol::Anthropic,
            route: RouteKind::Messages,
            body: json!({
                "model": "client-model",
                "max_tokens": 64,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": "What is 2+2?"}]
            }),
        },
    ]
}

/// The headers a client sends, credentials of every style included.
fn client_headers(protocol: Protocol) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: &'static str| {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    };
    add("host", "gateway.example.com");
    add("content-length", "123");
    add("connection", "keep-alive");
    add("content-type", "application/json");
    add("x-request-id", "golden-1");
    add("authorization", "Bearer client-secret-bearer");
    add("x-api-key", "client-secret-x-api-key");
    add("api-key", "client-secret-azure");
    add("x-goog-api-key", "client-secret-goog");
    add("cookie", "session=client-secret-cookie");
    if protocol == Protocol::Anthropic {
        add("anthropic-version", "2023-06-01");
    }
    headers
}

/// Where each provider is reached in the test (the default, or a stand-in for required ones).
fn base_url(kind: Kind) -> &'static str {
    match provider::info(kind).default_base_url {
        Some(url) => url,
        None => match kind {
            Kind::AzureOpenAi => "https://example-resource.openai.azure.com",
            Kind::Vllm => "http://vllm.internal:8000",
            Kind::Mock => "http://mock.internal",
            _ => "https://llm.example.com/prefix",
        },
    }
}

/// One upstream request as text: request line, sorted headers, pretty body.
fn render(
    plan: &UpstreamPlan,
    case: &ClientCase,
    kind: Kind,
    settings: &ProviderSettings,
) -> String {
    let mut client_body = case.body.clone();
    client_body["model"] = json!(UPSTREAM_MODEL);
    let body = provider::upstream_body(plan, &client_body, settings).expect("converts");

    let mut headers = client_headers(case.protocol);
    strip_hop_by_hop(&mut headers);
    for name in NOT_FORWARDED {
        headers.remove(name);
    }
    let key = UpstreamKey::new(SERVICE_KEY).expect("valid key");
    provider::apply_upstream_headers(&mut headers, plan, Some(&key), body.stream);

    let url = provider::upstream_url(base_url(kind), plan, UPSTREAM_MODEL, settings);
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    lines.sort();
    assert_credentials_are_the_service_key(&headers, case.name, kind);
    format!(
        "## {} -> {:?} ({:?})\nPOST {url}\n{}\n\n{}\n",
        case.name,
        plan.api,
        plan.conversion,
        lines.join("\n"),
        serde_json::to_string_pretty(&body.json).expect("serialises")
    )
}

fn assert_credentials_are_the_service_key(headers: &HeaderMap, case: &str, kind: Kind) {
    let mut credentials = 0;
    for name in &CLIENT_CREDENTIAL_HEADERS {
        for value in headers.get_all(name) {
            credentials += 1;
            let text = String::from_utf8_lossy(value.as_bytes());
            assert!(
                text == SERVICE_KEY || text == format!("Bearer {SERVICE_KEY}"),
                "{kind} / {case}: {name} carries something other than the service key"
            );
        }
    }
    assert_eq!(credentials, 1, "{kind} / {case}: exactly one credential");
}

/// Renders every case a provider (with `settings`) can serve.
fn golden(kind: Kind, settings: &ProviderSettings) -> String {
    let mut out = String::new();
    for case in client_cases() {
        match provider::plan_upstream(kind, case.protocol, case.route, settings) {
            Ok(plan) => out.push_str(&render(&plan, &case, kind, settings)),
            Err(unsupported) => {
                out.push_str(&format!("## {} -> unsupported: {unsupported}\n", case.name))
            }
        }
        out.push('\n');
    }
    assert!(
        !out.contains(CLIENT_SECRET),
        "{kind}: a client credential went upstream:\n{out}"
    );
    let stray_keys = out.matches("sk-").count();
    assert_eq!(
        stray_keys,
        out.matches(SERVICE_KEY).count(),
        "{kind}: a key other than the service key appears"
    );
    out
}

fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("golden");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn every_provider_upstream_request_matches_its_golden_file() {
    for kind in Kind::ALL {
        snapshot(
            kind.spec_name(),
            &golden(kind, &ProviderSettings::default()),
        );
    }
}

#[test]
fn dashscope_native_mode_upstream_request_matches_its_golden_file() {
    let native = ProviderSettings {
        dashscope_native: true,
        ..ProviderSettings::default()
    };
    snapshot("dashscope-native", &golden(Kind::DashScope, &native));
}

/// The matrix the compiler mirrors for its "service cannot serve this Model API" error.
#[test]
fn serve_matrix_matches_its_golden_file() {
    let mut out =
        String::from("provider            openai-chat  openai-completions  anthropic-messages\n");
    for kind in Kind::ALL {
        let mark = |protocol, route| {
            if provider::can_serve(kind, protocol, route) {
                "yes"
            } else {
                "no"
            }
        };
        out.push_str(&format!(
            "{:<20}{:<13}{:<20}{}\n",
            kind.spec_name(),
            mark(Protocol::OpenAi, RouteKind::ChatCompletions),
            mark(Protocol::OpenAi, RouteKind::Completions),
            mark(Protocol::Anthropic, RouteKind::Messages),
        ));
    }
    snapshot("serve-matrix", &out);
}
