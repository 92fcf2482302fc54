//! Renders the plan as the route table reviewers read in pull requests (`gatesmith routes`, `routes@` snapshots).
//!
//! Blocks follow the matcher's precedence exactly (hosts in match order,
//! bases longest first), so the text answers "which Model API gets this
//! request?" without reading the generated Rust. Names only, no ids or
//! pointers; columns are aligned so a one-field change is a one-line diff.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::emit::{base_path_text, host_pattern_text};
use crate::glob;
use crate::ir::{
    FailoverPolicy, HostEntry, HostPattern, MockFault, MockSettings, ModelApi, ModelService,
    Objective, Plan, Provider, Route, Service, ServiceId, ServiceTimeouts, Target, WhenAllCooling,
};
use crate::providers::{self, UpstreamApi};

/// The whole table: gateway settings, one block per host pattern in match
/// order, then the services.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    render_gateway(plan, &mut out);
    if plan.hosts.is_empty() {
        out.push_str("\nno Model APIs: every request gets 404\n");
    }
    for host in &plan.hosts {
        out.push('\n');
        render_host(plan, host, &mut out);
    }
    out.push('\n');
    render_services(plan, &mut out);
    out
}

fn render_gateway(plan: &Plan, out: &mut String) {
    let g = &plan.gateway;
    let _ = writeln!(out, "gateway {} (from {})", plan.environment, plan.source);
    let _ = writeln!(out, "  listen {}", g.listen);
    let _ = writeln!(
        out,
        "  max request {} bytes, header read timeout {} ms, drain grace {} ms",
        g.max_request_bytes, g.header_read_timeout_ms, g.drain_grace_ms
    );
}

fn render_host(plan: &Plan, host: &HostEntry, out: &mut String) {
    let kind = match host.pattern {
        HostPattern::Exact(_) => "exact",
        HostPattern::Suffix(_) => "suffix",
        HostPattern::Any => "any",
    };
    let _ = writeln!(out, "host {} ({kind})", host_pattern_text(&host.pattern));
    for base in &host.bases {
        let api = &plan.model_apis[usize::from(base.model_api)];
        let stripped = if api.strip_base_path {
            " (stripped)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  base {}{stripped} -> ModelAPI {} ({}, {}, resource group {}) in {}",
            base_path_text(&base.base_path),
            api.name,
            api.protocol.spec_name(),
            api.use_case.spec_name(),
            api.resource_group,
            api.file,
        );
        let routes = base
            .routes
            .iter()
            .map(|&id| &plan.routes[usize::from(id)])
            .collect::<Vec<_>>();
        let name_width = routes.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let methods = routes
            .iter()
            .map(|r| {
                r.methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>();
        let methods_width = methods.iter().map(String::len).max().unwrap_or(0);
        if routes.is_empty() {
            out.push_str("    no routes\n");
        }
        for (route, methods) in routes.iter().zip(&methods) {
            let _ = writeln!(
                out,
                "    route {:name_width$}  {:methods_width$} {}{}",
                route.name, methods, base.base_path, route.path,
            );
            for line in upstream_lines(plan, api, route) {
                let _ = writeln!(out, "      {line}");
            }
        }
        render_model_api_settings(plan, api, out);
    }
}

fn render_model_api_settings(plan: &Plan, api: &ModelApi, out: &mut String) {
    render_model_service(plan, &api.model_service, out);
    if api.fallback.is_empty() {
        out.push_str("    fallback: none\n");
    } else {
        let chain = api
            .fallback
            .iter()
            .map(|t| target_text(plan, t))
            .collect::<Vec<_>>();
        let _ = writeln!(out, "    fallback: {}", chain.join(" -> "));
    }
    let _ = writeln!(out, "    failover: {}", failover_text(&api.failover));
    for (service, timers) in effective_timers(plan, api) {
        let _ = writeln!(
            out,
            "    timers via {}: {}",
            plan.services[usize::from(service)].name,
            timers_text(&timers)
        );
    }
    let m = api.monitoring;
    let flags = [
        (m.metrics, "metrics"),
        (m.logs, "logs"),
        (m.traces, "traces"),
        (m.record_request, "request bodies"),
        (m.record_response, "response bodies"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name)
    .collect::<Vec<_>>();
    let flags = if flags.is_empty() {
        "off".to_owned()
    } else {
        flags.join(", ")
    };
    let _ = writeln!(out, "    monitoring: {flags}");
}

/// The primary-target strategy; `byModelName` rules in PRECEDENCE order
/// with their declaration index.
fn render_model_service(plan: &Plan, service: &ModelService, out: &mut String) {
    match service {
        ModelService::Single(target) => {
            let _ = writeln!(
                out,
                "    model service: single -> {}",
                target_text(plan, target)
            );
        }
        ModelService::ByModelName(rules) => {
            out.push_str("    model service: by model name (first match wins, in this order)\n");
            let patterns: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
            let width = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
            let mut catch_all = false;
            for index in glob::precedence_order(&patterns) {
                let rule = &rules[index];
                catch_all |= glob::shape(&rule.pattern) == glob::Shape::Any;
                let _ = writeln!(
                    out,
                    "      rule {index}: {:width$} -> {}",
                    rule.pattern,
                    target_text(plan, &rule.target)
                );
            }
            if !catch_all {
                out.push_str("      any other model: 404\n");
            }
        }
        ModelService::ByProportion(entries) => {
            out.push_str("    model service: by proportion\n");
            let sum: f64 = entries.iter().map(|e| e.weight).sum();
            for entry in entries {
                let _ = writeln!(
                    out,
                    "      {} -> {}",
                    share_text(entry.weight, sum),
                    target_text(plan, &entry.target)
                );
            }
        }
        ModelService::ByMetrics(balance) => {
            let _ = writeln!(
                out,
                "    model service: by metrics (lowest {}, observations decay with half-life {} ms) among:",
                objective_text(balance.objective),
                balance.decay_ms
            );
            for target in &balance.targets {
                let _ = writeln!(out, "      {}", target_text(plan, target));
            }
        }
    }
}

/// `weight 2.5 (71.4%)`; weights are written without a trailing `.0`.
pub fn share_text(weight: f64, sum: f64) -> String {
    let percent = if sum > 0.0 { weight / sum * 100.0 } else { 0.0 };
    format!("weight {weight} ({percent:.1}%)")
}

pub fn objective_text(objective: Objective) -> &'static str {
    match objective {
        Objective::Latency => "latency",
        Objective::FirstTokenLatency => "first-token latency",
        Objective::LeastBusy => "requests in flight",
    }
}

/// `openai (model rewritten to gpt-4o-mini)` or `openai (model passed through)`.
pub fn target_text(plan: &Plan, target: &Target) -> String {
    let service = plan
        .services
        .get(usize::from(target.service))
        .map_or("?", |s| s.name.as_str());
    match &target.model {
        Some(model) => format!("{service} (model rewritten to {model})"),
        None => format!("{service} (model passed through)"),
    }
}

pub fn failover_text(failover: &FailoverPolicy) -> String {
    let also = match (failover.on_client_errors, failover.on_context_length) {
        (false, false) => "not on client errors or context length",
        (true, false) => "also on client errors, not on context length",
        (false, true) => "also on context length, not on other client errors",
        (true, true) => "also on client errors and context length",
    };
    let budget = match failover.budget_ms {
        0 => "no time budget".to_owned(),
        ms => format!("budget {ms} ms"),
    };
    let cooling = match failover.when_all_cooling {
        WhenAllCooling::Reject => "when all cooling reject with 503".to_owned(),
        WhenAllCooling::WaitUpTo { ms } => format!("when all cooling wait up to {ms} ms"),
    };
    format!("{also}, {budget}, {cooling}")
}

/// Every service this API can reach (primary targets and fallback), in id order.
pub fn reachable_services(api: &ModelApi) -> BTreeSet<ServiceId> {
    let primary: Vec<&Target> = match &api.model_service {
        ModelService::Single(target) => vec![target],
        ModelService::ByModelName(rules) => rules.iter().map(|r| &r.target).collect(),
        ModelService::ByProportion(entries) => entries.iter().map(|e| &e.target).collect(),
        ModelService::ByMetrics(balance) => balance.targets.iter().collect(),
    };
    primary
        .into_iter()
        .chain(&api.fallback)
        .map(|t| t.service)
        .collect()
}

/// Per reachable service, what `route` becomes upstream: `via claude
/// (anthropic): anthropic messages, https://api.anthropic.com/v1/messages,
/// converts openai -> anthropic`.
pub fn upstream_lines(plan: &Plan, api: &ModelApi, route: &Route) -> Vec<String> {
    reachable_services(api)
        .into_iter()
        .filter_map(|id| plan.services.get(usize::from(id)))
        .map(|service| {
            let how = match providers::serve(
                service.provider,
                api.protocol,
                route.kind,
                service.options.dashscope_native,
            ) {
                Some(serving) => {
                    let url = if service.base_url.is_empty() {
                        "built in".to_owned()
                    } else {
                        format!("{}{}", service.base_url, serving.endpoint.path)
                    };
                    format!(
                        "{}, {url}, {}",
                        serving.endpoint.api.display_name(),
                        serving.conversion.display_text()
                    )
                }
                // Validation rejects such specs; hand-built plans may still hold one.
                None => "cannot serve this route: requests sent here fail".to_owned(),
            };
            format!(
                "via {} ({}): {how}",
                service.name,
                service.provider.spec_name()
            )
        })
        .collect()
}

/// The timers each service this API can reach runs with after the API's
/// overrides, by service id (primary targets and fallback).
pub fn effective_timers(plan: &Plan, api: &ModelApi) -> Vec<(ServiceId, ServiceTimeouts)> {
    reachable_services(api)
        .into_iter()
        .filter_map(|id| {
            let service = plan.services.get(usize::from(id))?;
            Some((id, api.timeouts.apply(&service.timeouts)))
        })
        .collect()
}

fn render_services(plan: &Plan, out: &mut String) {
    if plan.services.is_empty() {
        out.push_str("no services\n");
        return;
    }
    out.push_str("services\n");
    let name_width = plan
        .services
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    let provider_width = plan
        .services
        .iter()
        .map(|s| s.provider.spec_name().len())
        .max()
        .unwrap_or(0);
    for service in &plan.services {
        render_service(service, name_width, provider_width, out);
    }
}

fn render_service(service: &Service, name_width: usize, provider_width: usize, out: &mut String) {
    let facts = providers::facts(service.provider);
    let target = if service.base_url.is_empty() {
        "(built in)".to_owned()
    } else if facts.default_base_url == Some(service.base_url.as_str()) {
        format!("{} (provider default)", service.base_url)
    } else {
        service.base_url.clone()
    };
    let _ = writeln!(
        out,
        "  service {:name_width$}  {:provider_width$}  {target} in {}",
        service.name,
        service.provider.spec_name(),
        service.file,
    );
    if let Some(env) = &service.api_key_env {
        let _ = writeln!(out, "    api key from env {env}");
    }
    let _ = writeln!(out, "    timeouts: {}", timers_text(&service.timeouts));
    let options = options_text(service);
    if !options.is_empty() {
        let _ = writeln!(out, "    options: {}", options.join(", "));
    }
    if let Some(mock) = &service.mock {
        let _ = writeln!(out, "    mock: {}", mock_text(mock));
    }
}

/// The provider settings that matter for this service: the Azure API
/// version, the DashScope API mode, and the `max_tokens` default wherever an
/// Anthropic endpoint may be called.
pub fn options_text(service: &Service) -> Vec<String> {
    let facts = providers::facts(service.provider);
    let mut options = Vec::new();
    if service.provider == Provider::AzureOpenAi {
        options.push(format!(
            "azure api-version {}",
            service.options.azure_api_version
        ));
    }
    if service.provider == Provider::DashScope {
        let mode = if service.options.dashscope_native {
            "native"
        } else {
            "compatible"
        };
        options.push(format!("dashscope api {mode}"));
    }
    if facts.endpoint(UpstreamApi::AnthropicMessages).is_some() {
        options.push(format!(
            "default max_tokens {}",
            service.options.default_max_tokens
        ));
    }
    options
}

/// `connect 2000 ms, first packet off, idle 120000 ms, total 600000 ms`.
pub fn timers_text(timers: &ServiceTimeouts) -> String {
    format!(
        "connect {}, first packet {}, idle {}, total {}",
        timer_text(timers.connect_ms),
        timer_text(timers.first_packet_ms),
        timer_text(timers.idle_ms),
        timer_text(timers.total_ms)
    )
}

/// `0` disables a timer.
fn timer_text(ms: u64) -> String {
    match ms {
        0 => "off".to_owned(),
        ms => format!("{ms} ms"),
    }
}

fn mock_text(mock: &MockSettings) -> String {
    let fault = match mock.fault {
        None => "no fault".to_owned(),
        Some(MockFault::Status(status)) => format!("fault status {status}"),
        Some(MockFault::StallBeforeHead { ms }) => format!("fault stall {ms} ms before head"),
        Some(MockFault::StallBeforeFirstChunk { ms }) => {
            format!("fault stall {ms} ms before first chunk")
        }
        Some(MockFault::StallAfterChunks { chunks, ms }) => {
            format!("fault stall {ms} ms after {chunks} chunks")
        }
        Some(MockFault::CutAfterChunks { chunks }) => format!("fault cut after {chunks} chunks"),
        Some(MockFault::MalformedAfterChunks { chunks }) => {
            format!("fault malformed event after {chunks} chunks")
        }
    };
    format!(
        "latency {} ms, {} stream chunks, chunk delay {} ms, {} completion tokens, {fault}",
        mock.latency_ms, mock.stream_chunks, mock.chunk_delay_ms, mock.completion_tokens
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::tests::{empty_plan, sample_plan};

    #[test]
    fn blocks_follow_match_order_with_full_client_paths() {
        let table = render(&sample_plan());
        let hosts: Vec<&str> = table.lines().filter(|l| l.starts_with("host ")).collect();
        assert_eq!(
            hosts,
            [
                "host api.example.com (exact)",
                "host llm.example.com (exact)",
                "host www.example.com (exact)",
                "host *.example.com (suffix)",
                "host * (any)",
            ]
        );
        assert!(table.contains(
            "host api.example.com (exact)\n  base /team/a (stripped) -> ModelAPI team-a (openai, text-generation, resource group default) in team-a.yaml\n"
        ), "{table}");
        assert!(
            table.contains("    route chat-completions  POST /team/a/v1/chat/completions\n"),
            "{table}"
        );
        assert!(
            table.contains("    route models            GET  /team/a/v1/chat/completions\n"),
            "{table}"
        );
        assert!(table.contains("    model service: single -> openai (model passed through)\n"));
        assert!(
            table.contains("    model service: single -> mock (model rewritten to mock-small)\n")
        );
        assert!(table.contains("  base /team (stripped) -> ModelAPI team_a"));
        assert!(table.contains("    no routes\n"));
    }

    #[test]
    fn services_show_key_names_timeouts_and_mock_behaviour_but_no_secrets() {
        let table = render(&sample_plan());
        let services = &table[table.find("\nservices\n").expect("services section")..];
        assert!(
            services.contains("  service mock    mock    (built in) in services.yaml\n"),
            "{services}"
        );
        assert!(
            services
                .contains("  service openai  openai  https://api.openai.com (provider default) in services.yaml\n"),
            "{services}"
        );
        assert!(services.contains("    api key from env OPENAI_API_KEY\n"));
        assert!(services.contains(
            "    timeouts: connect 2000 ms, first packet off, idle 120000 ms, total 600000 ms\n"
        ));
        assert!(services.contains(
            "    mock: latency 0 ms, 8 stream chunks, chunk delay 5 ms, 16 completion tokens, fault stall 100 ms after 2 chunks\n"
        ));
    }

    #[test]
    fn rendering_is_stable_and_an_empty_plan_says_so() {
        assert_eq!(render(&sample_plan()), render(&sample_plan()));
        let table = render(&empty_plan());
        assert!(
            table.contains("no Model APIs: every request gets 404\n"),
            "{table}"
        );
        assert!(table.ends_with("no services\n"), "{table}");
    }

    /// Compiles one spec file (warnings allowed).
    fn compiled(text: &str) -> Plan {
        let folder = crate::source::SpecFolder {
            display: "specs/t".into(),
            files: vec![crate::source::SourceFile {
                name: "a.yaml".into(),
                text: text.into(),
            }],
        };
        crate::compile(&folder)
            .unwrap_or_else(|d| panic!("{}", crate::diagnostic::render(&d, &folder, false)))
            .plan
    }

    #[test]
    fn each_route_shows_the_upstream_api_url_and_conversion_per_service() {
        let plan = compiled(
            "kind: AIService\nname: claude\nprovider: anthropic\n---\nkind: AIService\nname: qwen\nprovider: dashscope\ndashscope: { api: native }\n---\nkind: ModelAPI\nname: chat\nuseCase: text-generation\nprotocol: openai\ndomains: [\"*\"]\nmodelService:\n  single: { service: qwen }\nfallback:\n  - { service: claude }\n",
        );
        let table = render(&plan);
        for line in [
            "    route chat-completions  POST /v1/chat/completions\n",
            "      via claude (anthropic): anthropic messages, https://api.anthropic.com/v1/messages, converts openai -> anthropic\n",
            "      via qwen (dashscope): dashscope text-generation, https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation, converts openai -> dashscope\n",
            "      via claude (anthropic): cannot serve this route: requests sent here fail\n",
            "      via qwen (dashscope): openai completions, https://dashscope.aliyuncs.com/compatible-mode/v1/completions, native\n",
            "  service claude  anthropic  https://api.anthropic.com (provider default) in a.yaml\n",
            "    options: dashscope api native, default max_tokens 4096\n",
        ] {
            assert!(table.contains(line), "missing {line:?} in\n{table}");
        }
    }
}
