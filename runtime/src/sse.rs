//! The one incremental Server-Sent Events framer: byte chunks of any size in, complete events out.
//!
//! Upstreams and the network split an SSE stream anywhere: inside a UTF-8
//! character, between `\r` and `\n`, several events per read. The framer works
//! on bytes, decodes only complete lines, and yields the same events however
//! the stream is split. An event larger than the limit is dropped and
//! counted, never fatal, so a hostile upstream cannot grow memory.

/// Default largest event (sum of its line lengths) the framer keeps.
pub const DEFAULT_EVENT_LIMIT: usize = 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any (absent means `message`).
    pub event: Option<String>,
    /// All `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field of this event, if any.
    pub id: Option<String>,
}

impl SseEvent {
    /// True when the event carries model output: what the first packet
    /// timeout waits for and what commits a stream.
    ///
    /// OpenAI chunks count when a choice has non-empty `delta.content`,
    /// `delta.reasoning_content` or `delta.tool_calls`, or a `finish_reason`;
    /// Anthropic counts `content_block_delta`, a `tool_use` block start and a
    /// `message_delta` with a `stop_reason`. Pings, comments, role-only
    /// preludes, `message_start`, usage-only chunks, errors and `[DONE]` do
    /// not. Data that is not JSON counts, so an unknown dialect still commits.
    pub fn carries_content(&self) -> bool {
        if self.data == "[DONE]" {
            return false;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&self.data) else {
            return !self.data.trim().is_empty();
        };
        let kind = self
            .event
            .as_deref()
            .or_else(|| value["type"].as_str())
            .unwrap_or("message");
        match kind {
            "content_block_delta" => true,
            "content_block_start" => value["content_block"]["type"] == "tool_use",
            "message_delta" => !value["delta"]["stop_reason"].is_null(),
            "message" | "completion" | "chat.completion.chunk" => openai_chunk_has_content(&value),
            // DashScope native streams name every event `result`.
            "result" => dashscope_event_has_content(&value),
            _ => false,
        }
    }
}

/// A choice of an OpenAI chunk has output or a finish reason.
fn openai_chunk_has_content(chunk: &serde_json::Value) -> bool {
    let non_empty_text = |value: &serde_json::Value| value.as_str().is_some_and(|s| !s.is_empty());
    chunk["choices"].as_array().is_some_and(|choices| {
        choices.iter().any(|choice| {
            let delta = &choice["delta"];
            non_empty_text(&delta["content"])
                || non_empty_text(&delta["reasoning_content"])
                || delta["tool_calls"].as_array().is_some_and(|calls| !calls.is_empty())
                // Legacy completions stream `text` rather than a delta.
                || non_empty_text(&choice["text"])
                || !choice["finish_reason"].is_null()
        })
    })
}

/// A DashScope native event has output text, reasoning, tool calls or a finish reason.
fn dashscope_event_has_content(event: &serde_json::Value) -> bool {
    let non_empty_text = |value: &serde_json::Value| value.as_str().is_some_and(|s| !s.is_empty());
    let finished = |value: &serde_json::Value| value.as_str().is_some_and(|s| s != "null");
    let output = &event["output"];
    non_empty_text(&output["text"])
        || finished(&output["finish_reason"])
        || output["choices"].as_array().is_some_and(|choices| {
            choices.iter().any(|choice| {
                let message = &choice["message"];
                non_empty_text(&message["content"])
                    || non_empty_text(&message["reasoning_content"])
                    || message["tool_calls"]
                        .as_array()
                        .is_some_and(|calls| !calls.is_empty())
                    || finished(&choice["finish_reason"])
            })
        })
}

/// Incremental SSE parser (see the module docs).
#[derive(Debug)]
pub struct SseFramer {
    /// Bytes of a line whose end has not arrived yet.
    partial_line: Vec<u8>,
    /// The previous chunk ended in `\r`: a leading `\n` belongs to that line end.
    skip_leading_lf: bool,
    /// No line has completed yet (the first may start with a UTF-8 BOM).
    first_line: bool,
    event: SseEvent,
    has_data: bool,
    event_bytes: usize,
    oversized: bool,
    limit: usize,
    dropped_events: u64,
}

impl Default for SseFramer {
    fn default() -> Self {
        SseFramer::with_limit(DEFAULT_EVENT_LIMIT)
    }
}

impl SseFramer {
    pub fn new() -> SseFramer {
        SseFramer::default()
    }

    /// A framer that drops events larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> SseFramer {
        SseFramer {
            partial_line: Vec::new(),
            skip_leading_lf: false,
            first_line: true,
            event: SseEvent::default(),
            has_data: false,
            event_bytes: 0,
            oversized: false,
            limit,
            dropped_events: 0,
        }
    }

    /// Events dropped so far for being over the limit.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// Feeds the next bytes of the stream; complete events are pushed to `events`.
    pub fn feed(&mut self, mut chunk: &[u8], events: &mut Vec<SseEvent>) {
        if self.skip_leading_lf && !chunk.is_empty() {
            self.skip_leading_lf = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.partial_line.is_empty() {
                self.account(end);
                self.end_line(&chunk[..end], events);
            } else {
                self.buffer(&chunk[..end]);
                let line = std::mem::take(&mut self.partial_line);
                self.end_line(&line, events);
                // Keep the allocation for the next split line.
                self.partial_line = line;
                self.partial_line.clear();
            }
            let mut next = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_leading_lf = true,
                }
            }
            chunk = &chunk[next..];
        }
        self.buffer(chunk);
    }

    /// Counts a line's bytes against the event limit.
    fn account(&mut self, line_len: usize) {
        if !self.oversized && self.event_bytes + line_len > self.limit {
            self.oversized = true;
        }
    }

    fn buffer(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.oversized {
            return;
        }
        if self.event_bytes + self.partial_line.len() + bytes.len() > self.limit {
            self.oversized = true;
            self.partial_line.clear();
            return;
        }
        self.partial_line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, mut line: &[u8], events: &mut Vec<SseEvent>) {
        if self.first_line {
            self.first_line = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if self.oversized {
            return;
        }
        self.event_bytes += line.len() + 1;
        if line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.has_data {
                    self.event.data.push('\n');
                }
                self.event.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event.event = Some(value.into_owned()),
            // The spec ignores ids containing NUL.
            b"id" if !value.contains('\0') => self.event.id = Some(value.into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        if self.oversized {
            self.dropped_events += 1;
            self.event = SseEvent::default();
        } else if self.has_data {
            events.push(std::mem::take(&mut self.event));
        } else {
            self.event = SseEvent::default();
        }
        self.has_data = false;
        self.oversized = false;
        self.event_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &[u8] = b"\xEF\xBB\xBF: keep-alive\r\n\r\n\
event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n\
event: ping\ndata: {\"type\": \"ping\"}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80\"}}]}\r\r\
id: 7\ndata: line one\ndata:line two\ndata\n\n\
: comment between events\n\
event: unknown_type\ndata: {}\r\n\r\n\
retry: 100\nfield-without-colon\ndata: [DONE]\n\n\
data: incomplete at end";

    fn frame_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut framer = SseFramer::new();
        let mut events = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, &mut events);
        }
        events
    }

    fn event(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn parses_the_recorded_stream() {
        let events = frame_all(&[RECORDED]);
        assert_eq!(
            events,
            vec![
                event(Some("message_start"), r#"{"type":"message_start"}"#, None),
                event(Some("ping"), r#"{"type": "ping"}"#, None),
                event(
                    None,
                    "{\"choices\":[{\"delta\":{\"content\":\"héllo 世界 😀\"}}]}",
                    None
                ),
                event(None, "line one\nline two\n", Some("7")),
                event(Some("unknown_type"), "{}", None),
                event(None, "[DONE]", None),
            ]
        );
    }

    #[test]
    fn every_single_split_yields_identical_events() {
        let whole = frame_all(&[RECORDED]);
        for split in 0..=RECORDED.len() {
            let (a, b) = RECORDED.split_at(split);
            assert_eq!(frame_all(&[a, b]), whole, "split at byte {split}");
        }
    }

    #[test]
    fn byte_by_byte_and_random_multi_splits_yield_identical_events() {
        let whole = frame_all(&[RECORDED]);
        let bytes: Vec<&[u8]> = RECORDED.chunks(1).collect();
        assert_eq!(frame_all(&bytes), whole);

        // A small deterministic xorshift so failures reproduce.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..500 {
            let mut chunks = Vec::new();
            let mut rest = RECORDED;
            while !rest.is_empty() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let take = (state % 9) as usize;
                let take = take.min(rest.len());
                let (chunk, tail) = rest.split_at(take);
                chunks.push(chunk);
                rest = tail;
            }
            assert_eq!(frame_all(&chunks), whole, "round {round}: {chunks:?}");
        }
    }

    #[test]
    fn oversized_event_is_dropped_and_counted_and_later_events_survive() {
        let mut framer = SseFramer::with_limit(32);
        let mut events = Vec::new();
        let big = format!("data: {}\n\ndata: small\n\n", "x".repeat(100));
        for chunk in big.as_bytes().chunks(7) {
            framer.feed(chunk, &mut events);
        }
        assert_eq!(events, vec![event(None, "small", None)]);
        assert_eq!(framer.dropped_events(), 1);
    }

    #[test]
    fn cr_only_line_endings_are_event_boundaries() {
        let events = frame_all(&[b"data: a\r", b"\r", b"data: b\r\r"]);
        assert_eq!(events, vec![event(None, "a", None), event(None, "b", None)]);
    }

    #[test]
    fn only_model_output_counts_as_content() {
        let counts = |name: Option<&str>, data: &str| event(name, data, None).carries_content();
        // OpenAI.
        assert!(!counts(None, "[DONE]"));
        assert!(!counts(
            None,
            r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#
        ));
        assert!(!counts(
            None,
            r#"{"choices":[],"usage":{"total_tokens":3}}"#
        ));
        assert!(!counts(None, r#"{"error":{"message":"overloaded"}}"#));
        assert!(counts(None, r#"{"choices":[{"delta":{"content":"hi"}}]}"#));
        assert!(counts(
            None,
            r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#
        ));
        assert!(counts(
            None,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#
        ));
        assert!(counts(
            None,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#
        ));
        assert!(counts(None, "not json at all"));
        // Anthropic.
        assert!(!counts(Some("ping"), r#"{"type": "ping"}"#));
        assert!(!counts(
            Some("message_start"),
            r#"{"type":"message_start","message":{}}"#
        ));
        assert!(!counts(
            Some("content_block_start"),
            r#"{"type":"content_block_start","content_block":{"type":"text","text":""}}"#
        ));
        assert!(!counts(
            Some("error"),
            r#"{"type":"error","error":{"type":"overloaded_error"}}"#
        ));
        assert!(counts(
            Some("content_block_start"),
            r#"{"type":"content_block_start","content_block":{"type":"tool_use","name":"f"}}"#
        ));
        assert!(counts(
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"h"}}"#
        ));
        assert!(counts(
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#
        ));
        assert!(!counts(
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{}}"#
        ));
        // DashScope native.
        assert!(!counts(
            Some("result"),
            r#"{"output":{"choices":[{"message":{"content":"","role":"assistant"},"finish_reason":"null"}]}}"#
        ));
        assert!(counts(
            Some("result"),
            r#"{"output":{"choices":[{"message":{"content":"hi","role":"assistant"},"finish_reason":"null"}]}}"#
        ));
        assert!(counts(
            Some("result"),
            r#"{"output":{"text":"","finish_reason":"stop"}}"#
        ));
    }
}
