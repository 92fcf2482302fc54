//! Divan benchmark: the generated `match_route` against matchit on the same 200-route table and request mix.
//!
//! Each iteration looks up the whole request mix once; the items counter is
//! the number of lookups, so divan's throughput line reads as lookups per
//! second (bench/harness.py turns it into ns per lookup).

use divan::Bencher;
use divan::counter::ItemsCount;
use gatesmith_bench_matcher::generated_plan::PLAN;
use gatesmith_bench_matcher::matchit_matcher::MatchitMatcher;
use gatesmith_bench_matcher::requests::request_mix;
use gatesmith_bench_matcher::route_table::TABLE;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn generated(bencher: Bencher) {
    let requests = request_mix(&PLAN, TABLE);
    let match_route = divan::black_box(PLAN.match_route);
    bencher
        .counter(ItemsCount::new(requests.len()))
        .bench_local(|| {
            for request in &requests {
                divan::black_box(match_route(
                    divan::black_box(&request.host),
                    divan::black_box(&request.path),
                    request.method,
                ));
            }
        });
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn matchit(bencher: Bencher) {
    let requests = request_mix(&PLAN, TABLE);
    let matcher = MatchitMatcher::new(&PLAN, TABLE);
    bencher
        .counter(ItemsCount::new(requests.len()))
        .bench_local(|| {
            for request in &requests {
                divan::black_box(matcher.match_route(
                    divan::black_box(&request.host),
                    divan::black_box(&request.path),
                    request.method,
                ));
            }
        });
}
