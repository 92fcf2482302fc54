//! The one usage record per request, and its exact mapping between protocols (product reference section 7).
//!
//! `Usage` counts in Anthropic's terms: `input` EXCLUDES cached tokens, so
//! `input + cache_read + cache_creation` is the whole prompt. OpenAI and
//! DashScope report a prompt count that INCLUDES the cached tokens; the
//! conversions below subtract and add them back exactly, so a record made
//! from any protocol and re-emitted in any other reproduces the same numbers.
//! Streams report usage cumulatively (Anthropic `message_start` then
//! `message_delta`s, DashScope on every event), so records are merged by
//! per-field maximum and never added.

use serde_json::{Value, json};

pub use crate::convert::WireFormat;
use crate::sse::SseEvent;

/// Tokens of one request as the upstream reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens that were neither read from nor written to a cache.
    pub input: u64,
    /// Completion tokens (reasoning included, as every protocol counts them).
    pub output: u64,
    /// Prompt tokens read from the provider's prompt cache.
    pub cache_read: u64,
    /// Prompt tokens written to the provider's prompt cache.
    pub cache_creation: u64,
    /// The part of `output` spent on reasoning, where the upstream says so.
    pub reasoning: u64,
    /// All tokens: the upstream's total when it reports one, else prompt + output.
    pub total: u64,
}

fn count(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

impl Usage {
    /// The whole prompt, cached parts included (OpenAI's `prompt_tokens`).
    pub fn prompt_tokens(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_creation)
    }

    fn computed_total(&self) -> u64 {
        self.prompt_tokens().saturating_add(self.output)
    }

    /// From an Anthropic `usage` object (response, `message_start.message.usage` or `message_delta.usage`).
    pub fn from_anthropic(usage: &Value) -> Usage {
        let mut record = Usage {
            input: count(usage, "/input_tokens"),
            output: count(usage, "/output_tokens"),
            cache_read: count(usage, "/cache_read_input_tokens"),
            cache_creation: count(usage, "/cache_creation_input_tokens"),
            reasoning: 0,
            total: 0,
        };
        record.total = record.computed_total();
        record
    }

    /// From an OpenAI `usage` object. `prompt_tokens_details.cache_creation_input_tokens`
    /// is the extension some OpenAI-compatible upstreams (and this gateway) use for cache writes.
    pub fn from_openai(usage: &Value) -> Usage {
        let prompt = count(usage, "/prompt_tokens");
        let cache_read = count(usage, "/prompt_tokens_details/cached_tokens");
        let cache_creation = count(usage, "/prompt_tokens_details/cache_creation_input_tokens");
        let output = count(usage, "/completion_tokens");
        Usage {
            input: prompt
                .saturating_sub(cache_read)
                .saturating_sub(cache_creation),
            output,
            cache_read,
            cache_creation,
            reasoning: count(usage, "/completion_tokens_details/reasoning_tokens"),
            total: usage
                .get("total_tokens")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| prompt.saturating_add(output)),
        }
    }

    /// From a DashScope native `usage` object (`input_tokens` includes cached tokens).
    pub fn from_dashscope(usage: &Value) -> Usage {
        let prompt = count(usage, "/input_tokens");
        let cache_read = count(usage, "/prompt_tokens_details/cached_tokens");
        let cache_creation = count(usage, "/prompt_tokens_details/cache_creation_input_tokens");
        let output = count(usage, "/output_tokens");
        Usage {
            input: prompt
                .saturating_sub(cache_read)
                .saturating_sub(cache_creation),
            output,
            cache_read,
            cache_creation,
            reasoning: count(usage, "/output_tokens_details/reasoning_tokens"),
            total: usage
                .get("total_tokens")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| prompt.saturating_add(output)),
        }
    }

    /// From a usage object in `format`.
    pub fn from_format(format: WireFormat, usage: &Value) -> Usage {
        match format {
            WireFormat::OpenAi => Usage::from_openai(usage),
            WireFormat::Anthropic => Usage::from_anthropic(usage),
            WireFormat::DashScope => Usage::from_dashscope(usage),
        }
    }

    /// From a complete non-streaming response body in `format` (zero when it reports none).
    pub fn from_response(format: WireFormat, response: &Value) -> Usage {
        response
            .get("usage")
            .filter(|usage| usage.is_object())
            .map(|usage| Usage::from_format(format, usage))
            .unwrap_or_default()
    }

    /// Merges a cumulative report: every field takes the larger value, never the sum.
    pub fn merge_max(&mut self, other: &Usage) {
        self.input = self.input.max(other.input);
        self.output = self.output.max(other.output);
        self.cache_read = self.cache_read.max(other.cache_read);
        self.cache_creation = self.cache_creation.max(other.cache_creation);
        self.reasoning = self.reasoning.max(other.reasoning);
        self.total = self.total.max(other.total).max(self.computed_total());
    }

    /// As an OpenAI `usage` object.
    pub fn to_openai(&self) -> Value {
        let mut details = json!({ "cached_tokens": self.cache_read });
        if self.cache_creation > 0 {
            details["cache_creation_input_tokens"] = json!(self.cache_creation);
        }
        let mut usage = json!({
            "prompt_tokens": self.prompt_tokens(),
            "completion_tokens": self.output,
            "total_tokens": self.prompt_tokens().saturating_add(self.output),
            "prompt_tokens_details": details,
        });
        if self.reasoning > 0 {
            usage["completion_tokens_details"] = json!({ "reasoning_tokens": self.reasoning });
        }
        usage
    }

    /// As an Anthropic `usage` object.
    pub fn to_anthropic(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_creation,
        })
    }

    /// As a DashScope native `usage` object.
    pub fn to_dashscope(&self) -> Value {
        let mut usage = json!({
            "input_tokens": self.prompt_tokens(),
            "output_tokens": self.output,
            "total_tokens": self.prompt_tokens().saturating_add(self.output),
        });
        if self.cache_read > 0 || self.cache_creation > 0 {
            usage["prompt_tokens_details"] = json!({
                "cached_tokens": self.cache_read,
                "cache_creation_input_tokens": self.cache_creation,
            });
        }
        if self.reasoning > 0 {
            usage["output_tokens_details"] = json!({ "reasoning_tokens": self.reasoning });
        }
        usage
    }
}

/// Watches the upstream's SSE events and keeps the usage reported so far,
/// so a truncated or cancelled stream still yields what was reported.
#[derive(Debug)]
pub struct UsageMeter {
    format: WireFormat,
    usage: Usage,
    reported: bool,
}

impl UsageMeter {
    pub fn new(format: WireFormat) -> UsageMeter {
        UsageMeter {
            format,
            usage: Usage::default(),
            reported: false,
        }
    }

    /// Looks at one upstream event; events that are not JSON or carry no usage are ignored.
    pub fn observe(&mut self, event: &SseEvent) {
        if crate::convert::is_done_marker(event) {
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            return;
        };
        let usage = match self.format {
            WireFormat::Anthropic => match data.get("type").and_then(Value::as_str) {
                Some("message_start") => data.pointer("/message/usage"),
                Some("message_delta") => data.get("usage"),
                _ => None,
            },
            WireFormat::OpenAi | WireFormat::DashScope => data.get("usage"),
        };
        if let Some(usage) = usage.filter(|usage| usage.is_object()) {
            self.usage
                .merge_max(&Usage::from_format(self.format, usage));
            self.reported = true;
        }
    }

    /// The usage reported so far (final once the stream has ended).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether the upstream reported any usage at all.
    pub fn reported(&self) -> bool {
        self.reported
    }
}

/// Whether an OpenAI event is the usage-only chunk (`choices: []` with a
/// `usage`): on an OpenAI-to-OpenAI stream whose client did not ask for
/// usage, the proxy drops exactly these after metering them.
pub fn is_usage_only_chunk(event: &SseEvent) -> bool {
    serde_json::from_str::<Value>(&event.data).is_ok_and(|chunk| {
        chunk.get("usage").is_some_and(Value::is_object)
            && chunk
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(|choices| choices.is_empty())
    })
}

/// Makes a streaming OpenAI request ask the upstream for its usage chunk
/// (`stream_options.include_usage: true`) and returns whether the CLIENT had
/// asked for it, so only then is that chunk passed on. Non-streaming requests
/// are left untouched (OpenAI rejects `stream_options` without `stream`).
pub fn request_stream_usage(request: &mut Value) -> bool {
    if request.get("stream").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    let client_asked = request
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    if let Some(object) = request.as_object_mut() {
        let options = object.entry("stream_options").or_insert_with(|| json!({}));
        if !options.is_object() {
            *options = json!({});
        }
        options["include_usage"] = json!(true);
    }
    client_asked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lessons_item_20() -> Usage {
        Usage::from_anthropic(&json!({
            "input_tokens": 10, "cache_read_input_tokens": 9000,
            "cache_creation_input_tokens": 500, "output_tokens": 50
        }))
    }

    #[test]
    fn anthropic_to_openai_is_exact() {
        let openai = lessons_item_20().to_openai();
        assert_eq!(openai["prompt_tokens"], 9510);
        assert_eq!(openai["prompt_tokens_details"]["cached_tokens"], 9000);
        assert_eq!(openai["completion_tokens"], 50);
        assert_eq!(openai["total_tokens"], 9560);
    }

    #[test]
    fn openai_back_to_anthropic_reproduces_the_fields() {
        let back = Usage::from_openai(&lessons_item_20().to_openai()).to_anthropic();
        assert_eq!(
            back,
            json!({"input_tokens": 10, "cache_read_input_tokens": 9000,
                   "cache_creation_input_tokens": 500, "output_tokens": 50})
        );
        assert_eq!(
            Usage::from_openai(&lessons_item_20().to_openai()),
            lessons_item_20()
        );
    }

    #[test]
    fn plain_openai_usage_without_cache_creation_subtracts_only_cached() {
        let usage = Usage::from_openai(&json!({
            "prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 3}
        }));
        assert_eq!((usage.input, usage.cache_read, usage.output), (36, 64, 7));
        assert_eq!((usage.reasoning, usage.total), (3, 107));
    }

    #[test]
    fn inconsistent_openai_counts_saturate_instead_of_wrapping() {
        let usage = Usage::from_openai(&json!({
            "prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}
        }));
        assert_eq!(usage.input, 0);
    }

    #[test]
    fn dashscope_includes_cached_tokens_like_openai() {
        let usage = Usage::from_dashscope(&json!({
            "input_tokens": 9510, "output_tokens": 50, "total_tokens": 9560,
            "prompt_tokens_details": {"cached_tokens": 9000, "cache_creation_input_tokens": 500}
        }));
        assert_eq!(usage, lessons_item_20());
        assert_eq!(Usage::from_dashscope(&usage.to_dashscope()), usage);
    }

    fn event(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
            id: None,
        }
    }

    #[test]
    fn anthropic_stream_usage_merges_by_maximum_never_adds() {
        let mut meter = UsageMeter::new(WireFormat::Anthropic);
        meter.observe(&event(r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":9000,"cache_creation_input_tokens":500,"output_tokens":1}}}"#));
        meter.observe(&event(
            r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":20}}"#,
        ));
        meter.observe(&event(r#"{"type":"message_delta","delta":{},"usage":{"input_tokens":10,"cache_read_input_tokens":9000,"cache_creation_input_tokens":500,"output_tokens":50}}"#));
        assert_eq!(meter.usage(), lessons_item_20());
        assert_eq!(meter.usage().total, 9560);
    }

    #[test]
    fn truncated_stream_keeps_what_was_reported() {
        let mut meter = UsageMeter::new(WireFormat::Anthropic);
        assert!(!meter.reported());
        meter.observe(&event(
            r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}"#,
        ));
        meter.observe(&event(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
        ));
        meter.observe(&event("not json"));
        assert!(meter.reported());
        assert_eq!((meter.usage().input, meter.usage().output), (12, 1));
    }

    #[test]
    fn openai_meter_takes_the_usage_chunk_and_ignores_done() {
        let mut meter = UsageMeter::new(WireFormat::OpenAi);
        meter.observe(&event(
            r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#,
        ));
        meter.observe(&event(r#"{"choices":[],"usage":{"prompt_tokens":9510,"completion_tokens":50,"total_tokens":9560,"prompt_tokens_details":{"cached_tokens":9000,"cache_creation_input_tokens":500}}}"#));
        meter.observe(&event("[DONE]"));
        assert_eq!(meter.usage(), lessons_item_20());
    }

    #[test]
    fn usage_only_chunk_is_recognised() {
        assert!(is_usage_only_chunk(&event(
            r#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        )));
        assert!(!is_usage_only_chunk(&event(
            r#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}"#
        )));
        assert!(!is_usage_only_chunk(&event(
            r#"{"choices":[],"usage":null}"#
        )));
        assert!(!is_usage_only_chunk(&event("[DONE]")));
    }

    #[test]
    fn include_usage_is_requested_upstream_only_when_streaming() {
        for (options, asked) in [
            (json!(null), false),
            (json!({"include_usage": false}), false),
            (json!({"include_usage": true}), true),
        ] {
            let mut request = json!({"stream": true, "model": "m"});
            if !options.is_null() {
                request["stream_options"] = options;
            }
            assert_eq!(request_stream_usage(&mut request), asked);
            assert_eq!(request["stream_options"]["include_usage"], true);
        }
        let mut plain = json!({"model": "m"});
        assert!(!request_stream_usage(&mut plain));
        assert_eq!(plain, json!({"model": "m"}));
    }
}
