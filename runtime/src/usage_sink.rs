//! The one usage record per request and where it goes: in-memory totals, an optional JSON line on stderr, an optional extra sink.
//!
//! A record is made when the response body ends: cleanly, cut
//! (`truncated`), or dropped because the client left (`cancelled`), so
//! every proxied request is counted exactly once. Records never hold prompt
//! or answer text, nor any credential: names, counts and flags only. Later
//! issues (metrics, logs, rate limits) plug in through [`UsageSink`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use crate::usage::Usage;

/// Environment variable: `stderr` writes one JSON line per request there.
pub const USAGE_LOG_ENV: &str = "GATESMITH_USAGE_LOG";

/// What one request used, and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub model_api: &'static str,
    pub route: &'static str,
    /// The service that answered (the last one tried when none did).
    pub service: &'static str,
    /// The model sent upstream (the client's when passed through; empty if none).
    pub model: String,
    pub streamed: bool,
    /// The answer ended early (upstream cut, timeout, error event).
    pub truncated: bool,
    /// The client left before the answer ended.
    pub cancelled: bool,
    /// The upstream reported usage (false: the counts are zeros, not measurements).
    pub reported: bool,
    /// Upstream SSE events the gateway could not parse (or that were over the
    /// size limit) and skipped; the rest of the stream still went through.
    pub malformed_events: u64,
    pub usage: Usage,
}

impl UsageRecord {
    /// The record as one JSON object (no content, no secrets).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "model_api": self.model_api,
            "route": self.route,
            "service": self.service,
            "model": self.model,
            "streamed": self.streamed,
            "truncated": self.truncated,
            "cancelled": self.cancelled,
            "reported": self.reported,
            "malformed_events": self.malformed_events,
            "input_tokens": self.usage.input,
            "output_tokens": self.usage.output,
            "cache_read_tokens": self.usage.cache_read,
            "cache_creation_tokens": self.usage.cache_creation,
            "reasoning_tokens": self.usage.reasoning,
            "total_tokens": self.usage.total,
        })
    }
}

/// Receives every usage record, once per request. Called on the response
/// path (often from a `Drop`), so it must be quick and must not block.
pub trait UsageSink: Send + Sync {
    fn record(&self, record: &UsageRecord);
}

/// Running totals over all records.
#[derive(Debug, Default)]
pub struct UsageTotals {
    requests: AtomicU64,
    truncated: AtomicU64,
    cancelled: AtomicU64,
    malformed_events: AtomicU64,
    input: AtomicU64,
    output: AtomicU64,
    cache_read: AtomicU64,
    cache_creation: AtomicU64,
    reasoning: AtomicU64,
    total: AtomicU64,
}

/// A copy of [`UsageTotals`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageSnapshot {
    pub requests: u64,
    pub truncated: u64,
    pub cancelled: u64,
    pub malformed_events: u64,
    pub usage: Usage,
}

impl UsageTotals {
    pub fn snapshot(&self) -> UsageSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        UsageSnapshot {
            requests: read(&self.requests),
            truncated: read(&self.truncated),
            cancelled: read(&self.cancelled),
            malformed_events: read(&self.malformed_events),
            usage: Usage {
                input: read(&self.input),
                output: read(&self.output),
                cache_read: read(&self.cache_read),
                cache_creation: read(&self.cache_creation),
                reasoning: read(&self.reasoning),
                total: read(&self.total),
            },
        }
    }
}

impl UsageSink for UsageTotals {
    fn record(&self, record: &UsageRecord) {
        let add = |counter: &AtomicU64, value: u64| {
            counter.fetch_add(value, Ordering::Relaxed);
        };
        add(&self.requests, 1);
        add(&self.truncated, u64::from(record.truncated));
        add(&self.cancelled, u64::from(record.cancelled));
        add(&self.malformed_events, record.malformed_events);
        add(&self.input, record.usage.input);
        add(&self.output, record.usage.output);
        add(&self.cache_read, record.usage.cache_read);
        add(&self.cache_creation, record.usage.cache_creation);
        add(&self.reasoning, record.usage.reasoning);
        add(&self.total, record.usage.total);
    }
}

/// Every sink a gateway feeds: the totals, the stderr log when enabled, and one extra sink.
pub struct UsageSinks {
    totals: UsageTotals,
    log_to_stderr: bool,
    extra: std::sync::RwLock<Option<Arc<dyn UsageSink>>>,
}

impl std::fmt::Debug for UsageSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageSinks")
            .field("totals", &self.totals)
            .field("log_to_stderr", &self.log_to_stderr)
            .finish_non_exhaustive()
    }
}

impl UsageSinks {
    /// Totals only; the stderr log when `GATESMITH_USAGE_LOG=stderr`.
    pub fn from_env() -> UsageSinks {
        let log_to_stderr = std::env::var(USAGE_LOG_ENV).is_ok_and(|value| value == "stderr");
        UsageSinks::new(log_to_stderr)
    }

    pub fn new(log_to_stderr: bool) -> UsageSinks {
        UsageSinks {
            totals: UsageTotals::default(),
            log_to_stderr,
            extra: std::sync::RwLock::new(None),
        }
    }

    pub fn totals(&self) -> &UsageTotals {
        &self.totals
    }

    /// Adds (replaces) the extra sink every later record also goes to.
    pub fn set_extra(&self, sink: Arc<dyn UsageSink>) {
        if let Ok(mut extra) = self.extra.write() {
            *extra = Some(sink);
        }
    }
}

impl UsageSink for UsageSinks {
    fn record(&self, record: &UsageRecord) {
        self.totals.record(record);
        if self.log_to_stderr {
            eprintln!("{}", json!({"usage": record.to_json()}));
        }
        if let Ok(extra) = self.extra.read()
            && let Some(sink) = extra.as_ref()
        {
            sink.record(record);
        }
    }
}

/// The pending record of one request: filled in while the answer streams,
/// sent exactly once (explicitly, or on drop as `cancelled`).
pub struct UsageTicket {
    sink: Arc<UsageSinks>,
    record: UsageRecord,
    sent: bool,
}

impl std::fmt::Debug for UsageTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageTicket")
            .field("record", &self.record)
            .field("sent", &self.sent)
            .finish()
    }
}

impl UsageTicket {
    pub fn new(sink: Arc<UsageSinks>, record: UsageRecord) -> UsageTicket {
        UsageTicket {
            sink,
            record,
            sent: false,
        }
    }

    /// Names the service and upstream model of the attempt now being tried.
    pub fn retarget(&mut self, service: &'static str, model: &str) {
        self.record.service = service;
        if self.record.model != model {
            self.record.model.clear();
            self.record.model.push_str(model);
        }
    }

    /// Sends the record with the final usage and flags.
    pub fn send(mut self, usage: Usage, reported: bool, truncated: bool) {
        self.send_once(usage, reported, truncated, false);
    }

    /// Sends the record unless it was sent already (for `Drop` paths).
    /// Counts upstream events that were skipped as malformed.
    pub fn note_malformed_events(&mut self, count: u64) {
        self.record.malformed_events += count;
    }

    pub fn send_once(&mut self, usage: Usage, reported: bool, truncated: bool, cancelled: bool) {
        if self.sent {
            return;
        }
        self.sent = true;
        self.record.usage = usage;
        self.record.reported = reported;
        self.record.truncated = truncated;
        self.record.cancelled = cancelled;
        self.sink.record(&self.record);
    }
}

impl Drop for UsageTicket {
    fn drop(&mut self) {
        // Whoever held the ticket never finished the answer: the client left.
        let usage = self.record.usage;
        let reported = self.record.reported;
        self.send_once(usage, reported, false, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> UsageRecord {
        UsageRecord {
            malformed_events: 0,
            model_api: "chat",
            route: "chat-completions",
            service: "svc",
            model: "m".into(),
            streamed: true,
            truncated: false,
            cancelled: false,
            reported: false,
            usage: Usage::default(),
        }
    }

    #[test]
    fn a_ticket_records_exactly_once_and_a_dropped_one_counts_as_cancelled() {
        let sinks = Arc::new(UsageSinks::new(false));
        let usage = Usage {
            input: 3,
            output: 4,
            total: 7,
            ..Usage::default()
        };
        UsageTicket::new(sinks.clone(), record()).send(usage, true, false);
        drop(UsageTicket::new(sinks.clone(), record()));
        let snapshot = sinks.totals().snapshot();
        assert_eq!(snapshot.requests, 2);
        assert_eq!(snapshot.cancelled, 1);
        assert_eq!(snapshot.usage.total, 7);
    }

    #[test]
    fn the_json_line_names_counts_and_flags_only() {
        let line = record().to_json();
        assert_eq!(line["service"], "svc");
        assert_eq!(line["total_tokens"], 0);
        // Names, counts and flags only: a new field (say, prompt text) must
        // be added here on purpose.
        let mut keys: Vec<&str> = line
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "cache_creation_tokens",
                "cache_read_tokens",
                "cancelled",
                "input_tokens",
                "malformed_events",
                "model",
                "model_api",
                "output_tokens",
                "reasoning_tokens",
                "reported",
                "route",
                "service",
                "streamed",
                "total_tokens",
                "truncated",
            ]
        );
    }
}
