//! OpenAI chat completion chunks -> Anthropic messages SSE events, chunk by chunk.
//!
//! Text and thinking blocks are opened only when non-empty content arrives
//! (no empty leading text block) and closed when another kind starts. Each
//! OpenAI tool index gets its own `tool_use` block (`input: {}`) that stays
//! open until the message ends, so interleaved `tool_calls[i]` deltas of
//! two indices each land on their own block index. The stop reason and the
//! usage (OpenAI sends its usage chunk after the finish reason) go out in
//! one `message_delta` at `[DONE]`, followed by `message_stop`.

use serde_json::{Value, json};

use super::errors::UpstreamError;
use super::{WireFormat, stop_reason, str_field, write_event};
use crate::sse::SseEvent;
use crate::usage::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenKind {
    Text,
    Thinking,
}

/// The transducer (see the module docs).
#[derive(Debug, Default)]
pub struct OpenAiToAnthropicStream {
    /// Upstream events skipped because their data was not JSON.
    malformed_events: u64,
    started: bool,
    next_block: u64,
    /// The open text or thinking block and its Anthropic index.
    open: Option<(OpenKind, u64)>,
    /// OpenAI tool index -> Anthropic block index, in order of appearance.
    tools: Vec<(u64, u64)>,
    usage: Usage,
    finish_reason: Option<String>,
    finished: bool,
}

impl OpenAiToAnthropicStream {
    pub fn new() -> OpenAiToAnthropicStream {
        OpenAiToAnthropicStream::default()
    }

    /// Upstream events skipped because their data was not JSON.
    pub fn malformed_events(&self) -> u64 {
        self.malformed_events
    }

    /// The usage reported so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Converts one upstream event.
    pub fn push(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        if super::is_done_marker(event) {
            self.end(out);
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            self.malformed_events += 1;
            return;
        };
        if chunk.get("error").is_some_and(Value::is_object) {
            let error = UpstreamError::parse(WireFormat::OpenAi, 500, &chunk);
            write_event(
                out,
                Some("error"),
                &error.to_client_body(WireFormat::Anthropic),
            );
            self.finished = true;
            return;
        }
        if !chunk.is_object() {
            return;
        }
        self.start(&chunk, out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage.merge_max(&Usage::from_openai(usage));
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(reasoning) = delta
            .get("reasoning_content")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            let index = self.open_exclusive(OpenKind::Thinking, out);
            write_block_delta(
                out,
                index,
                json!({"type": "thinking_delta", "thinking": reasoning}),
            );
        }
        for block in delta
            .get("thinking_blocks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.whole_thinking_block(block, out);
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = self.open_exclusive(OpenKind::Text, out);
            write_block_delta(out, index, json!({"type": "text_delta", "text": text}));
        }
        for (position, call) in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            self.tool_delta(position as u64, call, out);
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "id": str_field(chunk, "id"),
            "type": "message",
            "role": "assistant",
            "model": str_field(chunk, "model"),
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        });
        write_event(
            out,
            Some("message_start"),
            &json!({"type": "message_start", "message": message}),
        );
    }

    fn close_open(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write_event(
                out,
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn new_block(&mut self, block: Value, out: &mut Vec<u8>) -> u64 {
        let index = self.next_block;
        self.next_block += 1;
        write_event(
            out,
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    /// The open block of `kind`, opening one (and closing another kind) if needed.
    fn open_exclusive(&mut self, kind: OpenKind, out: &mut Vec<u8>) -> u64 {
        if let Some((_, index)) = self.open.filter(|(open_kind, _)| *open_kind == kind) {
            return index;
        }
        self.close_open(out);
        let block = match kind {
            OpenKind::Text => json!({"type": "text", "text": ""}),
            OpenKind::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
        };
        let index = self.new_block(block, out);
        self.open = Some((kind, index));
        index
    }

    /// A whole block from this gateway's `thinking_blocks` extension: its
    /// signature ends the thinking block streamed so far; redacted blocks stand alone.
    fn whole_thinking_block(&mut self, block: &Value, out: &mut Vec<u8>) {
        match str_field(block, "type") {
            "thinking" => {
                let streamed = matches!(self.open, Some((OpenKind::Thinking, _)));
                let index = self.open_exclusive(OpenKind::Thinking, out);
                let text = str_field(block, "thinking");
                if !streamed && !text.is_empty() {
                    write_block_delta(
                        out,
                        index,
                        json!({"type": "thinking_delta", "thinking": text}),
                    );
                }
                let signature = str_field(block, "signature");
                if !signature.is_empty() {
                    write_block_delta(
                        out,
                        index,
                        json!({"type": "signature_delta", "signature": signature}),
                    );
                }
                self.close_open(out);
            }
            "redacted_thinking" => {
                self.close_open(out);
                let index = self.new_block(
                    json!({"type": "redacted_thinking", "data": str_field(block, "data")}),
                    out,
                );
                write_event(
                    out,
                    Some("content_block_stop"),
                    &json!({"type": "content_block_stop", "index": index}),
                );
            }
            _ => {}
        }
    }

    fn tool_delta(&mut self, position: u64, call: &Value, out: &mut Vec<u8>) {
        let openai_index = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position);
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let block_index = match self.tools.iter().find(|(tool, _)| *tool == openai_index) {
            Some(&(_, block_index)) => block_index,
            None => {
                self.close_open(out);
                let block = json!({
                    "type": "tool_use",
                    "id": str_field(call, "id"),
                    "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
                    "input": {},
                });
                let block_index = self.new_block(block, out);
                self.tools.push((openai_index, block_index));
                block_index
            }
        };
        if !arguments.is_empty() {
            write_block_delta(
                out,
                block_index,
                json!({"type": "input_json_delta", "partial_json": arguments}),
            );
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.start(&Value::Null, out);
        self.close_open(out);
        for (_, index) in std::mem::take(&mut self.tools) {
            write_event(
                out,
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
        let reason = stop_reason::openai_to_anthropic(
            self.finish_reason.as_deref().unwrap_or("stop"),
            false,
        );
        write_event(
            out,
            Some("message_delta"),
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": null},
                "usage": self.usage.to_anthropic(),
            }),
        );
        write_event(out, Some("message_stop"), &json!({"type": "message_stop"}));
        self.finished = true;
    }

    /// The upstream stream ended. Without `[DONE]` but after a finish reason
    /// (some OpenAI-compatible upstreams omit it) the message is completed; a
    /// stream cut before its finish reason is left without `message_stop`, so
    /// the client can tell it is truncated.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.finish_reason.is_some() {
            self.end(out);
        }
        self.finished = true;
    }
}

fn write_block_delta(out: &mut Vec<u8>, index: u64, delta: Value) {
    write_event(
        out,
        Some("content_block_delta"),
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    );
}
