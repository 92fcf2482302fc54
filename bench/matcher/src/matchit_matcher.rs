//! The matchit side of the micro-benchmark: the same route table, matched the way a hand-written matchit gateway would.
//!
//! Fairness rules (documented in bench/README.md): the host is looked up with
//! a `HashMap` for exact hosts, then the `*.` suffixes in the same
//! longest-first order the generated matcher uses; each host owns one
//! `matchit::Router` holding every `{base}{route path}` plus catch-alls for
//! each base (so "base matched, path unknown" is answered by the router, not
//! by extra string work); the method test is the same bitset test. Building
//! the routers happens once, outside the timed loop.

use std::collections::HashMap;

use gatesmith_runtime::codegen::{
    Method, Methods, ModelApiId, Plan, RouteId, RouteMatch, host_has_suffix,
};

use crate::route_table::TableEntry;

/// What a matchit route resolves to.
#[derive(Debug, Clone, Copy)]
enum Target {
    Route {
        route: RouteId,
        model_api: ModelApiId,
        methods: Methods,
        base_len: u16,
    },
    /// The base path matched but no route of it did.
    Base { model_api: ModelApiId },
}

/// A matchit-based matcher over the same table as the generated one.
pub struct MatchitMatcher {
    exact: HashMap<&'static str, matchit::Router<Target>>,
    /// `(".suffix", router)`, longest suffix first.
    suffixes: Vec<(&'static str, matchit::Router<Target>)>,
}

impl std::fmt::Debug for MatchitMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchitMatcher")
            .field("exact_hosts", &self.exact.len())
            .field("suffix_hosts", &self.suffixes.len())
            .finish()
    }
}

impl MatchitMatcher {
    /// Builds one router per host from `table`, resolving names and route
    /// paths through `plan` so both matchers serve exactly the same routes.
    ///
    /// Panics on an inconsistent table: this is benchmark setup, not input.
    pub fn new(plan: &Plan, table: &[TableEntry]) -> MatchitMatcher {
        let mut exact: HashMap<&'static str, matchit::Router<Target>> = HashMap::new();
        let mut suffixes: Vec<(&'static str, matchit::Router<Target>)> = Vec::new();
        for entry in table {
            let router = match entry.domain.strip_prefix('*') {
                Some(suffix) => {
                    if let Some(index) = suffixes.iter().position(|(s, _)| *s == suffix) {
                        &mut suffixes[index].1
                    } else {
                        suffixes.push((suffix, matchit::Router::new()));
                        &mut suffixes.last_mut().expect("just pushed").1
                    }
                }
                None => exact.entry(entry.domain).or_default(),
            };
            insert_model_api(router, plan, entry);
        }
        suffixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        MatchitMatcher { exact, suffixes }
    }

    /// Same contract as the generated `Plan::match_route`.
    pub fn match_route(&self, host: &str, path: &str, method: Method) -> RouteMatch {
        let router = match self.exact.get(host) {
            Some(router) => router,
            None => match self
                .suffixes
                .iter()
                .find(|(suffix, _)| host_has_suffix(host, suffix))
            {
                Some((_, router)) => router,
                None => return RouteMatch::NotFound,
            },
        };
        match router.at(path) {
            Ok(found) => match *found.value {
                Target::Route {
                    route,
                    model_api,
                    methods,
                    base_len,
                } => {
                    if methods.contains(method) {
                        RouteMatch::Found { route, base_len }
                    } else {
                        RouteMatch::MethodNotAllowed {
                            model_api,
                            allowed: methods,
                        }
                    }
                }
                Target::Base { model_api } => RouteMatch::NoRoute { model_api },
            },
            Err(_) => RouteMatch::NotFound,
        }
    }
}

fn insert_model_api(router: &mut matchit::Router<Target>, plan: &Plan, entry: &TableEntry) {
    let model_api = plan
        .model_apis
        .iter()
        .position(|m| m.name == entry.model_api)
        .unwrap_or_else(|| panic!("{} is not in the generated plan", entry.model_api));
    let model_api = ModelApiId::try_from(model_api).expect("fewer than 65536 Model APIs");
    let base = entry.base_path;
    let base_len = u16::try_from(base.len()).expect("short base path");
    for (route, spec) in plan.routes.iter().enumerate() {
        if spec.model_api != model_api {
            continue;
        }
        let route = RouteId::try_from(route).expect("fewer than 65536 routes");
        let target = Target::Route {
            route,
            model_api,
            methods: spec.methods,
            base_len,
        };
        insert(router, format!("{base}{}", spec.path), target);
    }
    let fallback = Target::Base { model_api };
    // matchit's catch-all needs at least one character, so the base itself
    // and the base followed by `/` get their own entries.
    if !base.is_empty() {
        insert(router, base.to_string(), fallback);
    }
    insert(router, format!("{base}/"), fallback);
    insert(router, format!("{base}/{{*rest}}"), fallback);
}

fn insert(router: &mut matchit::Router<Target>, path: String, target: Target) {
    if let Err(error) = router.insert(path.clone(), target) {
        panic!("matchit rejected {path}: {error}");
    }
}
