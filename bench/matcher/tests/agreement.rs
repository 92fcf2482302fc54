//! The generated matcher and the matchit matcher agree on every request of the benchmark mix, and the mix exercises every answer.

use std::collections::HashSet;

use gatesmith_bench_matcher::generated_plan::PLAN;
use gatesmith_bench_matcher::matchit_matcher::MatchitMatcher;
use gatesmith_bench_matcher::requests::request_mix;
use gatesmith_bench_matcher::route_table::TABLE;
use gatesmith_runtime::codegen::RouteMatch;

#[test]
fn generated_and_matchit_agree_on_every_request() {
    let matcher = MatchitMatcher::new(&PLAN, TABLE);
    for request in request_mix(&PLAN, TABLE) {
        let generated = (PLAN.match_route)(&request.host, &request.path, request.method);
        let matchit = matcher.match_route(&request.host, &request.path, request.method);
        assert_eq!(generated, matchit, "{request:?}");
    }
}

#[test]
fn the_table_has_200_routes_and_the_mix_hits_each_of_them() {
    assert_eq!(PLAN.routes.len(), 200);
    let found: HashSet<u16> = request_mix(&PLAN, TABLE)
        .iter()
        .filter_map(|r| match (PLAN.match_route)(&r.host, &r.path, r.method) {
            RouteMatch::Found { route, .. } => Some(route),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 200);
}

#[test]
fn the_mix_contains_every_kind_of_answer() {
    let mut kinds = HashSet::new();
    for r in request_mix(&PLAN, TABLE) {
        kinds.insert(std::mem::discriminant(&(PLAN.match_route)(
            &r.host, &r.path, r.method,
        )));
    }
    assert_eq!(
        kinds.len(),
        4,
        "found, method not allowed, no route, not found"
    );
}

#[test]
fn found_routes_report_the_base_length_to_strip() {
    let request = request_mix(&PLAN, TABLE)
        .into_iter()
        .find(|r| r.path.starts_with("/llm/") && r.path.ends_with("/v1/messages"))
        .expect("an anthropic route under a /llm/<team>/api base");
    match (PLAN.match_route)(&request.host, &request.path, request.method) {
        RouteMatch::Found { route, base_len } => {
            assert_eq!(&request.path[usize::from(base_len)..], "/v1/messages");
            assert_eq!(PLAN.routes[usize::from(route)].path, "/v1/messages");
        }
        other => panic!("{request:?} gave {other:?}"),
    }
}
