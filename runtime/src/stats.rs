//! Counters of request outcomes the gateway keeps until the metrics issue exports them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Outcome counters, shared by every request of a gateway.
#[derive(Debug, Default)]
pub struct Stats {
    /// Responses cut after the commit point (upstream cut, idle or total
    /// timeout, upstream error event mid-stream).
    truncated: AtomicU64,
    /// Requests the client abandoned before the answer was complete.
    cancelled: AtomicU64,
    /// Attempts that failed over to another target.
    failovers: AtomicU64,
}

impl Stats {
    pub fn truncated(&self) -> u64 {
        self.truncated.load(Ordering::Relaxed)
    }

    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub fn failovers(&self) -> u64 {
        self.failovers.load(Ordering::Relaxed)
    }

    pub(crate) fn count_truncated(&self) {
        self.truncated.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_failover(&self) {
        self.failovers.fetch_add(1, Ordering::Relaxed);
    }
}
