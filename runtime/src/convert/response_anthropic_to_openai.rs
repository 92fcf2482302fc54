//! Anthropic messages response -> OpenAI chat completion (non-streaming).
//!
//! Text blocks are concatenated into `content` (null when the answer is only
//! tool calls); thinking goes to `reasoning_content` and, whole with its
//! signature, to `thinking_blocks` (see the module docs of `convert`);
//! `tool_use` blocks become `tool_calls` with the ids kept and `input`
//! serialised into the `arguments` string.

use serde_json::{Value, json};

use super::{ConvertError, stop_reason, str_field};
use crate::usage::Usage;

/// Converts the response. `created` is the Unix time to report (Anthropic has none).
pub fn anthropic_response_to_openai(response: &Value, created: u64) -> Result<Value, ConvertError> {
    let blocks = response
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::new("upstream response has no content array"))?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match str_field(block, "type") {
            "text" => text.push_str(str_field(block, "text")),
            "thinking" => {
                reasoning.push_str(str_field(block, "thinking"));
                thinking_blocks.push(json!({
                    "type": "thinking",
                    "thinking": str_field(block, "thinking"),
                    "signature": str_field(block, "signature"),
                }));
            }
            "redacted_thinking" => thinking_blocks.push(json!({"type": "redacted_thinking", "data": str_field(block, "data")})),
            "tool_use" => tool_calls.push(json!({
                "id": str_field(block, "id"),
                "type": "function",
                "function": {
                    "name": str_field(block, "name"),
                    "arguments": block.get("input").cloned().unwrap_or_else(|| json!({})).to_string(),
                },
            })),
            // Server-tool results and citations have no OpenAI form.
            _ => {}
        }
    }
    let message = openai_message(text, reasoning, thinking_blocks, tool_calls);
    let finish_reason = stop_reason::anthropic_to_openai(str_field(response, "stop_reason"));
    let mut out = json!({
        "id": str_field(response, "id"),
        "object": "chat.completion",
        "created": created,
        "model": str_field(response, "model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
    });
    if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
        out["usage"] = Usage::from_anthropic(usage).to_openai();
    }
    Ok(out)
}

/// The assistant message shape shared with the stream accumulator, so both agree exactly.
pub(crate) fn openai_message(
    text: String,
    reasoning: String,
    thinking_blocks: Vec<Value>,
    tool_calls: Vec<Value>,
) -> Value {
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !thinking_blocks.is_empty() {
        message["thinking_blocks"] = Value::Array(thinking_blocks);
    }
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    message
}
