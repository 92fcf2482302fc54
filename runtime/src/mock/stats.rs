//! Per-path request counts of the standalone mock, read and cleared over HTTP so tests can count attempts per upstream.
//!
//! `GET /__mock/stats` answers `{"requests": N, "by_path": {"/v1/chat/completions": N}}`;
//! `POST /__mock/reset` sets every count back to zero. A request is counted
//! when it arrives (before any latency or fault), so an attempt the gateway
//! abandoned still counts.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Distinct paths remembered; later new paths are counted under [`OTHER_PATHS`],
/// so a client sending random paths cannot grow the map without bound.
pub const MAX_PATHS: usize = 256;
/// The key counting paths beyond [`MAX_PATHS`].
pub const OTHER_PATHS: &str = "(other)";

/// Request counts since start or the last reset.
#[derive(Debug, Default)]
pub struct Stats {
    by_path: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Counts one request for `path` (without the query).
    pub fn record(&self, path: &str) {
        let mut by_path = self.by_path.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = by_path.get_mut(path) {
            *count += 1;
            return;
        }
        let key = if by_path.len() < MAX_PATHS {
            path
        } else {
            OTHER_PATHS
        };
        *by_path.entry(key.to_owned()).or_insert(0) += 1;
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.by_path
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// `{"requests": N, "by_path": {...}}`.
    pub fn to_json(&self) -> Vec<u8> {
        let by_path = self.by_path.lock().unwrap_or_else(|p| p.into_inner());
        let total: u64 = by_path.values().sum();
        let mut out = format!("{{\"requests\":{total},\"by_path\":{{");
        for (index, (path, count)) in by_path.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(&json_string(path));
            out.push(':');
            out.push_str(&count.to_string());
        }
        out.push_str("}}");
        out.into_bytes()
    }
}

/// A JSON string literal; paths are client input, so escape everything JSON requires.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(stats: &Stats) -> serde_json::Value {
        serde_json::from_slice(&stats.to_json()).expect("stats are JSON")
    }

    #[test]
    fn counts_per_path_and_resets() {
        let stats = Stats::default();
        stats.record("/v1/chat/completions");
        stats.record("/v1/chat/completions");
        stats.record("/a/v1/messages");
        assert_eq!(
            json(&stats),
            serde_json::json!({"requests": 3, "by_path": {"/v1/chat/completions": 2, "/a/v1/messages": 1}})
        );
        stats.reset();
        assert_eq!(
            json(&stats),
            serde_json::json!({"requests": 0, "by_path": {}})
        );
    }

    #[test]
    fn odd_paths_stay_valid_json_and_the_map_is_bounded() {
        let stats = Stats::default();
        stats.record("/\"quoted\"\\\u{1}");
        for index in 0..MAX_PATHS + 10 {
            stats.record(&format!("/p{index}"));
        }
        let value = json(&stats);
        assert_eq!(value["requests"], serde_json::json!(MAX_PATHS + 11));
        let by_path = value["by_path"].as_object().expect("by_path is an object");
        assert_eq!(by_path.len(), MAX_PATHS + 1);
        assert_eq!(by_path["/\"quoted\"\\\u{1}"], serde_json::json!(1));
        assert_eq!(by_path[OTHER_PATHS], serde_json::json!(11));
    }
}
