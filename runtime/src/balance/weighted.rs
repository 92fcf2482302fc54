//! `byProportion`: a weighted random pick whose split does not depend on listing order.
//!
//! A uniform draw over the sum of weights lands in each target's share with
//! probability `weight / total` whatever order the shares are laid out in;
//! zero (and invalid) weights get no share, so a drained target is never picked.

use super::rng;

/// Targets (indices chosen by the caller) with their positive weights.
#[derive(Debug, Clone)]
pub struct WeightedPicker {
    entries: Box<[(usize, f64)]>,
    total: f64,
}

impl WeightedPicker {
    /// Keeps only finite positive weights.
    pub fn new(entries: impl IntoIterator<Item = (usize, f64)>) -> WeightedPicker {
        let entries: Box<[(usize, f64)]> = entries
            .into_iter()
            .filter(|(_, weight)| weight.is_finite() && *weight > 0.0)
            .collect();
        let total = entries.iter().map(|(_, weight)| weight).sum();
        WeightedPicker { entries, total }
    }

    /// The targets that can be picked (positive weight).
    pub fn targets(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().map(|(target, _)| *target)
    }

    /// A target among those `available` says may be tried, or `None` when none may.
    pub fn pick(&self, available: impl Fn(usize) -> bool) -> Option<usize> {
        self.pick_at(rng::next_f64(), available)
    }

    /// The pick for the uniform draw `unit` in `[0, 1)`.
    pub fn pick_at(&self, unit: f64, available: impl Fn(usize) -> bool) -> Option<usize> {
        let all_available = self.entries.iter().all(|(target, _)| available(*target));
        let total = if all_available {
            self.total
        } else {
            self.entries
                .iter()
                .filter(|(target, _)| available(*target))
                .map(|(_, weight)| weight)
                .sum()
        };
        let mut left = unit * total;
        let mut last = None;
        for &(target, weight) in self.entries.iter() {
            if !all_available && !available(target) {
                continue;
            }
            if left < weight {
                return Some(target);
            }
            left -= weight;
            last = Some(target);
        }
        // Rounding can leave `left` a hair above the last share.
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PICKS: usize = 30_000;

    #[test]
    fn one_to_two_and_a_half_to_zero_in_every_listing_order() {
        // Targets 0, 1, 2 weigh 1, 2.5 and 0.
        let weights = [(0, 1.0), (1, 2.5), (2, 0.0)];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let picker = WeightedPicker::new(order.iter().map(|&i| weights[i]));
            let mut counts = [0usize; 3];
            for _ in 0..PICKS {
                let target = picker.pick(|_| true).expect("a target");
                counts[target] += 1;
            }
            assert_eq!(counts[2], 0, "the drained target was picked ({order:?})");
            let share_b = counts[1] as f64 / PICKS as f64;
            let expected = 2.5 / 3.5;
            assert!(
                (share_b - expected).abs() / expected < 0.02,
                "order {order:?}: counts {counts:?}"
            );
        }
    }

    #[test]
    fn unavailable_targets_are_skipped_and_none_left_means_none() {
        let picker = WeightedPicker::new([(0, 1.0), (1, 2.5), (2, 0.0)]);
        for unit in [0.0, 0.3, 0.999_999] {
            assert_eq!(picker.pick_at(unit, |t| t != 1), Some(0));
        }
        assert_eq!(picker.pick_at(0.5, |t| t == 2), None);
        assert_eq!(picker.pick_at(0.999_999_999_999, |_| true), Some(1));
        assert_eq!(WeightedPicker::new([(0, f64::NAN)]).pick(|_| true), None);
    }
}
