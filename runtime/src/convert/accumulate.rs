//! Reassembles a converted stream into the complete response a client SDK would build from it.
//!
//! The tests compare these against the non-streaming conversions of the same
//! content; the proxy can use them where a whole response is needed from a
//! stream (response logging, moderation of the final text).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::response_anthropic_to_openai::openai_message;
use super::str_field;
use crate::sse::SseEvent;

/// Builds an OpenAI `chat.completion` from `chat.completion.chunk`s (choice 0).
#[derive(Debug, Default)]
pub struct OpenAiStreamAccumulator {
    id: String,
    model: String,
    created: u64,
    text: String,
    reasoning: String,
    thinking_blocks: Vec<Value>,
    /// Tool index -> (id, name, arguments).
    tool_calls: BTreeMap<u64, (String, String, String)>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    done: bool,
}

impl OpenAiStreamAccumulator {
    pub fn new() -> OpenAiStreamAccumulator {
        OpenAiStreamAccumulator::default()
    }

    pub fn push(&mut self, event: &SseEvent) {
        if super::is_done_marker(event) {
            self.done = true;
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            return;
        };
        if self.id.is_empty() {
            self.id = str_field(&chunk, "id").to_owned();
            self.model = str_field(&chunk, "model").to_owned();
            self.created = chunk.get("created").and_then(Value::as_u64).unwrap_or(0);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        self.text.push_str(str_field(delta, "content"));
        self.reasoning
            .push_str(str_field(delta, "reasoning_content"));
        if let Some(blocks) = delta.get("thinking_blocks").and_then(Value::as_array) {
            self.thinking_blocks.extend(blocks.iter().cloned());
        }
        for (position, call) in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let entry = self.tool_calls.entry(index).or_default();
            entry.0.push_str(str_field(call, "id"));
            entry.1.push_str(
                call.pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            entry.2.push_str(
                call.pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    /// Whether `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The reassembled response.
    pub fn response(&self) -> Value {
        let tool_calls = self
            .tool_calls
            .values()
            .map(|(id, name, arguments)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
            .collect();
        let message = openai_message(
            self.text.clone(),
            self.reasoning.clone(),
            self.thinking_blocks.clone(),
            tool_calls,
        );
        let mut response = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason, "logprobs": null}],
        });
        if let Some(usage) = &self.usage {
            response["usage"] = usage.clone();
        }
        response
    }
}

/// Builds an Anthropic `message` from its stream events, the way the Anthropic SDK does.
#[derive(Debug, Default)]
pub struct AnthropicStreamAccumulator {
    message: Map<String, Value>,
    blocks: BTreeMap<u64, Value>,
    /// Concatenated `input_json_delta` fragments per tool block.
    tool_inputs: BTreeMap<u64, String>,
    stopped: bool,
}

impl AnthropicStreamAccumulator {
    pub fn new() -> AnthropicStreamAccumulator {
        AnthropicStreamAccumulator::default()
    }

    pub fn push(&mut self, event: &SseEvent) {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            return;
        };
        match str_field(&data, "type") {
            "message_start" => {
                if let Some(message) = data.get("message").and_then(Value::as_object) {
                    self.message = message.clone();
                }
            }
            "content_block_start" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                self.blocks.insert(
                    index,
                    data.get("content_block").cloned().unwrap_or(Value::Null),
                );
            }
            "content_block_delta" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = data.get("delta").unwrap_or(&Value::Null);
                let Some(block) = self.blocks.get_mut(&index) else {
                    return;
                };
                let (field, text) = match str_field(delta, "type") {
                    "text_delta" => ("text", str_field(delta, "text")),
                    "thinking_delta" => ("thinking", str_field(delta, "thinking")),
                    "signature_delta" => ("signature", str_field(delta, "signature")),
                    "input_json_delta" => {
                        self.tool_inputs
                            .entry(index)
                            .or_default()
                            .push_str(str_field(delta, "partial_json"));
                        return;
                    }
                    _ => return,
                };
                let joined = format!("{}{}", str_field(block, field), text);
                block[field] = json!(joined);
            }
            "message_delta" => {
                if let Some(delta) = data.get("delta").and_then(Value::as_object) {
                    for (key, value) in delta {
                        self.message.insert(key.clone(), value.clone());
                    }
                }
                if let Some(usage) = data.get("usage").and_then(Value::as_object) {
                    let target = self.message.entry("usage").or_insert_with(|| json!({}));
                    for (key, value) in usage {
                        if !value.is_null() {
                            target[key] = value.clone();
                        }
                    }
                }
            }
            "message_stop" => self.stopped = true,
            _ => {}
        }
    }

    /// Whether `message_stop` arrived.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The reassembled message (tool inputs parsed; `{}` when they do not parse).
    pub fn message(&self) -> Value {
        let mut message = self.message.clone();
        let content = self
            .blocks
            .iter()
            .map(|(index, block)| {
                let mut block = block.clone();
                if let Some(input) = self.tool_inputs.get(index) {
                    block["input"] = serde_json::from_str(input).unwrap_or_else(|_| json!({}));
                }
                block
            })
            .collect();
        message.insert("content".into(), Value::Array(content));
        Value::Object(message)
    }
}
