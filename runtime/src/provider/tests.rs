//! Unit tests of the provider table, planner, headers and request building.

use http::{HeaderMap, HeaderValue};
use serde_json::json;

use super::*;
use crate::codegen::{Protocol, RouteKind};
use crate::convert::WireFormat;

fn plan(kind: Kind, protocol: Protocol, route: RouteKind) -> Result<UpstreamPlan, Unsupported> {
    plan_upstream(kind, protocol, route, &ProviderSettings::default())
}

fn chat(kind: Kind) -> Result<UpstreamPlan, Unsupported> {
    plan(kind, Protocol::OpenAi, RouteKind::ChatCompletions)
}

fn messages(kind: Kind) -> Result<UpstreamPlan, Unsupported> {
    plan(kind, Protocol::Anthropic, RouteKind::Messages)
}

#[test]
fn table_rows_follow_kind_order_and_spec_names_round_trip() {
    assert_eq!(table::all().len(), Kind::ALL.len());
    for (row, kind) in table::all().iter().zip(Kind::ALL) {
        assert_eq!(row.kind, kind);
        assert_eq!(info(kind).kind, kind);
        assert_eq!(Kind::from_spec_name(kind.spec_name()), Some(kind));
    }
    let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.spec_name()).collect();
    assert_eq!(
        names,
        [
            "openai",
            "azure-openai",
            "anthropic",
            "dashscope",
            "vllm",
            "moonshot",
            "zhipu",
            "deepseek",
            "ollama",
            "comfyui",
            "openai-compatible",
            "mock"
        ]
    );
    assert_eq!(Kind::from_spec_name("OpenAI"), None);
    assert_eq!(Kind::from_spec_name("azure"), None);
}

#[test]
fn default_base_urls_are_the_public_hosts_and_self_hosted_ones_are_required() {
    let expect = [
        (Kind::OpenAi, Some("https://api.openai.com")),
        (Kind::AzureOpenAi, None),
        (Kind::Anthropic, Some("https://api.anthropic.com")),
        (Kind::DashScope, Some("https://dashscope.aliyuncs.com")),
        (Kind::Vllm, None),
        (Kind::Moonshot, Some("https://api.moonshot.cn")),
        (Kind::Zhipu, Some("https://open.bigmodel.cn")),
        (Kind::DeepSeek, Some("https://api.deepseek.com")),
        (Kind::Ollama, Some("http://127.0.0.1:11434")),
        (Kind::ComfyUi, None),
        (Kind::OpenAiCompatible, None),
    ];
    for (kind, url) in expect {
        assert_eq!(info(kind).default_base_url, url, "{kind}");
    }
}

#[test]
fn anthropic_clients_reach_native_anthropic_endpoints_without_conversion() {
    let expect = [
        (Kind::Anthropic, "/v1/messages"),
        (Kind::DashScope, "/apps/anthropic/v1/messages"),
        (Kind::Moonshot, "/anthropic/v1/messages"),
        (Kind::Zhipu, "/api/anthropic/v1/messages"),
        (Kind::DeepSeek, "/anthropic/v1/messages"),
        (Kind::Ollama, "/v1/messages"),
        (Kind::Mock, "/v1/messages"),
    ];
    for (kind, path) in expect {
        let plan = messages(kind).expect("serves messages");
        assert_eq!(
            (plan.api, plan.path, plan.conversion),
            (UpstreamApi::AnthropicMessages, path, Conversion::None),
            "{kind}"
        );
        assert_eq!(plan.upstream(), WireFormat::Anthropic);
    }
}

#[test]
fn anthropic_clients_to_openai_only_providers_are_converted() {
    for kind in [
        Kind::OpenAi,
        Kind::AzureOpenAi,
        Kind::Vllm,
        Kind::OpenAiCompatible,
    ] {
        let plan = messages(kind).expect("serves messages by conversion");
        assert_eq!(plan.api, UpstreamApi::OpenAiChat, "{kind}");
        assert_eq!(plan.conversion, Conversion::AnthropicToOpenAi, "{kind}");
        assert_eq!(plan.client, WireFormat::Anthropic);
    }
}

#[test]
fn openai_chat_clients_prefer_openai_endpoints_and_convert_for_anthropic() {
    let expect = [
        (Kind::OpenAi, "/v1/chat/completions"),
        (Kind::DashScope, "/compatible-mode/v1/chat/completions"),
        (Kind::Zhipu, "/api/paas/v4/chat/completions"),
        (Kind::DeepSeek, "/chat/completions"),
        (Kind::Moonshot, "/v1/chat/completions"),
        (Kind::Ollama, "/v1/chat/completions"),
        (Kind::Vllm, "/v1/chat/completions"),
    ];
    for (kind, path) in expect {
        let plan = chat(kind).expect("serves chat");
        assert_eq!(
            (plan.path, plan.conversion),
            (path, Conversion::None),
            "{kind}"
        );
    }
    let anthropic = chat(Kind::Anthropic).expect("converted");
    assert_eq!(
        (anthropic.api, anthropic.conversion),
        (
            UpstreamApi::AnthropicMessages,
            Conversion::OpenAiToAnthropic
        )
    );
}

#[test]
fn dashscope_native_setting_switches_only_dashscope_chat() {
    let native = ProviderSettings {
        dashscope_native: true,
        ..ProviderSettings::default()
    };
    let plan = plan_upstream(
        Kind::DashScope,
        Protocol::OpenAi,
        RouteKind::ChatCompletions,
        &native,
    )
    .expect("serves chat");
    assert_eq!(plan.api, UpstreamApi::DashScopeGeneration);
    assert_eq!(plan.conversion, Conversion::OpenAiToDashScope);
    assert_eq!(
        plan.path,
        "/api/v1/services/aigc/text-generation/generation"
    );
    // Anthropic clients keep the native Anthropic endpoint; other providers ignore it.
    let anthropic = plan_upstream(
        Kind::DashScope,
        Protocol::Anthropic,
        RouteKind::Messages,
        &native,
    );
    assert_eq!(anthropic.map(|p| p.conversion), Ok(Conversion::None));
    let openai = plan_upstream(
        Kind::OpenAi,
        Protocol::OpenAi,
        RouteKind::ChatCompletions,
        &native,
    );
    assert_eq!(openai.map(|p| p.api), Ok(UpstreamApi::OpenAiChat));
}

#[test]
fn unsupported_pairs_are_refused_with_a_message_naming_the_provider() {
    let completions = plan(Kind::Anthropic, Protocol::OpenAi, RouteKind::Completions);
    assert!(completions.is_err_and(
        |e| e.message.contains("`anthropic`") && e.message.contains("OpenAI completions")
    ));
    for route in [RouteKind::ChatCompletions, RouteKind::Completions] {
        assert!(plan(Kind::ComfyUi, Protocol::OpenAi, route).is_err());
    }
    assert!(messages(Kind::ComfyUi).is_err());
    // Moonshot and Zhipu have no legacy completions endpoint.
    assert!(!can_serve(
        Kind::Moonshot,
        Protocol::OpenAi,
        RouteKind::Completions
    ));
    assert!(!can_serve(
        Kind::Zhipu,
        Protocol::OpenAi,
        RouteKind::Completions
    ));
    assert!(can_serve(
        Kind::DeepSeek,
        Protocol::OpenAi,
        RouteKind::Completions
    ));
    // A route kind of the other protocol is a caller error, not a plan.
    assert!(plan(Kind::Mock, Protocol::Anthropic, RouteKind::ChatCompletions).is_err());
    assert!(plan(Kind::Mock, Protocol::OpenAi, RouteKind::Messages).is_err());
}

#[test]
fn every_text_provider_serves_both_chat_protocols() {
    for kind in Kind::ALL {
        let text = kind != Kind::ComfyUi;
        assert_eq!(
            can_serve(kind, Protocol::OpenAi, RouteKind::ChatCompletions),
            text,
            "{kind}"
        );
        assert_eq!(
            can_serve(kind, Protocol::Anthropic, RouteKind::Messages),
            text,
            "{kind}"
        );
    }
}

#[test]
fn azure_url_puts_the_encoded_deployment_and_api_version_in_place() {
    let plan = chat(Kind::AzureOpenAi).expect("serves chat");
    let settings = ProviderSettings::default();
    assert_eq!(
        upstream_url("https://res.openai.azure.com/", &plan, "gpt-4o", &settings),
        "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    );
    // A model name cannot add path segments or query parameters.
    let hostile = upstream_url(
        "https://res.openai.azure.com",
        &plan,
        "a/../b?x=1&y",
        &settings,
    );
    assert_eq!(
        hostile,
        "https://res.openai.azure.com/openai/deployments/a%2F..%2Fb%3Fx%3D1%26y/chat/completions?api-version=2024-10-21"
    );
    let preview = ProviderSettings {
        azure_api_version: "2025-01-01-preview",
        ..settings
    };
    assert!(
        upstream_url("https://r", &plan, "m", &preview)
            .ends_with("?api-version=2025-01-01-preview")
    );
}

#[test]
fn base_url_prefix_is_kept_and_model_is_not_in_other_paths() {
    let plan = chat(Kind::OpenAiCompatible).expect("serves chat");
    let url = upstream_url(
        "http://10.0.0.5:8000/llm/",
        &plan,
        "x/y",
        &ProviderSettings::default(),
    );
    assert_eq!(url, "http://10.0.0.5:8000/llm/v1/chat/completions");
}

fn client_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("authorization", "Bearer client-secret"),
        ("x-api-key", "client-secret"),
        ("api-key", "client-secret"),
        ("x-goog-api-key", "client-secret"),
        ("cookie", "session=client-secret"),
        ("openai-organization", "org-client"),
        ("content-type", "application/json"),
        ("x-request-id", "r1"),
    ] {
        headers.insert(
            http::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers
}

fn key() -> UpstreamKey {
    UpstreamKey::new("sk-service\n").expect("valid key")
}

#[test]
fn client_credentials_are_removed_and_the_service_key_inserted_in_its_style() {
    let cases = [
        (Kind::OpenAi, "authorization", "Bearer sk-service"),
        (Kind::AzureOpenAi, "api-key", "sk-service"),
        (Kind::Zhipu, "authorization", "Bearer sk-service"),
        (Kind::DashScope, "authorization", "Bearer sk-service"),
    ];
    for (kind, name, value) in cases {
        let plan = chat(kind).expect("serves chat");
        let mut headers = client_headers();
        apply_upstream_headers(&mut headers, &plan, Some(&key()), false);
        let credentials: Vec<_> = CLIENT_CREDENTIAL_HEADERS
            .iter()
            .filter_map(|header| headers.get(header).map(|v| (header.as_str(), v)))
            .collect();
        assert_eq!(credentials.len(), 1, "{kind}: {credentials:?}");
        assert_eq!(credentials[0].0, name, "{kind}");
        assert_eq!(credentials[0].1, value, "{kind}");
        assert!(credentials[0].1.is_sensitive());
        assert_eq!(
            headers.get("x-request-id").map(|v| v.as_bytes()),
            Some(&b"r1"[..])
        );
    }
}

#[test]
fn without_a_configured_key_no_credential_goes_upstream() {
    let plan = chat(Kind::Ollama).expect("serves chat");
    let mut headers = client_headers();
    apply_upstream_headers(&mut headers, &plan, None, false);
    for header in &CLIENT_CREDENTIAL_HEADERS {
        assert!(!headers.contains_key(header), "{header} leaked");
    }
}

#[test]
fn anthropic_version_is_set_when_converting_and_the_clients_kept_when_native() {
    let converted = chat(Kind::Anthropic).expect("converted");
    let mut headers = client_headers();
    apply_upstream_headers(&mut headers, &converted, Some(&key()), false);
    assert_eq!(
        headers.get("anthropic-version").map(|v| v.as_bytes()),
        Some(&b"2023-06-01"[..])
    );
    assert_eq!(
        headers.get("x-api-key").map(|v| v.as_bytes()),
        Some(&b"sk-service"[..])
    );

    let native = messages(Kind::Anthropic).expect("native");
    let mut headers = client_headers();
    headers.insert("anthropic-version", HeaderValue::from_static("2024-01-01"));
    headers.insert("anthropic-beta", HeaderValue::from_static("tools-2024"));
    apply_upstream_headers(&mut headers, &native, Some(&key()), true);
    assert_eq!(
        headers.get("anthropic-version").map(|v| v.as_bytes()),
        Some(&b"2024-01-01"[..])
    );
    assert!(headers.contains_key("anthropic-beta"));

    // An Anthropic client converted to OpenAI: its anthropic-* headers stay behind.
    let to_openai = messages(Kind::OpenAi).expect("converted");
    apply_upstream_headers(&mut headers, &to_openai, Some(&key()), true);
    assert!(!headers.contains_key("anthropic-version"));
    assert!(!headers.contains_key("anthropic-beta"));
    assert!(!headers.contains_key("x-api-key"));
    assert_eq!(
        headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
}

#[test]
fn dashscope_native_streams_are_switched_on_by_header() {
    let native = ProviderSettings {
        dashscope_native: true,
        ..ProviderSettings::default()
    };
    let plan = plan_upstream(
        Kind::DashScope,
        Protocol::OpenAi,
        RouteKind::ChatCompletions,
        &native,
    )
    .expect("serves chat");
    let mut headers = HeaderMap::new();
    apply_upstream_headers(&mut headers, &plan, None, true);
    assert_eq!(
        headers.get("x-dashscope-sse").map(|v| v.as_bytes()),
        Some(&b"enable"[..])
    );
    apply_upstream_headers(&mut headers, &plan, None, false);
    assert!(!headers.contains_key("x-dashscope-sse"));
}

#[test]
fn keys_never_print_and_bad_keys_are_refused_without_echo() {
    let key = key();
    assert_eq!(format!("{key:?}"), "UpstreamKey(<redacted>)");
    let error = UpstreamKey::new("sk-\u{7}bell").expect_err("control character");
    assert!(!error.to_string().contains("bell"));
}

#[test]
fn bodies_are_converted_and_streams_always_ask_for_usage() {
    let settings = ProviderSettings::default();
    let client = json!({
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": true,
    });
    let same = upstream_body(&chat(Kind::OpenAi).expect("chat"), &client, &settings).expect("ok");
    assert_eq!(same.json["stream_options"], json!({"include_usage": true}));
    assert!(same.stream && !same.client_asked_usage);

    let to_anthropic =
        upstream_body(&chat(Kind::Anthropic).expect("chat"), &client, &settings).expect("ok");
    assert_eq!(to_anthropic.json["max_tokens"], json!(4096));
    assert_eq!(to_anthropic.json["system"][0]["text"], json!("Be brief."));
    assert!(to_anthropic.json.get("stream_options").is_none());

    let native = ProviderSettings {
        dashscope_native: true,
        ..settings
    };
    let dashscope_plan = plan_upstream(
        Kind::DashScope,
        Protocol::OpenAi,
        RouteKind::ChatCompletions,
        &native,
    )
    .expect("chat");
    let to_dashscope = upstream_body(&dashscope_plan, &client, &native).expect("ok");
    assert_eq!(
        to_dashscope.json["parameters"]["incremental_output"],
        json!(true)
    );
    assert_eq!(
        to_dashscope.json["input"]["messages"][1]["content"],
        json!("Hi")
    );

    let asked = json!({"model": "m", "messages": [], "stream": true, "stream_options": {"include_usage": true}});
    let asked = upstream_body(&chat(Kind::OpenAi).expect("chat"), &asked, &settings).expect("ok");
    assert!(asked.client_asked_usage);

    let bad = json!({"model": "m", "messages": "nope"});
    assert!(upstream_body(&chat(Kind::Anthropic).expect("chat"), &bad, &settings).is_err());
}
