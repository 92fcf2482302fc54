//! The compiler's provider table (`compiler/src/providers.rs`) mirrors the runtime's (`runtime/src/provider/`): this test keeps the two equal.
//!
//! The compiler cannot depend on the runtime, so both hold the facts as
//! plain data; a drift would let the compiler accept a spec the gateway
//! cannot serve (or reject one it can), or show wrong upstream URLs in the
//! route table.

use gatesmith::catalog::{Protocol, RouteKind};
use gatesmith::ir::Provider;
use gatesmith::providers;
use gatesmith_runtime::codegen;
use gatesmith_runtime::provider::{Kind, ProviderSettings, can_serve, plan_upstream, table};

/// The client APIs a Model API can expose, in both crates' terms.
const CLIENT_ROUTES: [(Protocol, RouteKind, codegen::Protocol, codegen::RouteKind); 3] = [
    (
        Protocol::OpenAi,
        RouteKind::ChatCompletions,
        codegen::Protocol::OpenAi,
        codegen::RouteKind::ChatCompletions,
    ),
    (
        Protocol::OpenAi,
        RouteKind::Completions,
        codegen::Protocol::OpenAi,
        codegen::RouteKind::Completions,
    ),
    (
        Protocol::Anthropic,
        RouteKind::Messages,
        codegen::Protocol::Anthropic,
        codegen::RouteKind::Messages,
    ),
];

fn pairs() -> impl Iterator<Item = (Provider, Kind)> {
    Provider::ALL.into_iter().zip(Kind::ALL)
}

#[test]
fn both_tables_list_the_same_providers_in_the_same_order() {
    assert_eq!(Provider::ALL.len(), Kind::ALL.len());
    for (provider, kind) in pairs() {
        assert_eq!(provider.spec_name(), kind.spec_name());
        assert_eq!(provider.runtime_variant(), format!("{kind:?}"));
    }
}

#[test]
fn default_base_urls_and_native_endpoints_agree() {
    for (provider, kind) in pairs() {
        let mirror = providers::facts(provider);
        let row = table::info(kind);
        assert_eq!(mirror.default_base_url, row.default_base_url, "{kind}");
        let mirror_endpoints: Vec<String> = mirror
            .endpoints
            .iter()
            .map(|e| format!("{:?} {} {:?}", e.api, e.path, e.credential))
            .collect();
        let runtime_endpoints: Vec<String> = row
            .endpoints
            .iter()
            .map(|e| format!("{:?} {} {:?}", e.api, e.path, e.credential))
            .collect();
        assert_eq!(mirror_endpoints, runtime_endpoints, "{kind}");
    }
}

#[test]
fn what_each_provider_can_serve_and_how_agree() {
    for (provider, kind) in pairs() {
        for (protocol, route, runtime_protocol, runtime_route) in CLIENT_ROUTES {
            assert_eq!(
                providers::can_serve(provider, protocol, route),
                can_serve(kind, runtime_protocol, runtime_route),
                "{kind} {route:?}"
            );
            for dashscope_native in [false, true] {
                let settings = ProviderSettings {
                    dashscope_native,
                    ..ProviderSettings::default()
                };
                let mirror =
                    providers::serve(provider, protocol, route, dashscope_native).map(|s| {
                        format!(
                            "{:?} {} {:?}",
                            s.endpoint.api, s.endpoint.path, s.conversion
                        )
                    });
                let runtime = plan_upstream(kind, runtime_protocol, runtime_route, &settings)
                    .ok()
                    .map(|p| format!("{:?} {} {:?}", p.api, p.path, p.conversion));
                assert_eq!(
                    mirror, runtime,
                    "{kind} {route:?} native={dashscope_native}"
                );
            }
        }
    }
}

#[test]
fn setting_defaults_agree() {
    let runtime = ProviderSettings::default();
    assert_eq!(
        gatesmith::lower::defaults::AZURE_API_VERSION,
        runtime.azure_api_version
    );
    assert_eq!(
        u64::from(gatesmith::lower::defaults::DEFAULT_MAX_TOKENS),
        runtime.default_max_tokens
    );
    assert_eq!(
        gatesmith::lower::defaults::AZURE_API_VERSION,
        codegen::ProviderOptions::DEFAULT.azure_api_version
    );
}
