//! Lowering: a validated spec -> `ir::Plan`, applying the spec language's defaults and ordering rules.
//!
//! Total by construction: it reads only a [`Valid`] spec, whose references
//! resolve and whose use case + protocol pairs all have catalog routes.

use std::collections::BTreeMap;

use crate::{
    ast::{self, ModelServiceSpec},
    catalog,
    ir::{
        BaseEntry, FailoverPolicy, GatewaySettings, HostEntry, HostPattern, MetricsBalance,
        MockSettings, ModelApi, ModelApiId, ModelRule, ModelService, Monitoring, Plan,
        ProviderOptions, Route, RouteId, Service, ServiceId, ServiceTimeouts, Target,
        TimeoutOverrides, WeightedTarget, WhenAllCooling,
    },
    providers,
    validate::Valid,
};

/// Defaults of the spec language (also written as `default` in the JSON Schema).
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const MAX_REQUEST_BYTES: u64 = 32 * 1024 * 1024;
    pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
    pub const DRAIN_GRACE_MS: u64 = 30_000;
    pub const CONNECT_TIMEOUT_MS: u64 = 2_000;
    pub const FIRST_PACKET_MS: u64 = 0;
    pub const IDLE_MS: u64 = 120_000;
    pub const TOTAL_MS: u64 = 600_000;
    pub const MOCK_LATENCY_MS: u64 = 0;
    pub const MOCK_STREAM_CHUNKS: u32 = 8;
    pub const MOCK_CHUNK_DELAY_MS: u64 = 0;
    pub const MOCK_COMPLETION_TOKENS: u32 = 16;
    pub const RESOURCE_GROUP: &str = "default";
    pub const FAILOVER_BUDGET_MS: u64 = 30_000;
    pub const METRICS_DECAY_MS: u64 = 10_000;
    /// Azure OpenAI's latest GA data-plane version (as the runtime's default).
    pub const AZURE_API_VERSION: &str = "2024-10-21";
    pub const DEFAULT_MAX_TOKENS: u32 = 4096;
}

pub fn lower(valid: &Valid, source: &str) -> Plan {
    let spec = valid.spec();
    let gateway = spec.gateways.first();
    let environment =
        gateway.map_or_else(|| folder_name(source).to_string(), |g| g.name.value.clone());

    let mut services: Vec<&ast::AiService> = spec.services.iter().collect();
    services.sort_by(|a, b| a.name.value.cmp(&b.name.value));
    let service_ids: BTreeMap<&str, ServiceId> = services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.value.as_str(), dense_id(i)))
        .collect();

    let mut apis: Vec<&ast::ModelApi> = spec.model_apis.iter().collect();
    apis.sort_by(|a, b| a.name.value.cmp(&b.name.value));

    let mut routes = Vec::new();
    let mut routes_of_api: Vec<Vec<RouteId>> = Vec::new();
    for (index, api) in apis.iter().enumerate() {
        let catalog_routes = catalog::lookup(api.use_case.value, api.protocol.value)
            .and_then(|e| e.routes)
            .unwrap_or_default();
        let mut ids = Vec::new();
        for route in catalog_routes {
            ids.push(dense_id(routes.len()));
            routes.push(Route {
                model_api: dense_id(index),
                name: route.name,
                kind: route.kind,
                path: route.path,
                methods: route.methods,
            });
        }
        routes_of_api.push(ids);
    }

    let model_apis: Vec<ModelApi> = apis
        .iter()
        .map(|api| lower_model_api(api, &service_ids))
        .collect();
    let hosts = host_table(&model_apis, &routes_of_api);

    Plan {
        environment,
        source: source.to_string(),
        gateway: GatewaySettings {
            listen: gateway
                .and_then(|g| g.listen.as_ref())
                .map_or_else(|| defaults::LISTEN.to_string(), |l| l.value.clone()),
            max_request_bytes: gateway
                .and_then(|g| g.max_request_bytes)
                .unwrap_or(defaults::MAX_REQUEST_BYTES),
            header_read_timeout_ms: gateway
                .and_then(|g| g.header_read_timeout_ms)
                .unwrap_or(defaults::HEADER_READ_TIMEOUT_MS),
            drain_grace_ms: gateway
                .and_then(|g| g.drain_grace_ms)
                .unwrap_or(defaults::DRAIN_GRACE_MS),
        },
        services: services.into_iter().map(lower_service).collect(),
        model_apis,
        routes,
        hosts,
    }
}

/// The last segment of the folder's display path (the environment name without a Gateway).
fn folder_name(source: &str) -> &str {
    source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

/// Ids are `u16`; a spec with more than 65535 items saturates rather than wraps.
fn dense_id(index: usize) -> u16 {
    u16::try_from(index).unwrap_or(u16::MAX)
}

fn lower_service(service: &ast::AiService) -> Service {
    let timeouts = &service.timeouts;
    Service {
        name: service.name.value.clone(),
        file: service.file.clone(),
        provider: service.provider.value,
        base_url: service.base_url.as_ref().map_or_else(
            || {
                providers::facts(service.provider.value)
                    .default_base_url
                    .unwrap_or_default()
                    .to_string()
            },
            |u| u.value.clone(),
        ),
        api_key_env: service.api_key_env.as_ref().map(|e| e.value.clone()),
        timeouts: ServiceTimeouts {
            connect_ms: timeouts.connect_ms.unwrap_or(defaults::CONNECT_TIMEOUT_MS),
            first_packet_ms: timeouts
                .first_packet_ms
                .unwrap_or(defaults::FIRST_PACKET_MS),
            idle_ms: timeouts.idle_ms.unwrap_or(defaults::IDLE_MS),
            total_ms: timeouts.total_ms.unwrap_or(defaults::TOTAL_MS),
        },
        mock: (service.provider.value == crate::ir::Provider::Mock).then(|| {
            let mock = service
                .mock
                .as_ref()
                .map(|m| m.value.clone())
                .unwrap_or_default();
            MockSettings {
                latency_ms: mock.latency_ms.unwrap_or(defaults::MOCK_LATENCY_MS),
                stream_chunks: mock.stream_chunks.unwrap_or(defaults::MOCK_STREAM_CHUNKS),
                chunk_delay_ms: mock.chunk_delay_ms.unwrap_or(defaults::MOCK_CHUNK_DELAY_MS),
                completion_tokens: mock
                    .completion_tokens
                    .unwrap_or(defaults::MOCK_COMPLETION_TOKENS),
                fault: mock.fault,
            }
        }),
        options: ProviderOptions {
            azure_api_version: service
                .azure
                .as_ref()
                .and_then(|a| a.value.api_version.clone())
                .unwrap_or_else(|| defaults::AZURE_API_VERSION.to_string()),
            dashscope_native: service
                .dashscope
                .as_ref()
                .and_then(|d| d.value.native)
                .unwrap_or(false),
            default_max_tokens: service
                .default_max_tokens
                .unwrap_or(defaults::DEFAULT_MAX_TOKENS),
        },
    }
}

fn lower_model_api(api: &ast::ModelApi, service_ids: &BTreeMap<&str, ServiceId>) -> ModelApi {
    let mut domains: Vec<String> = api.domains.iter().map(|d| d.value.clone()).collect();
    domains.sort();
    domains.dedup();
    let monitoring = &api.monitoring;
    let target = |spec: &ast::TargetSpec| Target {
        // Valid guarantees the reference resolves.
        service: service_ids
            .get(spec.service.value.as_str())
            .copied()
            .unwrap_or_default(),
        model: spec.model.clone(),
    };
    let model_service = match &api.model_service {
        ModelServiceSpec::Single(spec) => ModelService::Single(target(spec)),
        ModelServiceSpec::ByModelName(rules) => ModelService::ByModelName(
            rules
                .iter()
                .map(|rule| ModelRule {
                    pattern: rule.pattern.value.clone(),
                    target: target(&rule.target),
                })
                .collect(),
        ),
        ModelServiceSpec::ByProportion { entries, .. } => ModelService::ByProportion(
            entries
                .iter()
                .map(|entry| WeightedTarget {
                    target: target(&entry.target),
                    weight: entry.weight.value,
                })
                .collect(),
        ),
        ModelServiceSpec::ByMetrics {
            targets,
            objective,
            decay_ms,
            ..
        } => ModelService::ByMetrics(MetricsBalance {
            targets: targets.iter().map(target).collect(),
            objective: *objective,
            decay_ms: decay_ms.unwrap_or(defaults::METRICS_DECAY_MS),
        }),
    };
    let failover = &api.failover;
    ModelApi {
        name: api.name.value.clone(),
        file: api.file.clone(),
        use_case: api.use_case.value,
        protocol: api.protocol.value,
        resource_group: api
            .resource_group
            .clone()
            .unwrap_or_else(|| defaults::RESOURCE_GROUP.to_string()),
        base_path: api
            .base_path
            .as_ref()
            .map(|b| b.value.clone())
            .unwrap_or_default(),
        strip_base_path: api.strip_base_path.unwrap_or(false),
        domains,
        monitoring: Monitoring {
            metrics: monitoring.metrics.unwrap_or(true),
            logs: monitoring.logs.unwrap_or(true),
            traces: monitoring.traces.unwrap_or(false),
            record_request: monitoring.record_request.unwrap_or(false),
            record_response: monitoring.record_response.unwrap_or(false),
        },
        model_service,
        fallback: api.fallback.iter().map(target).collect(),
        failover: FailoverPolicy {
            on_client_errors: failover.on_client_errors.unwrap_or(false),
            on_context_length: failover.on_context_length.unwrap_or(false),
            budget_ms: failover.budget_ms.unwrap_or(defaults::FAILOVER_BUDGET_MS),
            when_all_cooling: failover.when_all_cooling.unwrap_or(WhenAllCooling::Reject),
        },
        timeouts: TimeoutOverrides {
            first_packet_ms: api.first_packet_timeout_ms,
            idle_ms: api.idle_timeout_ms,
            total_ms: api.total_timeout_ms,
        },
    }
}

fn host_pattern(domain: &str) -> HostPattern {
    if domain == "*" {
        HostPattern::Any
    } else if let Some(suffix) = domain.strip_prefix('*') {
        HostPattern::Suffix(suffix.to_string())
    } else {
        HostPattern::Exact(domain.to_string())
    }
}

/// Exact hosts sorted by name, then suffixes longest first, then `*`; bases longest first.
fn host_table(apis: &[ModelApi], routes_of_api: &[Vec<RouteId>]) -> Vec<HostEntry> {
    let mut by_host: BTreeMap<HostPattern, Vec<BaseEntry>> = BTreeMap::new();
    for (index, api) in apis.iter().enumerate() {
        for domain in &api.domains {
            by_host
                .entry(host_pattern(domain))
                .or_default()
                .push(BaseEntry {
                    base_path: api.base_path.clone(),
                    model_api: dense_id(index) as ModelApiId,
                    routes: routes_of_api.get(index).cloned().unwrap_or_default(),
                });
        }
    }
    let mut hosts: Vec<HostEntry> = by_host
        .into_iter()
        .map(|(pattern, mut bases)| {
            bases.sort_by(|a, b| {
                b.base_path
                    .len()
                    .cmp(&a.base_path.len())
                    .then_with(|| a.base_path.cmp(&b.base_path))
            });
            HostEntry { pattern, bases }
        })
        .collect();
    hosts.sort_by(|a, b| precedence(&a.pattern).cmp(&precedence(&b.pattern)));
    hosts
}

fn precedence(pattern: &HostPattern) -> (u8, std::cmp::Reverse<usize>, &str) {
    match pattern {
        HostPattern::Exact(host) => (0, std::cmp::Reverse(0), host),
        HostPattern::Suffix(suffix) => (1, std::cmp::Reverse(suffix.len()), suffix),
        HostPattern::Any => (2, std::cmp::Reverse(0), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ir::{MockFault, Provider},
        source::{SourceFile, SpecFolder},
    };

    fn plan(files: &[(&str, &str)]) -> Plan {
        let folder = SpecFolder {
            display: "specs/valid/demo".into(),
            files: files
                .iter()
                .map(|(name, text)| SourceFile {
                    name: (*name).into(),
                    text: (*text).into(),
                })
                .collect(),
        };
        let (valid, _) = crate::check(&folder)
            .unwrap_or_else(|d| panic!("{}", crate::diagnostic::render(&d, &folder, false)));
        lower(&valid, &folder.display)
    }

    fn api(name: &str, domains: &str, extra: &str, service: &str) -> String {
        format!(
            "kind: ModelAPI\nname: {name}\nuseCase: text-generation\nprotocol: openai\ndomains: {domains}\n{extra}modelService:\n  single: {{ service: {service} }}\n"
        )
    }

    #[test]
    fn defaults_apply_and_the_folder_names_the_environment() {
        let text = format!(
            "kind: AIService\nname: m\nprovider: mock\n---\n{}",
            api("chat", "[\"*\"]", "", "m")
        );
        let plan = plan(&[("a.yaml", &text)]);
        assert_eq!(plan.environment, "demo");
        assert_eq!(plan.source, "specs/valid/demo");
        assert_eq!(
            plan.gateway,
            GatewaySettings {
                listen: "127.0.0.1:8080".into(),
                max_request_bytes: 33_554_432,
                header_read_timeout_ms: 10_000,
                drain_grace_ms: 30_000,
            }
        );
        let service = &plan.services[0];
        assert_eq!(service.provider, Provider::Mock);
        assert_eq!(service.base_url, "");
        assert_eq!(
            service.timeouts,
            ServiceTimeouts {
                connect_ms: 2000,
                first_packet_ms: 0,
                idle_ms: 120_000,
                total_ms: 600_000
            }
        );
        assert_eq!(
            service.mock,
            Some(MockSettings {
                latency_ms: 0,
                stream_chunks: 8,
                chunk_delay_ms: 0,
                completion_tokens: 16,
                fault: None
            })
        );
        let api = &plan.model_apis[0];
        assert_eq!(api.file, "a.yaml");
        assert_eq!(api.base_path, "");
        assert!(!api.strip_base_path);
        assert_eq!(api.resource_group, "default");
        assert_eq!(api.timeouts, TimeoutOverrides::default());
        assert!(api.fallback.is_empty());
        assert_eq!(api.failover.budget_ms, 30_000);
        assert_eq!(api.failover.when_all_cooling, WhenAllCooling::Reject);
        assert!(api.monitoring.metrics && api.monitoring.logs && !api.monitoring.traces);
        assert!(!api.monitoring.record_request && !api.monitoring.record_response);
        assert_eq!(
            api.model_service,
            ModelService::Single(Target {
                service: 0,
                model: None
            })
        );
        let names: Vec<&str> = plan.routes.iter().map(|r| r.name).collect();
        assert_eq!(names, ["chat-completions", "completions"]);
    }

    #[test]
    fn ids_follow_name_order_and_hosts_follow_match_precedence() {
        let services = "kind: AIService\nname: zeta\nprovider: openai\nbaseUrl: https://z.example/\napiKey: { env: Z_KEY }\n---\nkind: AIService\nname: alpha\nprovider: mock\nmock: { fault: { type: cut-after-chunks, chunks: 2 } }\n";
        let apis = [
            api(
                "b-api",
                "[\"*\", \"*.x.com\", b.com]",
                "basePath: /llm/\nstripBasePath: true\n",
                "alpha",
            ),
            api(
                "a-api",
                "[a.com, \"*.long.x.com\", b.com, a.com]",
                "",
                "zeta",
            ),
            api("c-api", "[\"*\"]", "basePath: /other\n", "zeta")
                .replace("protocol: openai", "protocol: anthropic"),
        ]
        .join("---\n");
        let plan = plan(&[("apis.yaml", &apis), ("services.yaml", services)]);

        let services: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(services, ["alpha", "zeta"]);
        assert_eq!(plan.services[1].base_url, "https://z.example");
        assert_eq!(plan.services[1].api_key_env.as_deref(), Some("Z_KEY"));
        assert_eq!(plan.services[1].mock, None);
        assert_eq!(
            plan.services[0].mock.unwrap().fault,
            Some(MockFault::CutAfterChunks { chunks: 2 })
        );

        let apis: Vec<&str> = plan.model_apis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(apis, ["a-api", "b-api", "c-api"]);
        assert_eq!(
            plan.model_apis[0].domains,
            ["*.long.x.com", "a.com", "b.com"]
        );
        assert_eq!(
            plan.model_apis[0].model_service,
            ModelService::Single(Target {
                service: 1,
                model: None
            })
        );
        assert_eq!(plan.model_apis[1].base_path, "/llm");

        // Routes grouped per Model API, catalog order inside.
        let routes: Vec<(u16, &str)> = plan.routes.iter().map(|r| (r.model_api, r.name)).collect();
        assert_eq!(
            routes,
            [
                (0, "chat-completions"),
                (0, "completions"),
                (1, "chat-completions"),
                (1, "completions"),
                (2, "messages")
            ]
        );

        let hosts: Vec<&HostPattern> = plan.hosts.iter().map(|h| &h.pattern).collect();
        assert_eq!(
            hosts,
            [
                &HostPattern::Exact("a.com".into()),
                &HostPattern::Exact("b.com".into()),
                &HostPattern::Suffix(".long.x.com".into()),
                &HostPattern::Suffix(".x.com".into()),
                &HostPattern::Any,
            ]
        );
        let b_com: Vec<(&str, u16, &[u16])> = plan.hosts[1]
            .bases
            .iter()
            .map(|b| (b.base_path.as_str(), b.model_api, b.routes.as_slice()))
            .collect();
        assert_eq!(b_com, [("/llm", 1, &[2, 3][..]), ("", 0, &[0, 1][..])]);
        let any: Vec<&str> = plan.hosts[4]
            .bases
            .iter()
            .map(|b| b.base_path.as_str())
            .collect();
        assert_eq!(any, ["/other", "/llm"]);
    }

    #[test]
    fn lowering_is_deterministic_across_file_orders() {
        let a = "kind: AIService\nname: m\nprovider: mock\n";
        let b = api("chat", "[x.com, \"*\"]", "", "m");
        let one = plan(&[("a.yaml", a), ("b.yaml", &b)]);
        let two = plan(&[("a.yaml", &b), ("b.yaml", a)]);
        assert_eq!(one.hosts, two.hosts);
        assert_eq!(one.routes, two.routes);
    }

    #[test]
    fn model_service_modes_fallback_failover_and_timers_lower_as_written() {
        let services = "kind: AIService\nname: b\nprovider: mock\ntimeouts: { firstPacketMs: 100, idleMs: 0 }\n---\nkind: AIService\nname: a\nprovider: mock\n";
        let apis = [
            api("rules", "[r.com]", "", "a").replace(
                "modelService:\n  single: { service: a }\n",
                "modelService:\n  byModelName:\n    - { match: \"*\", service: b }\n    - { match: \"x-*\", service: a, model: m }\nfallback: [ { service: b, model: m2 } ]\nfailover: { onClientErrors: true, budgetMs: 0, whenAllCooling: { waitUpToMs: 2000 } }\nfirstPacketTimeoutMs: 0\ntotalTimeoutMs: 9\n",
            ),
            api("split", "[s.com]", "", "a").replace(
                "  single: { service: a }\n",
                "  byProportion:\n    - { service: b, weight: 2.5 }\n    - { service: a, weight: 0 }\n",
            ),
            api("metrics", "[m.com]", "", "a").replace(
                "  single: { service: a }\n",
                "  byMetrics: { targets: [ { service: b }, { service: a } ], objective: leastBusy }\n",
            ),
        ]
        .join("---\n");
        let plan = plan(&[("apis.yaml", &apis), ("services.yaml", services)]);
        assert_eq!(
            plan.services[1].timeouts,
            ServiceTimeouts {
                connect_ms: 2000,
                first_packet_ms: 100,
                idle_ms: 0,
                total_ms: 600_000
            }
        );
        let [metrics, rules, split] = &plan.model_apis[..] else {
            panic!("three APIs");
        };
        // Rules stay in declaration order; ids follow service names (a = 0, b = 1).
        assert_eq!(
            rules.model_service,
            ModelService::ByModelName(vec![
                ModelRule {
                    pattern: "*".into(),
                    target: Target {
                        service: 1,
                        model: None
                    }
                },
                ModelRule {
                    pattern: "x-*".into(),
                    target: Target {
                        service: 0,
                        model: Some("m".into())
                    }
                },
            ])
        );
        assert_eq!(
            rules.fallback,
            [Target {
                service: 1,
                model: Some("m2".into())
            }]
        );
        assert_eq!(
            rules.failover,
            FailoverPolicy {
                on_client_errors: true,
                on_context_length: false,
                budget_ms: 0,
                when_all_cooling: WhenAllCooling::WaitUpTo { ms: 2000 }
            }
        );
        assert_eq!(
            rules.timeouts,
            TimeoutOverrides {
                first_packet_ms: Some(0),
                idle_ms: None,
                total_ms: Some(9)
            }
        );
        assert_eq!(
            split.model_service,
            ModelService::ByProportion(vec![
                WeightedTarget {
                    target: Target {
                        service: 1,
                        model: None
                    },
                    weight: 2.5
                },
                WeightedTarget {
                    target: Target {
                        service: 0,
                        model: None
                    },
                    weight: 0.0
                },
            ])
        );
        assert_eq!(
            metrics.model_service,
            ModelService::ByMetrics(MetricsBalance {
                targets: vec![
                    Target {
                        service: 1,
                        model: None
                    },
                    Target {
                        service: 0,
                        model: None
                    }
                ],
                objective: crate::ir::Objective::LeastBusy,
                decay_ms: 10_000,
            })
        );
    }

    #[test]
    fn base_urls_default_per_provider_and_provider_settings_are_lowered() {
        let services = "kind: AIService\nname: claude\nprovider: anthropic\ndefaultMaxTokens: 8192\n---\nkind: AIService\nname: qwen\nprovider: dashscope\ndashscope: { api: native }\n---\nkind: AIService\nname: azure\nprovider: azure-openai\nbaseUrl: https://r.openai.azure.com/\nazure: { apiVersion: \"2024-06-01\" }\n---\nkind: AIService\nname: local\nprovider: ollama\n";
        let apis = api("chat", "[\"*\"]", "", "qwen")
            + "fallback:\n  - { service: azure }\n  - { service: local }\n---\n"
            + &api("msg", "[\"*\"]", "basePath: /a\n", "claude")
                .replace("protocol: openai", "protocol: anthropic");
        let plan = plan(&[("s.yaml", services), ("a.yaml", &apis)]);
        let by_name = |name: &str| {
            plan.services
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("service {name}"))
        };
        let claude = by_name("claude");
        assert_eq!(claude.provider, Provider::Anthropic);
        assert_eq!(claude.base_url, "https://api.anthropic.com");
        assert_eq!(claude.options.default_max_tokens, 8192);
        assert!(!claude.options.dashscope_native);
        let qwen = by_name("qwen");
        assert_eq!(qwen.base_url, "https://dashscope.aliyuncs.com");
        assert!(qwen.options.dashscope_native);
        assert_eq!(qwen.options.default_max_tokens, 4096);
        let azure = by_name("azure");
        assert_eq!(azure.base_url, "https://r.openai.azure.com");
        assert_eq!(azure.options.azure_api_version, "2024-06-01");
        assert_eq!(by_name("local").base_url, "http://127.0.0.1:11434");
        assert_eq!(by_name("local").options.azure_api_version, "2024-10-21");
    }
}
