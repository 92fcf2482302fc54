//! The request mix both matchers are timed on: hits, wrong methods, unknown paths, unknown bases and unknown hosts.

use gatesmith_runtime::codegen::{Method, Plan};

use crate::route_table::TableEntry;

/// One lookup: host (lower-case, no port), path (no query), method.
#[derive(Debug, Clone)]
pub struct Request {
    pub host: String,
    pub path: String,
    pub method: Method,
}

/// A concrete host a client would send for a spec domain.
fn concrete_host(domain: &str, variant: usize) -> String {
    match domain.strip_prefix("*.") {
        Some(suffix) => format!("node-{variant}.{suffix}"),
        None => domain.to_string(),
    }
}

/// Builds the mix for `table`: for every Model API a POST to each of its
/// routes (hits), a GET to its first route (wrong method), and a POST to an
/// unknown path under its base; per host an unknown base; plus unknown hosts
/// (including a bare suffix, which `*.` must not match). Shuffled with a
/// fixed seed so branch predictors cannot learn the order.
pub fn request_mix(plan: &Plan, table: &[TableEntry]) -> Vec<Request> {
    let mut requests = Vec::new();
    let push = |requests: &mut Vec<Request>, host: &str, path: String, method: Method| {
        requests.push(Request {
            host: host.to_string(),
            path,
            method,
        })
    };
    for (index, entry) in table.iter().enumerate() {
        let host = concrete_host(entry.domain, index % 3);
        let base = entry.base_path;
        let model_api = plan
            .model_apis
            .iter()
            .position(|m| m.name == entry.model_api)
            .unwrap_or_else(|| panic!("{} is not in the generated plan", entry.model_api));
        let routes = plan
            .routes
            .iter()
            .filter(|r| usize::from(r.model_api) == model_api);
        let mut first = None;
        for route in routes {
            first.get_or_insert(route.path);
            push(
                &mut requests,
                &host,
                format!("{base}{}", route.path),
                Method::Post,
            );
        }
        if let Some(path) = first {
            push(&mut requests, &host, format!("{base}{path}"), Method::Get);
        }
        push(
            &mut requests,
            &host,
            format!("{base}/v1/embeddings"),
            Method::Post,
        );
    }
    let mut domains: Vec<&str> = table.iter().map(|e| e.domain).collect();
    domains.dedup();
    for domain in &domains {
        let host = concrete_host(domain, 7);
        push(
            &mut requests,
            &host,
            "/unknown/v1/chat/completions".into(),
            Method::Post,
        );
        if let Some(suffix) = domain.strip_prefix("*.") {
            push(
                &mut requests,
                suffix,
                "/v1/chat/completions".into(),
                Method::Post,
            );
        }
    }
    for host in ["example.com", "api.acme.example.org", "localhost"] {
        push(
            &mut requests,
            host,
            "/v1/chat/completions".into(),
            Method::Post,
        );
    }
    shuffle(&mut requests, 0x5eed);
    requests
}

/// Fisher-Yates with a xorshift generator: deterministic, no dependency.
fn shuffle<T>(items: &mut [T], mut state: u64) {
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
