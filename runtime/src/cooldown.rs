//! Cooldowns of upstream targets: lock-free deadlines that only ever move later.
//!
//! Every distinct `(service, model)` target of the plan gets a dense index at
//! startup; its deadline is one atomic (milliseconds since the table's epoch),
//! raised with `fetch_max` so a later, shorter cooldown (a 429 without
//! `Retry-After` after one with `Retry-After: 7`) never moves it earlier.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Cooldown deadlines, one per target index.
#[derive(Debug)]
pub struct CooldownTable {
    epoch: Instant,
    /// Deadline in ms after `epoch`; 0 = not cooling.
    until_ms: Box<[AtomicU64]>,
}

impl CooldownTable {
    pub fn new(targets: usize, epoch: Instant) -> CooldownTable {
        CooldownTable {
            epoch,
            until_ms: (0..targets).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Cools `target` until `now + wait`, unless it already cools longer.
    pub fn extend(&self, target: usize, now: Instant, wait: Duration) {
        let Some(slot) = self.until_ms.get(target) else {
            return;
        };
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        // +1 so a cooldown of 0 ms at the epoch is not mistaken for "none".
        let until = self.millis(now).saturating_add(wait_ms).saturating_add(1);
        slot.fetch_max(until, Ordering::Relaxed);
    }

    /// How long `target` still cools at `now`, or `None` when it may be tried.
    pub fn remaining(&self, target: usize, now: Instant) -> Option<Duration> {
        let until = self.until_ms.get(target)?.load(Ordering::Relaxed);
        let now = self.millis(now).saturating_add(1);
        (until > now).then(|| Duration::from_millis(until - now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_shorter_cooldown_never_moves_the_deadline_earlier() {
        let epoch = Instant::now();
        let table = CooldownTable::new(2, epoch);
        // 429 with Retry-After: 7 at t = 0.
        table.extend(0, epoch, Duration::from_secs(7));
        // 429 without Retry-After (1 s default) at t = 2 s.
        let later = epoch + Duration::from_secs(2);
        table.extend(0, later, Duration::from_secs(1));
        assert_eq!(table.remaining(0, later), Some(Duration::from_secs(5)));
        assert!(
            table
                .remaining(0, epoch + Duration::from_millis(6_999))
                .is_some()
        );
        assert_eq!(table.remaining(0, epoch + Duration::from_secs(7)), None);
        // A longer one does extend it.
        table.extend(0, later, Duration::from_secs(10));
        assert_eq!(table.remaining(0, later), Some(Duration::from_secs(10)));
        // Other targets are untouched; unknown ones are ignored.
        assert_eq!(table.remaining(1, later), None);
        table.extend(9, later, Duration::from_secs(1));
        assert_eq!(table.remaining(9, later), None);
    }
}
