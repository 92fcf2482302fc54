//! Per-request overrides of the mock's settings through `x-mock-*` request headers.
//!
//! The gateway forwards client headers, so a test drives the mock through a
//! gateway with these. Any unknown `x-mock-*` header or bad value is an error
//! (the mock answers 400): silently ignoring a typo wastes hours.

use http::HeaderMap;

use super::extras::{self, Extras, MAX_CACHE_TOKENS, MAX_TOOL_CALLS};
use super::fault::{MAX_STALL_MS, parse_fault};
use crate::codegen::MockSettings;

/// Largest `x-mock-chunks`; bounds the work one request can ask for.
pub const MAX_CHUNKS: u32 = 10_000;
/// Largest `x-mock-completion-tokens`.
pub const MAX_COMPLETION_TOKENS: u32 = 1_000_000;

/// The settings one request runs with.
#[derive(Debug, Clone, Copy)]
pub struct Effective {
    pub settings: MockSettings,
    /// `x-mock-echo-headers: true`: report the request's header names.
    pub echo_headers: bool,
    /// Tool calls, thinking, cache tokens and stop reason ([`extras`]).
    pub extras: Extras,
}

/// Applies the request's `x-mock-*` headers to the service's settings.
pub fn apply(settings: &MockSettings, headers: &HeaderMap) -> Result<Effective, String> {
    let mut effective = Effective {
        settings: *settings,
        echo_headers: false,
        extras: Extras::default(),
    };
    for (name, value) in headers {
        let name = name.as_str();
        let Some(option) = name.strip_prefix("x-mock-") else {
            continue;
        };
        let value = value
            .to_str()
            .map_err(|_| format!("header {name} is not visible ASCII"))?
            .trim();
        let target = &mut effective.settings;
        match option {
            "fault" => {
                target.fault = parse_fault(value).map_err(|e| format!("header {name}: {e}"))?
            }
            "latency-ms" => target.latency_ms = parse_number(name, value, MAX_STALL_MS)?,
            "chunk-delay-ms" => target.chunk_delay_ms = parse_number(name, value, MAX_STALL_MS)?,
            "chunks" => {
                target.stream_chunks = parse_number(name, value, u64::from(MAX_CHUNKS))? as u32;
                if target.stream_chunks == 0 {
                    return Err(format!("header {name}: a stream needs at least 1 chunk"));
                }
            }
            "completion-tokens" => {
                target.completion_tokens =
                    parse_number(name, value, u64::from(MAX_COMPLETION_TOKENS))? as u32
            }
            "echo-headers" => effective.echo_headers = parse_bool(name, value)?,
            "tool-calls" => {
                effective.extras.tool_calls =
                    parse_number(name, value, u64::from(MAX_TOOL_CALLS))? as u32
            }
            "thinking" => effective.extras.thinking = parse_bool(name, value)?,
            "cache-read-tokens" => {
                effective.extras.cache_read =
                    parse_number(name, value, u64::from(MAX_CACHE_TOKENS))? as u32
            }
            "cache-creation-tokens" => {
                effective.extras.cache_creation =
                    parse_number(name, value, u64::from(MAX_CACHE_TOKENS))? as u32
            }
            "stop" => {
                effective.extras.stop =
                    Some(extras::parse_stop(value).map_err(|e| format!("header {name}: {e}"))?)
            }
            _ => {
                return Err(format!(
                    "unknown header {name}; the mock understands x-mock-fault, x-mock-latency-ms, \
                     x-mock-chunks, x-mock-chunk-delay-ms, x-mock-completion-tokens, x-mock-echo-headers, \
                     x-mock-tool-calls, x-mock-thinking, x-mock-cache-read-tokens, \
                     x-mock-cache-creation-tokens and x-mock-stop"
                ));
            }
        }
    }
    Ok(effective)
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "header {name}: expected true or false, got `{value}`"
        )),
    }
}

fn parse_number(name: &str, value: &str, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!(
            "header {name}: `{value}` is not a whole number from 0 to {max}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::MockFault;

    fn defaults() -> MockSettings {
        MockSettings {
            latency_ms: 0,
            stream_chunks: 8,
            chunk_delay_ms: 0,
            completion_tokens: 16,
            fault: Some(MockFault::Status(500)),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn headers_override_every_setting() {
        let effective = apply(
            &defaults(),
            &headers(&[
                ("x-mock-fault", "cut-after-chunks:5"),
                ("x-mock-latency-ms", "20"),
                ("x-mock-chunks", "3"),
                ("x-mock-chunk-delay-ms", "7"),
                ("x-mock-completion-tokens", "40"),
                ("x-mock-echo-headers", "true"),
                ("authorization", "Bearer x"),
            ]),
        );
        let Ok(effective) = effective else {
            panic!("valid headers rejected: {effective:?}");
        };
        let s = effective.settings;
        assert_eq!(s.fault, Some(MockFault::CutAfterChunks { chunks: 5 }));
        assert_eq!(
            (
                s.latency_ms,
                s.stream_chunks,
                s.chunk_delay_ms,
                s.completion_tokens
            ),
            (20, 3, 7, 40)
        );
        assert!(effective.echo_headers);
    }

    #[test]
    fn headers_choose_the_answer_extras() {
        let effective = apply(
            &defaults(),
            &headers(&[
                ("x-mock-tool-calls", "2"),
                ("x-mock-thinking", "true"),
                ("x-mock-cache-read-tokens", "9000"),
                ("x-mock-cache-creation-tokens", "500"),
                ("x-mock-stop", "pause_turn"),
            ]),
        );
        assert_eq!(
            effective.map(|e| e.extras),
            Ok(Extras {
                tool_calls: 2,
                thinking: true,
                cache_read: 9000,
                cache_creation: 500,
                stop: Some("pause_turn"),
            })
        );
    }

    #[test]
    fn fault_none_clears_the_configured_fault() {
        let effective = apply(&defaults(), &headers(&[("x-mock-fault", "none")]));
        assert_eq!(effective.map(|e| e.settings.fault), Ok(None));
    }

    #[test]
    fn no_headers_keep_the_configured_settings() {
        let effective = apply(&defaults(), &HeaderMap::new());
        assert_eq!(
            effective.map(|e| (e.settings.fault, e.echo_headers)),
            Ok((Some(MockFault::Status(500)), false))
        );
    }

    #[test]
    fn bad_values_and_unknown_headers_are_rejected() {
        for (name, value, needle) in [
            ("x-mock-fault", "status:abc", "x-mock-fault"),
            ("x-mock-latency-ms", "-1", "x-mock-latency-ms"),
            ("x-mock-chunks", "0", "at least 1"),
            ("x-mock-chunks", "99999999", "0 to 10000"),
            ("x-mock-echo-headers", "yes", "true or false"),
            ("x-mock-latency", "5", "unknown header x-mock-latency"),
            ("x-mock-tool-calls", "17", "0 to 16"),
            ("x-mock-thinking", "1", "true or false"),
            (
                "x-mock-cache-read-tokens",
                "many",
                "x-mock-cache-read-tokens",
            ),
            ("x-mock-stop", "done", "not a stop reason"),
        ] {
            let result = apply(&defaults(), &headers(&[(name, value)]));
            assert!(
                result.as_ref().is_err_and(|e| e.contains(needle)),
                "{name}: {value} gave {result:?}"
            );
        }
    }
}
