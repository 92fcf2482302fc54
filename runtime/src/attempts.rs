//! The ordered targets of one request: the primary from the Model API's mode, then its fallbacks, each tried at most once.
//!
//! Targets are dense indices into the gateway's table of distinct
//! `(service, model)` pairs, so "never the same target twice" is an index
//! comparison. Targets still cooling down are skipped; when every one is,
//! the caller applies `failover.whenAllCooling` with the soonest recovery.

use std::time::Duration;

use http::HeaderValue;
use tokio::time::Instant;

use crate::balance::{MetricsBalancer, WeightedPicker};
use crate::cooldown::CooldownTable;

/// How a Model API picks its primary target.
#[derive(Debug)]
pub enum Primary {
    Single(usize),
    ByModelName {
        select: fn(&str) -> Option<u16>,
        /// Per rule: the target and the pattern (for `x-gatesmith-rule`).
        rules: Box<[(usize, HeaderValue)]>,
    },
    ByProportion(WeightedPicker),
    ByMetrics(MetricsBalancer),
}

/// A Model API's targets.
#[derive(Debug)]
pub struct TargetPlan {
    pub primary: Primary,
    pub fallback: Box<[usize]>,
}

/// The outcome of planning one request.
#[derive(Debug)]
pub struct Attempts {
    /// Target indices in the order to try, no repeats, none cooling.
    pub order: Vec<usize>,
    /// The matched `byModelName` pattern.
    pub rule: Option<HeaderValue>,
}

/// Why a request gets no attempt at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `byModelName` has no rule for this model.
    NoModelMatch,
    /// Every target is cooling; the soonest recovers after this long.
    AllCooling { soonest: Duration },
}

impl TargetPlan {
    /// Plans the attempts of a request for `model` (the empty string when the
    /// request names none) at `now`.
    pub fn plan(
        &self,
        model: &str,
        cooldowns: &CooldownTable,
        now: Instant,
    ) -> Result<Attempts, Refusal> {
        let available = |target: usize| cooldowns.remaining(target, now).is_none();
        let mut rule = None;
        let primary = match &self.primary {
            Primary::Single(target) => Some(*target),
            Primary::ByModelName { select, rules } => {
                let (target, pattern) = select(model)
                    .and_then(|index| rules.get(usize::from(index)))
                    .ok_or(Refusal::NoModelMatch)?;
                rule = Some(pattern.clone());
                Some(*target)
            }
            Primary::ByProportion(picker) => picker.pick(available),
            Primary::ByMetrics(balancer) => balancer
                .pick(now, available)
                .and_then(|slot| balancer.target(slot)),
        };
        let mut order = Vec::with_capacity(1 + self.fallback.len());
        for target in primary.into_iter().chain(self.fallback.iter().copied()) {
            if !order.contains(&target) && available(target) {
                order.push(target);
            }
        }
        if order.is_empty() {
            let soonest = self
                .candidates(primary)
                .filter_map(|target| cooldowns.remaining(target, now))
                .min()
                .unwrap_or(Duration::ZERO);
            return Err(Refusal::AllCooling { soonest });
        }
        Ok(Attempts { order, rule })
    }

    /// Every target this request could have used.
    fn candidates(&self, primary: Option<usize>) -> impl Iterator<Item = usize> + '_ {
        let balanced: Vec<usize> = match &self.primary {
            Primary::ByProportion(_) | Primary::ByMetrics(_) if primary.is_none() => {
                self.balanced_targets()
            }
            _ => Vec::new(),
        };
        primary
            .into_iter()
            .chain(balanced)
            .chain(self.fallback.iter().copied())
    }

    fn balanced_targets(&self) -> Vec<usize> {
        match &self.primary {
            Primary::ByProportion(picker) => picker.targets().collect(),
            Primary::ByMetrics(balancer) => balancer.targets().collect(),
            Primary::Single(target) => vec![*target],
            Primary::ByModelName { rules, .. } => rules.iter().map(|(t, _)| *t).collect(),
        }
    }

    /// The metrics balancer, for probes of `byMetrics` targets.
    pub fn metrics(&self) -> Option<&MetricsBalancer> {
        match &self.primary {
            Primary::ByMetrics(balancer) => Some(balancer),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::Objective;

    fn select(model: &str) -> Option<u16> {
        match model {
            "a" => Some(0),
            "b" => Some(1),
            _ => None,
        }
    }

    #[test]
    fn primary_then_fallback_without_repeats() {
        let cooldowns = CooldownTable::new(4, Instant::now());
        let plan = TargetPlan {
            primary: Primary::Single(1),
            fallback: [2, 1, 3, 2].into(),
        };
        let attempts = plan.plan("", &cooldowns, Instant::now()).expect("attempts");
        assert_eq!(attempts.order, [1, 2, 3]);
        assert_eq!(attempts.rule, None);
    }

    #[test]
    fn model_rules_pick_the_primary_and_name_the_rule() {
        let cooldowns = CooldownTable::new(4, Instant::now());
        let plan = TargetPlan {
            primary: Primary::ByModelName {
                select,
                rules: [
                    (0, HeaderValue::from_static("a")),
                    (3, HeaderValue::from_static("b*")),
                ]
                .into(),
            },
            fallback: [0].into(),
        };
        let attempts = plan
            .plan("b", &cooldowns, Instant::now())
            .expect("attempts");
        assert_eq!(attempts.order, [3, 0]);
        assert_eq!(attempts.rule, Some(HeaderValue::from_static("b*")));
        assert_eq!(
            plan.plan("zzz", &cooldowns, Instant::now()).err(),
            Some(Refusal::NoModelMatch)
        );
        // A request without a model is matched as "".
        assert_eq!(
            plan.plan("", &cooldowns, Instant::now()).err(),
            Some(Refusal::NoModelMatch)
        );
    }

    #[test]
    fn cooling_targets_are_skipped_and_all_cooling_names_the_soonest() {
        let now = Instant::now();
        let cooldowns = CooldownTable::new(4, now);
        let plan = TargetPlan {
            primary: Primary::ByProportion(WeightedPicker::new([(0, 1.0), (1, 1.0)])),
            fallback: [2].into(),
        };
        cooldowns.extend(0, now, Duration::from_secs(5));
        for _ in 0..50 {
            let attempts = plan.plan("", &cooldowns, now).expect("attempts");
            assert_eq!(attempts.order, [1, 2]);
        }
        cooldowns.extend(1, now, Duration::from_secs(3));
        cooldowns.extend(2, now, Duration::from_secs(9));
        assert_eq!(
            plan.plan("", &cooldowns, now).err(),
            Some(Refusal::AllCooling {
                soonest: Duration::from_secs(3)
            })
        );
        let metrics = TargetPlan {
            primary: Primary::ByMetrics(MetricsBalancer::new([0, 1], Objective::Latency, 10, now)),
            fallback: [].into(),
        };
        assert_eq!(
            metrics.plan("", &cooldowns, now).err(),
            Some(Refusal::AllCooling {
                soonest: Duration::from_secs(3)
            })
        );
    }
}
