//! `byMetrics`: power of two choices over a peak-EWMA cost, the way linkerd (tower `p2c` + `peak_ewma`) balances.
//!
//! Each target keeps a latency estimate that jumps to a new peak at once and
//! decays toward lower observations (and, unobserved, toward zero) with the
//! configured half-life, so a target that got slow loses traffic quickly and
//! a healed one is probed again and wins it back. The cost is the estimate
//! times (requests in flight + 1). A failure counts as [`FAILURE_PENALTY`].
//! Two random available targets are compared and the cheaper one is taken.
//!
//! What is observed depends on the objective: `firstTokenLatency` records
//! the time to the first content of a stream (the whole answer otherwise),
//! `latency` the whole answer, and `leastBusy` only failures, so its cost is
//! requests in flight unless the target is failing.
//!
//! State is per target: an atomic in-flight count and a small mutex around
//! the estimate; no lock is shared between targets.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::rng;
use crate::codegen::Objective;

/// The latency a failed attempt counts as.
pub const FAILURE_PENALTY: Duration = Duration::from_secs(10);

/// One target's live state.
#[derive(Debug)]
pub struct Endpoint {
    target: usize,
    in_flight: AtomicU32,
    estimate: Mutex<PeakEwma>,
    /// `half_life / ln 2`, in nanoseconds: the EWMA's time constant.
    tau_ns: f64,
    objective: Objective,
}

#[derive(Debug, Clone, Copy)]
struct PeakEwma {
    rtt_ns: f64,
    updated: Instant,
}

impl PeakEwma {
    fn decayed(&self, now: Instant, tau_ns: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_nanos() as f64;
        self.rtt_ns * (-elapsed / tau_ns).exp()
    }

    /// A new peak replaces the estimate; a lower value pulls it down with
    /// weight growing with the time since the last update. The baseline is
    /// the decayed estimate the balancer has been comparing, so a healed
    /// target that was probed because it decayed is judged on its new answer.
    fn observe(&mut self, now: Instant, rtt_ns: f64, tau_ns: f64) {
        let current = self.decayed(now, tau_ns);
        if rtt_ns >= current {
            self.rtt_ns = rtt_ns;
        } else {
            let elapsed = now.saturating_duration_since(self.updated).as_nanos() as f64;
            let decay = (-elapsed / tau_ns).exp();
            self.rtt_ns = current * decay + rtt_ns * (1.0 - decay);
        }
        self.updated = self.updated.max(now);
    }
}

impl Endpoint {
    /// The cost of sending one more request here at `now`.
    pub fn cost(&self, now: Instant) -> f64 {
        let estimate = match self.estimate.lock() {
            Ok(estimate) => estimate.decayed(now, self.tau_ns),
            Err(poisoned) => poisoned.into_inner().decayed(now, self.tau_ns),
        };
        let load = f64::from(self.in_flight.load(Ordering::Relaxed)) + 1.0;
        match self.objective {
            // Seconds of failure penalty make a failing target look busier.
            Objective::LeastBusy => load * (1.0 + estimate / 1e9),
            // +1 ns so requests in flight still count before any observation.
            Objective::Latency | Objective::FirstTokenLatency => (estimate + 1.0) * load,
        }
    }

    fn observe(&self, now: Instant, rtt: Duration) {
        let rtt_ns = rtt.as_nanos() as f64;
        let mut estimate = match self.estimate.lock() {
            Ok(estimate) => estimate,
            Err(poisoned) => poisoned.into_inner(),
        };
        estimate.observe(now, rtt_ns, self.tau_ns);
    }
}

/// The balancer of one Model API.
#[derive(Debug)]
pub struct MetricsBalancer {
    endpoints: Box<[Arc<Endpoint>]>,
}

impl MetricsBalancer {
    /// `targets` are the caller's target indices, in the spec's order.
    pub fn new(
        targets: impl IntoIterator<Item = usize>,
        objective: Objective,
        decay_ms: u64,
        now: Instant,
    ) -> MetricsBalancer {
        let half_life_ns = Duration::from_millis(decay_ms.max(1)).as_nanos() as f64;
        let tau_ns = half_life_ns / std::f64::consts::LN_2;
        let endpoints = targets
            .into_iter()
            .map(|target| {
                Arc::new(Endpoint {
                    target,
                    in_flight: AtomicU32::new(0),
                    estimate: Mutex::new(PeakEwma {
                        rtt_ns: 0.0,
                        updated: now,
                    }),
                    tau_ns,
                    objective,
                })
            })
            .collect();
        MetricsBalancer { endpoints }
    }

    /// Power of two choices among the endpoints whose target is `available`;
    /// returns the endpoint's slot.
    pub fn pick(&self, now: Instant, available: impl Fn(usize) -> bool) -> Option<usize> {
        let count = self
            .endpoints
            .iter()
            .filter(|endpoint| available(endpoint.target))
            .count();
        let nth_available = |n: usize| {
            self.endpoints
                .iter()
                .enumerate()
                .filter(|(_, endpoint)| available(endpoint.target))
                .nth(n)
                .map(|(slot, _)| slot)
        };
        match count {
            0 => None,
            1 => nth_available(0),
            _ => {
                let first = rng::below(count);
                // A second, distinct choice: skip over the first.
                let mut second = rng::below(count - 1);
                if second >= first {
                    second += 1;
                }
                let (a, b) = (nth_available(first)?, nth_available(second)?);
                if self.endpoints[b].cost(now) < self.endpoints[a].cost(now) {
                    Some(b)
                } else {
                    Some(a)
                }
            }
        }
    }

    /// The caller's target index of `slot`.
    pub fn target(&self, slot: usize) -> Option<usize> {
        self.endpoints.get(slot).map(|endpoint| endpoint.target)
    }

    /// Every target, in slot order.
    pub fn targets(&self) -> impl Iterator<Item = usize> + '_ {
        self.endpoints.iter().map(|endpoint| endpoint.target)
    }

    /// The slot whose target is `target`, if any.
    pub fn slot_of(&self, target: usize) -> Option<usize> {
        self.endpoints.iter().position(|e| e.target == target)
    }

    pub fn cost(&self, slot: usize, now: Instant) -> Option<f64> {
        self.endpoints.get(slot).map(|endpoint| endpoint.cost(now))
    }

    /// Counts a request in flight at `slot` until the probe is dropped.
    pub fn start(&self, slot: usize, now: Instant) -> Option<Probe> {
        let endpoint = self.endpoints.get(slot)?.clone();
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Probe {
            endpoint,
            started: now,
            recorded: false,
        })
    }
}

/// One request in flight at one endpoint; records what the objective needs.
#[derive(Debug)]
pub struct Probe {
    endpoint: Arc<Endpoint>,
    started: Instant,
    recorded: bool,
}

impl Probe {
    /// The first content of a stream arrived (the commit point).
    pub fn first_content(&mut self, now: Instant) {
        if self.endpoint.objective == Objective::FirstTokenLatency && !self.recorded {
            self.recorded = true;
            self.endpoint
                .observe(now, now.saturating_duration_since(self.started));
        }
    }

    /// The whole answer arrived.
    pub fn finished(&mut self, now: Instant) {
        if self.endpoint.objective != Objective::LeastBusy && !self.recorded {
            self.recorded = true;
            self.endpoint
                .observe(now, now.saturating_duration_since(self.started));
        }
    }

    /// The attempt failed in a way that is the target's fault.
    pub fn failed(&mut self, now: Instant) {
        self.recorded = true;
        self.endpoint.observe(now, FAILURE_PENALTY);
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `requests` picks at 1 ms steps from `*now`; each picked target
    /// answers in `latency(target)`. Returns picks per target.
    fn drive(
        balancer: &MetricsBalancer,
        now: &mut Instant,
        requests: usize,
        latency: impl Fn(usize) -> Duration,
    ) -> [usize; 2] {
        let mut picks = [0; 2];
        for _ in 0..requests {
            let slot = balancer.pick(*now, |_| true).expect("a target");
            let target = balancer.target(slot).expect("target");
            picks[target] += 1;
            let mut probe = balancer.start(slot, *now).expect("probe");
            probe.finished(*now + latency(target));
            drop(probe);
            *now += Duration::from_millis(1);
        }
        picks
    }

    #[test]
    fn traffic_leaves_a_slow_target_and_returns_after_it_heals() {
        let start = Instant::now();
        let mut now = start;
        let balancer = MetricsBalancer::new([0, 1], Objective::Latency, 100, now);
        let fast = Duration::from_millis(20);
        let slow = Duration::from_millis(400);
        // Both healthy: both get traffic.
        let healthy = drive(&balancer, &mut now, 200, |_| fast);
        assert!(healthy[0] > 20 && healthy[1] > 20, "{healthy:?}");
        // Target 0 turns slow: after the first slow answer it gets almost nothing.
        let slowed = drive(
            &balancer,
            &mut now,
            500,
            |t| if t == 0 { slow } else { fast },
        );
        assert!(slowed[0] <= 5, "the slow target kept traffic: {slowed:?}");
        // It heals; its unobserved estimate decays until it is probed again,
        // and being fast again it wins back a fair share.
        let healed = drive(&balancer, &mut now, 2_000, |_| fast);
        assert!(
            healed[0] > 400,
            "the healed target did not win traffic back: {healed:?}"
        );
    }

    #[test]
    fn failures_push_traffic_away_and_decay_away() {
        let mut now = Instant::now();
        let balancer = MetricsBalancer::new([0, 1], Objective::FirstTokenLatency, 50, now);
        let mut probe = balancer.start(0, now).expect("probe");
        probe.failed(now);
        drop(probe);
        let mut probe = balancer.start(1, now).expect("probe");
        probe.first_content(now + Duration::from_millis(30));
        drop(probe);
        for _ in 0..100 {
            assert_eq!(balancer.pick(now, |_| true), Some(1));
        }
        // Half-life 50 ms: 10 s of penalty is below 30 ms after ~9 half-lives.
        now += Duration::from_secs(1);
        let cost = balancer.cost(0, now).expect("slot 0");
        assert!(
            cost < 1e6,
            "a second later the penalty still costs {cost} ns"
        );
    }

    #[test]
    fn least_busy_prefers_fewer_requests_in_flight() {
        let now = Instant::now();
        let balancer = MetricsBalancer::new([0, 1], Objective::LeastBusy, 1000, now);
        let _busy = [balancer.start(0, now), balancer.start(0, now)];
        for _ in 0..100 {
            assert_eq!(balancer.pick(now, |_| true), Some(1));
        }
        // Only available targets are considered.
        assert_eq!(balancer.pick(now, |t| t == 0), Some(0));
        assert_eq!(balancer.pick(now, |_| false), None);
    }
}
