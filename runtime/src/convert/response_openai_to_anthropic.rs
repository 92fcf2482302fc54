//! OpenAI chat completion -> Anthropic messages response (non-streaming).
//!
//! Only `choices[0]` is converted (requests converted from Anthropic never
//! ask for `n > 1`). `reasoning_content` becomes a `thinking` block with an
//! empty `signature` (OpenAI upstreams have none; such a block is never
//! replayed to Anthropic because Anthropic-bound history from an OpenAI
//! upstream drops thinking), unless `thinking_blocks` carries the original
//! blocks. Tool `arguments` must parse to a JSON object (else the response
//! is refused: a 502 beats silently losing the arguments).

use serde_json::{Value, json};

use super::{ConvertError, stop_reason, str_field};
use crate::usage::Usage;

/// Converts the response.
pub fn openai_response_to_anthropic(response: &Value) -> Result<Value, ConvertError> {
    let choice = response
        .pointer("/choices/0")
        .ok_or_else(|| ConvertError::new("upstream response has no choices"))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = thinking_blocks(message);
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        content.push(json!({
            "type": "tool_use",
            "id": str_field(call, "id"),
            "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
            "input": parse_arguments(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or(""))?,
        }));
    }
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    Ok(json!({
        "id": str_field(response, "id"),
        "type": "message",
        "role": "assistant",
        "model": str_field(response, "model"),
        "content": content,
        "stop_reason": stop_reason::openai_to_anthropic(finish_reason, false),
        "stop_sequence": null,
        "usage": Usage::from_response(super::WireFormat::OpenAi, response).to_anthropic(),
    }))
}

/// `thinking_blocks` as sent by this gateway, else `reasoning_content` as one unsigned block.
pub(crate) fn thinking_blocks(message: &Value) -> Vec<Value> {
    if let Some(blocks) = message.get("thinking_blocks").and_then(Value::as_array) {
        return blocks
            .iter()
            .filter_map(|block| match str_field(block, "type") {
                "thinking" => Some(json!({"type": "thinking", "thinking": str_field(block, "thinking"), "signature": str_field(block, "signature")})),
                "redacted_thinking" => Some(json!({"type": "redacted_thinking", "data": str_field(block, "data")})),
                _ => None,
            })
            .collect();
    }
    match message.get("reasoning_content").and_then(Value::as_str) {
        Some(reasoning) if !reasoning.is_empty() => {
            vec![json!({"type": "thinking", "thinking": reasoning, "signature": ""})]
        }
        _ => Vec::new(),
    }
}

/// Tool arguments (a JSON string) -> the `input` object; empty means `{}`.
pub(crate) fn parse_arguments(arguments: &str) -> Result<Value, ConvertError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ConvertError::new("upstream tool call arguments are not a JSON object"))
}
