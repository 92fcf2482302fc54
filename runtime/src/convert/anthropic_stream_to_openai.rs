//! Anthropic messages SSE events -> OpenAI chat completion chunks, event by event.
//!
//! Each `tool_use` block gets the next OpenAI tool `index` (0, 1, ... in
//! order of appearance, not the Anthropic content index), and its first
//! fragment carries the id and name. Thinking streams as
//! `delta.reasoning_content`; when a thinking block ends, it is sent whole
//! with its signature in `delta.thinking_blocks` (redacted blocks when they
//! start). `ping` and unknown events are dropped. The usage chunk
//! (`choices: []`) is sent only when the client asked for it.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::errors::UpstreamError;
use super::{WireFormat, stop_reason, str_field, write_done, write_event};
use crate::sse::SseEvent;
use crate::usage::Usage;

/// What is being built from an Anthropic content block.
#[derive(Debug)]
enum Block {
    Tool { openai_index: usize },
    Thinking { text: String, signature: String },
    Other,
}

/// The transducer (see the module docs).
#[derive(Debug)]
pub struct AnthropicToOpenAiStream {
    /// Upstream events skipped because their data was not JSON.
    malformed_events: u64,
    include_usage: bool,
    created: u64,
    id: String,
    model: String,
    blocks: HashMap<u64, Block>,
    next_tool_index: usize,
    usage: Usage,
    finish_reason: Option<&'static str>,
    finished: bool,
}

impl AnthropicToOpenAiStream {
    /// `include_usage`: the client asked for `stream_options.include_usage`.
    /// `created`: the Unix time reported in every chunk.
    pub fn new(include_usage: bool, created: u64) -> AnthropicToOpenAiStream {
        AnthropicToOpenAiStream {
            include_usage,
            created,
            id: String::new(),
            model: String::new(),
            blocks: HashMap::new(),
            next_tool_index: 0,
            usage: Usage::default(),
            finish_reason: None,
            finished: false,
            malformed_events: 0,
        }
    }

    /// Upstream events skipped because their data was not JSON.
    pub fn malformed_events(&self) -> u64 {
        self.malformed_events
    }

    /// The usage merged from the events seen so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>, out: &mut Vec<u8>) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": null}],
        });
        write_event(out, None, &chunk);
    }

    /// Converts one upstream event.
    pub fn push(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            self.malformed_events += 1;
            return;
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or("");
        match kind {
            "message_start" => {
                let message = data.get("message").unwrap_or(&Value::Null);
                self.id = str_field(message, "id").to_owned();
                self.model = str_field(message, "model").to_owned();
                if let Some(usage) = message.get("usage").filter(|u| u.is_object()) {
                    self.usage.merge_max(&Usage::from_anthropic(usage));
                }
                self.chunk(json!({"role": "assistant", "content": ""}), None, out);
            }
            "content_block_start" => self.block_start(&data, out),
            "content_block_delta" => self.block_delta(&data, out),
            "content_block_stop" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(Block::Thinking { text, signature }) = self.blocks.remove(&index) {
                    let block =
                        json!({"type": "thinking", "thinking": text, "signature": signature});
                    self.chunk(json!({"thinking_blocks": [block]}), None, out);
                }
            }
            "message_delta" => {
                if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
                    self.usage.merge_max(&Usage::from_anthropic(usage));
                }
                // Several cumulative message_deltas may repeat the stop reason: one finish chunk.
                let reason = data.pointer("/delta/stop_reason").and_then(Value::as_str);
                if let Some(reason) = reason.filter(|_| self.finish_reason.is_none()) {
                    let finish_reason = stop_reason::anthropic_to_openai(reason);
                    self.finish_reason = Some(finish_reason);
                    self.chunk(json!({}), Some(finish_reason), out);
                }
            }
            "message_stop" => self.end(out),
            "error" => {
                let error = UpstreamError::parse(WireFormat::Anthropic, 500, &data);
                write_event(out, None, &error.to_client_body(WireFormat::OpenAi));
                self.finished = true;
            }
            _ => {}
        }
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<u8>) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let block = data.get("content_block").unwrap_or(&Value::Null);
        let state = match str_field(block, "type") {
            "text" => {
                let text = str_field(block, "text");
                if !text.is_empty() {
                    self.chunk(json!({"content": text}), None, out);
                }
                Block::Other
            }
            "tool_use" => {
                let openai_index = self.next_tool_index;
                self.next_tool_index += 1;
                let call = json!({
                    "index": openai_index,
                    "id": str_field(block, "id"),
                    "type": "function",
                    "function": {"name": str_field(block, "name"), "arguments": ""},
                });
                self.chunk(json!({"tool_calls": [call]}), None, out);
                Block::Tool { openai_index }
            }
            "thinking" => {
                let text = str_field(block, "thinking").to_owned();
                if !text.is_empty() {
                    self.chunk(json!({"reasoning_content": text}), None, out);
                }
                Block::Thinking {
                    text,
                    signature: str_field(block, "signature").to_owned(),
                }
            }
            "redacted_thinking" => {
                let redacted =
                    json!({"type": "redacted_thinking", "data": str_field(block, "data")});
                self.chunk(json!({"thinking_blocks": [redacted]}), None, out);
                Block::Other
            }
            _ => Block::Other,
        };
        self.blocks.insert(index, state);
    }

    fn block_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let delta = data.get("delta").unwrap_or(&Value::Null);
        match (str_field(delta, "type"), self.blocks.get_mut(&index)) {
            ("text_delta", _) => {
                let text = str_field(delta, "text");
                if !text.is_empty() {
                    self.chunk(json!({"content": text}), None, out);
                }
            }
            ("input_json_delta", Some(Block::Tool { openai_index })) => {
                let fragment = str_field(delta, "partial_json");
                if !fragment.is_empty() {
                    let call = json!({"index": *openai_index, "function": {"arguments": fragment}});
                    self.chunk(json!({"tool_calls": [call]}), None, out);
                }
            }
            ("thinking_delta", Some(Block::Thinking { text, .. })) => {
                let fragment = str_field(delta, "thinking");
                if !fragment.is_empty() {
                    text.push_str(fragment);
                    self.chunk(json!({"reasoning_content": fragment}), None, out);
                }
            }
            ("signature_delta", Some(Block::Thinking { signature, .. })) => {
                signature.push_str(str_field(delta, "signature"));
            }
            _ => {}
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.include_usage {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage.to_openai(),
            });
            write_event(out, None, &chunk);
        }
        write_done(out);
        self.finished = true;
    }

    /// The upstream stream ended. If it had reached its stop reason but lost
    /// `message_stop`, the OpenAI stream is completed; a stream cut before
    /// that is left without `[DONE]` so the client can tell it is truncated.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.finished && self.finish_reason.is_some() {
            self.end(out);
        }
        self.finished = true;
    }
}
