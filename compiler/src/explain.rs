//! `gatesmith explain`: which route a request would match and which targets it would try, in what order and why, without sending anything.
//!
//! Matching runs over the IR with the generated matcher's precedence (hosts
//! exact, then `*.suffix` longest first, then `*`; bases longest first at a
//! segment boundary; then path and method) and the model rules go through
//! `glob`, the same code the emitter compiles them with, so the answer is
//! the gateway's answer. The compiler never depends on the runtime.

use std::fmt::Write;

use crate::emit::{base_path_text, host_pattern_text};
use crate::glob;
use crate::ir::{BaseEntry, HostEntry, HostPattern, ModelApi, ModelService, Plan, Route, Target};
use crate::routes_table::{
    failover_text, objective_text, share_text, target_text, timers_text, upstream_lines,
};

/// The request to explain.
#[derive(Debug, Clone)]
pub struct Request {
    /// As a client sends it; lower-cased and stripped of its port like the gateway does.
    pub host: String,
    /// The query string, if any, is ignored.
    pub path: String,
    pub method: String,
    /// The request body's `model`, when known.
    pub model: Option<String>,
}

/// Where matching ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<'p> {
    /// No host entry or no base path owns the request: 404.
    NotFound { host: Option<&'p HostEntry> },
    /// A Model API owns the base but has no route at this path: 404.
    NoRoute {
        host: &'p HostEntry,
        base: &'p BaseEntry,
    },
    /// The path exists for other methods only: 405.
    MethodNotAllowed {
        host: &'p HostEntry,
        base: &'p BaseEntry,
        allowed: Vec<&'static str>,
    },
    Found {
        host: &'p HostEntry,
        base: &'p BaseEntry,
        route: &'p Route,
    },
}

/// The gateway's host normalization: lower case, port removed.
fn normalize_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        // `[::1]:8080` -> `[::1]`.
        return host
            .split_once(']')
            .map_or(host.clone(), |(ip, _)| format!("{ip}]"));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_owned(),
        _ => host,
    }
}

fn host_matches(pattern: &HostPattern, host: &str) -> bool {
    match pattern {
        HostPattern::Exact(exact) => exact == host,
        HostPattern::Suffix(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        HostPattern::Any => true,
    }
}

/// `codegen::strip_base`: a base path matches at a segment boundary.
fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Matches like the generated `match_route`.
pub fn match_route<'p>(plan: &'p Plan, host: &str, path: &str, method: &str) -> Outcome<'p> {
    let host = normalize_host(host);
    let path = path.split('?').next().unwrap_or_default();
    let Some(entry) = plan.hosts.iter().find(|h| host_matches(&h.pattern, &host)) else {
        return Outcome::NotFound { host: None };
    };
    let Some((base, rest)) = entry
        .bases
        .iter()
        .find_map(|b| Some((b, strip_base(path, &b.base_path)?)))
    else {
        return Outcome::NotFound { host: Some(entry) };
    };
    let at_path: Vec<&Route> = base
        .routes
        .iter()
        .filter_map(|&id| plan.routes.get(usize::from(id)))
        .filter(|r| r.path == rest)
        .collect();
    if let Some(route) = at_path.iter().find(|r| {
        r.methods
            .iter()
            .any(|m| m.as_str().eq_ignore_ascii_case(method))
    }) {
        return Outcome::Found {
            host: entry,
            base,
            route,
        };
    }
    if at_path.is_empty() {
        return Outcome::NoRoute { host: entry, base };
    }
    let mut allowed: Vec<_> = at_path
        .iter()
        .flat_map(|r| r.methods.iter().copied())
        .collect();
    allowed.sort();
    allowed.dedup();
    Outcome::MethodNotAllowed {
        host: entry,
        base,
        allowed: allowed.into_iter().map(|m| m.as_str()).collect(),
    }
}

/// The full explanation, as `gatesmith explain` prints it.
pub fn explain(plan: &Plan, request: &Request) -> String {
    let mut out = String::new();
    let method = request.method.to_ascii_uppercase();
    let _ = writeln!(
        out,
        "request: {method} {}{}{}",
        normalize_host(&request.host),
        request.path,
        request
            .model
            .as_ref()
            .map_or(String::new(), |m| format!(" (model {m})"))
    );
    let base = match match_route(plan, &request.host, &request.path, &method) {
        Outcome::NotFound { host: None } => {
            out.push_str("host: no host entry matches: 404 not found\n");
            return out;
        }
        Outcome::NotFound { host: Some(host) } => {
            write_host(&mut out, host);
            let bases: Vec<&str> = host
                .bases
                .iter()
                .map(|b| base_path_text(&b.base_path))
                .collect();
            let _ = writeln!(
                out,
                "base: none of {} is a prefix of the path: 404 not found",
                bases.join(", ")
            );
            return out;
        }
        Outcome::NoRoute { host, base } => {
            write_host(&mut out, host);
            write_base(&mut out, plan, base);
            let api = &plan.model_apis[usize::from(base.model_api)];
            let _ = writeln!(
                out,
                "route: ModelAPI {} has no route at this path: 404 not found in its {} error format",
                api.name,
                api.protocol.spec_name()
            );
            return out;
        }
        Outcome::MethodNotAllowed {
            host,
            base,
            allowed,
        } => {
            write_host(&mut out, host);
            write_base(&mut out, plan, base);
            let _ = writeln!(
                out,
                "route: the path exists for {} only: 405 method not allowed (Allow: {})",
                allowed.join(", "),
                allowed.join(", ")
            );
            return out;
        }
        Outcome::Found { host, base, route } => {
            write_host(&mut out, host);
            write_base(&mut out, plan, base);
            let api = &plan.model_apis[usize::from(base.model_api)];
            let forwarded = if api.strip_base_path {
                route.path.to_owned()
            } else {
                format!("{}{}", base.base_path, route.path)
            };
            let _ = writeln!(
                out,
                "route: {} ({} {}), forwarded upstream as {forwarded}",
                route.name,
                route
                    .methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                route.path
            );
            for line in upstream_lines(plan, api, route) {
                let _ = writeln!(out, "  upstream {line}");
            }
            base
        }
    };
    let api = &plan.model_apis[usize::from(base.model_api)];
    explain_targets(plan, api, request.model.as_deref(), &mut out);
    out
}

fn write_host(out: &mut String, host: &HostEntry) {
    let kind = match host.pattern {
        HostPattern::Exact(_) => "exact host",
        HostPattern::Suffix(_) => "subdomain wildcard",
        HostPattern::Any => "any host",
    };
    let _ = writeln!(
        out,
        "host: matches `{}` ({kind})",
        host_pattern_text(&host.pattern)
    );
}

fn write_base(out: &mut String, plan: &Plan, base: &BaseEntry) {
    let api = &plan.model_apis[usize::from(base.model_api)];
    let _ = writeln!(
        out,
        "base: {} -> ModelAPI {} ({} protocol) in {}",
        base_path_text(&base.base_path),
        api.name,
        api.protocol.spec_name(),
        api.file
    );
}

/// One line of the attempt order.
struct Attempt<'p> {
    target: &'p Target,
    why: String,
}

/// The model service decision, then the fallback chain without repeats,
/// then failover and timers.
fn explain_targets(plan: &Plan, api: &ModelApi, model: Option<&str>, out: &mut String) {
    // The primary target when it is known at compile time, plus candidates
    // that may be chosen at run time.
    let mut primary: Option<Attempt> = None;
    let mut candidates: Vec<&Target> = Vec::new();
    match &api.model_service {
        ModelService::Single(target) => {
            out.push_str("model service: single\n");
            primary = Some(Attempt {
                target,
                why: "primary (single)".to_owned(),
            });
        }
        ModelService::ByModelName(rules) => {
            let patterns: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
            out.push_str("model service: by model name (exact, then more literal characters, then declaration order)\n");
            match model {
                None => {
                    out.push_str("  no --model given: the rule depends on the request's model; rules in precedence order:\n");
                    for index in glob::precedence_order(&patterns) {
                        let _ = writeln!(
                            out,
                            "    rule {index}: {} -> {}",
                            rules[index].pattern,
                            target_text(plan, &rules[index].target)
                        );
                    }
                    candidates = rules.iter().map(|r| &r.target).collect();
                }
                Some(model) => match glob::select(&patterns, model) {
                    None => {
                        let _ = writeln!(
                            out,
                            "  no rule matches `{model}` and there is no `*` rule: 404 model not found in the {} error format; nothing is tried",
                            api.protocol.spec_name()
                        );
                        return;
                    }
                    Some((winner, beaten)) => {
                        let rule = &rules[winner];
                        let _ = writeln!(
                            out,
                            "  rule {winner} `{}` wins for `{model}` ({})",
                            rule.pattern,
                            win_reason(&rule.pattern)
                        );
                        for index in beaten {
                            let _ = writeln!(
                                out,
                                "  it beats rule {index} `{}`, which also matches ({})",
                                rules[index].pattern,
                                beat_reason(&rule.pattern, winner, &rules[index].pattern, index)
                            );
                        }
                        primary = Some(Attempt {
                            target: &rule.target,
                            why: format!("primary (rule {winner} `{}`)", rule.pattern),
                        });
                    }
                },
            }
        }
        ModelService::ByProportion(entries) => {
            out.push_str("model service: by proportion (one target picked per request by weight; listing order does not matter)\n");
            let sum: f64 = entries.iter().map(|e| e.weight).sum();
            for entry in entries {
                let drained = if entry.weight == 0.0 {
                    ", drained: never picked"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {} -> {}{drained}",
                    share_text(entry.weight, sum),
                    target_text(plan, &entry.target)
                );
            }
            candidates = entries
                .iter()
                .filter(|e| e.weight > 0.0)
                .map(|e| &e.target)
                .collect();
        }
        ModelService::ByMetrics(balance) => {
            let names: Vec<String> = balance
                .targets
                .iter()
                .map(|t| target_text(plan, t))
                .collect();
            let _ = writeln!(
                out,
                "model service: by metrics: chosen at run time from live observations (lowest {}, half-life {} ms) among: {}",
                objective_text(balance.objective),
                balance.decay_ms,
                names.join(", ")
            );
            candidates = balance.targets.iter().collect();
        }
    }

    out.push_str("tried in this order until one commits:\n");
    let mut tried: Vec<&Target> = Vec::new();
    let mut step = 1;
    if let Some(attempt) = &primary {
        let _ = writeln!(
            out,
            "  {step}. {} [{}]",
            target_text(plan, attempt.target),
            attempt.why
        );
        tried.push(attempt.target);
        step += 1;
    } else {
        let _ = writeln!(out, "  {step}. the primary target chosen at run time");
        step += 1;
    }
    let mut skipped = Vec::new();
    for (index, target) in api.fallback.iter().enumerate() {
        let position = index + 1;
        if tried.contains(&target) {
            skipped.push(format!(
                "fallback {position} {}: already tried in this request (a request never tries the same target twice)",
                target_text(plan, target)
            ));
            continue;
        }
        let note = if candidates.contains(&target) {
            ", skipped if it was the primary"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {step}. {} [fallback {position}{note}]",
            target_text(plan, target)
        );
        tried.push(target);
        step += 1;
    }
    if api.fallback.is_empty() {
        out.push_str("  no fallback: a failure before the commit point is the answer\n");
    }
    for line in skipped {
        let _ = writeln!(out, "  skipped: {line}");
    }
    let _ = writeln!(out, "failover: {}", failover_text(&api.failover));
    let mut services: Vec<u16> = primary
        .iter()
        .map(|a| a.target)
        .chain(candidates)
        .chain(&api.fallback)
        .map(|t| t.service)
        .collect();
    services.sort();
    services.dedup();
    for id in services {
        if let Some(service) = plan.services.get(usize::from(id)) {
            let _ = writeln!(
                out,
                "timers via {}: {}",
                service.name,
                timers_text(&api.timeouts.apply(&service.timeouts))
            );
        }
    }
}

fn win_reason(pattern: &str) -> String {
    if glob::is_exact(pattern) {
        "an exact pattern".to_owned()
    } else {
        format!(
            "a glob with {} literal characters",
            glob::literal_chars(pattern)
        )
    }
}

fn beat_reason(winner: &str, winner_index: usize, loser: &str, loser_index: usize) -> String {
    if glob::is_exact(winner) {
        "exact patterns come first".to_owned()
    } else if glob::literal_chars(winner) > glob::literal_chars(loser) {
        format!(
            "{} literal characters against {}",
            glob::literal_chars(winner),
            glob::literal_chars(loser)
        )
    } else {
        format!(
            "as many literal characters, and rule {winner_index} is declared before rule {loser_index}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::tests::sample_plan;

    #[test]
    fn matching_follows_host_then_base_then_path_and_method() {
        let plan = sample_plan();
        let found = match_route(
            &plan,
            "API.example.com:8443",
            "/team/a/v1/chat/completions?x=1",
            "POST",
        );
        let Outcome::Found { base, route, .. } = found else {
            panic!("{found:?}");
        };
        assert_eq!((base.model_api, route.name), (1, "chat-completions"));
        // `/team/ab` is not below `/team/a`: the `/` base owns it.
        assert!(matches!(
            match_route(&plan, "api.example.com", "/team/ab", "POST"),
            Outcome::NoRoute { base, .. } if base.model_api == 0
        ));
        // The exact host owns the request even though `*` would have a route.
        assert!(matches!(
            match_route(&plan, "llm.example.com", "/v1/chat/completions", "POST"),
            Outcome::NotFound { host: Some(_) }
        ));
        assert!(matches!(
            match_route(&plan, "x.example.com", "/team/v1", "POST"),
            Outcome::NoRoute { base, .. } if base.model_api == 2
        ));
        assert!(matches!(
            match_route(&plan, "api.example.com", "/v1/completions", "GET"),
            Outcome::MethodNotAllowed { allowed, .. } if allowed == ["POST"]
        ));
    }

    #[test]
    fn hosts_lose_their_port_and_case() {
        assert_eq!(normalize_host("API.Example.com:8080"), "api.example.com");
        assert_eq!(normalize_host("[::1]:8080"), "[::1]");
        assert_eq!(normalize_host("localhost"), "localhost");
    }
}
