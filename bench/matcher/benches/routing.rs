//! Divan benchmark: the cost of one routing decision (planning the ordered attempts of a request) for each model service mode.
//!
//! Each iteration plans one request: the primary target from the mode
//! (a generated-style `select` for byModelName, a weighted draw for
//! byProportion, power of two choices over peak-EWMA costs for byMetrics),
//! then the fallback list, deduplicated and filtered by cooldowns. Divan's
//! time per iteration is the ns per decision.

use divan::Bencher;
use gatesmith_runtime::attempts::{Primary, TargetPlan};
use gatesmith_runtime::balance::{MetricsBalancer, WeightedPicker};
use gatesmith_runtime::codegen::Objective;
use gatesmith_runtime::cooldown::CooldownTable;
use http::HeaderValue;
use tokio::time::Instant;

fn main() {
    divan::main();
}

/// What the compiler emits for `claude-3-5-*`, `claude-*`, an exact name, `qwen*`, `*`.
fn select(model: &str) -> Option<u16> {
    if model == "claude-3-5-sonnet-latest" {
        Some(0)
    } else if model.starts_with("claude-3-5-") {
        Some(1)
    } else if model.starts_with("claude-") {
        Some(2)
    } else if model.starts_with("qwen") {
        Some(3)
    } else {
        Some(4)
    }
}

const MODELS: [&str; 5] = [
    "claude-3-5-sonnet-latest",
    "claude-3-5-haiku",
    "claude-opus-4",
    "qwen-max",
    "gpt-4o",
];

fn plans() -> Vec<(&'static str, TargetPlan)> {
    let now = Instant::now();
    let fallback: Box<[usize]> = [5, 6].into();
    let mut plans = vec![
        (
            "single",
            TargetPlan {
                primary: Primary::Single(0),
                fallback: fallback.clone(),
            },
        ),
        (
            "by_model_name",
            TargetPlan {
                primary: Primary::ByModelName {
                    select,
                    rules: (0..5)
                        .map(|target| (target, HeaderValue::from_static("pattern")))
                        .collect(),
                },
                fallback: fallback.clone(),
            },
        ),
        (
            "by_proportion",
            TargetPlan {
                primary: Primary::ByProportion(WeightedPicker::new([
                    (0, 1.0),
                    (1, 2.5),
                    (2, 0.0),
                    (3, 4.0),
                ])),
                fallback: fallback.clone(),
            },
        ),
    ];
    for (name, objective) in [
        ("by_metrics_latency", Objective::Latency),
        ("by_metrics_first_token", Objective::FirstTokenLatency),
        ("by_metrics_least_busy", Objective::LeastBusy),
    ] {
        let balancer = MetricsBalancer::new([0, 1, 2, 3], objective, 10_000, now);
        // Give every endpoint some history, as a running gateway has.
        for slot in 0..4 {
            if let Some(mut probe) = balancer.start(slot, now) {
                probe.finished(now + std::time::Duration::from_millis(50 * (slot as u64 + 1)));
            }
        }
        plans.push((
            name,
            TargetPlan {
                primary: Primary::ByMetrics(balancer),
                fallback: fallback.clone(),
            },
        ));
    }
    plans
}

#[divan::bench(
    args = ["single", "by_model_name", "by_proportion", "by_metrics_latency", "by_metrics_first_token", "by_metrics_least_busy"],
    sample_count = 500,
    sample_size = 200
)]
fn decision(bencher: Bencher, mode: &str) {
    let plan = plans()
        .into_iter()
        .find(|(name, _)| *name == mode)
        .map(|(_, plan)| plan)
        .expect("known mode");
    let cooldowns = CooldownTable::new(8, Instant::now());
    let now = Instant::now();
    let mut next = 0usize;
    bencher.bench_local(|| {
        next = (next + 1) % MODELS.len();
        divan::black_box(
            plan.plan(divan::black_box(MODELS[next]), &cooldowns, now)
                .is_ok(),
        )
    });
}
