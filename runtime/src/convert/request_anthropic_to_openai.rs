//! Anthropic messages request -> OpenAI chat completions request (an Anthropic client in front of an OpenAI upstream).
//!
//! Thinking: OpenAI upstreams neither take nor verify Anthropic signatures,
//! so `thinking` and `redacted_thinking` blocks in the history are dropped
//! (replaying them as text would leak them into the prompt as if the user had
//! written them), and so is the top-level `thinking` switch, whose OpenAI
//! spelling differs per provider (the provider layer may add its own flag).
//! `top_k` has no OpenAI meaning and is dropped; `metadata.user_id` -> `user`.
//! When streaming, `stream_options.include_usage: true` is always added so
//! the usage record is exact.

use serde_json::{Map, Value, json};

use super::{ConvertError, str_field};

/// Converts the request.
pub fn anthropic_request_to_openai(request: &Value) -> Result<Value, ConvertError> {
    let source = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::new("`messages` must be an array"))?;
    let mut messages = Vec::new();
    match request.get("system") {
        Some(Value::String(text)) if !text.is_empty() => {
            messages.push(json!({"role": "system", "content": text}))
        }
        Some(Value::Array(blocks)) => {
            let text = blocks_text(blocks);
            if !text.is_empty() {
                messages.push(json!({"role": "system", "content": text}));
            }
        }
        _ => {}
    }
    for message in source {
        match str_field(message, "role") {
            "user" => push_user(
                message.get("content").unwrap_or(&Value::Null),
                &mut messages,
            )?,
            "assistant" => messages.push(assistant_message(
                message.get("content").unwrap_or(&Value::Null),
            )?),
            other => {
                return Err(ConvertError::new(format!(
                    "message role `{other}` is not supported"
                )));
            }
        }
    }

    let mut out = Map::new();
    out.insert(
        "model".into(),
        request.get("model").cloned().unwrap_or(Value::Null),
    );
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max_tokens) = request.get("max_tokens").filter(|v| v.is_u64()) {
        out.insert("max_tokens".into(), max_tokens.clone());
    }
    for key in ["temperature", "top_p"] {
        if let Some(value) = request.get(key).filter(|v| v.is_number()) {
            out.insert(key.into(), value.clone());
        }
    }
    if let Some(stops) = request
        .get("stop_sequences")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    {
        out.insert("stop".into(), Value::Array(stops.clone()));
    }
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(user) = request.pointer("/metadata/user_id").and_then(Value::as_str) {
        out.insert("user".into(), json!(user));
    }
    let tools = convert_tools(request)?;
    let has_tools = !tools.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = request.get("tool_choice").filter(|c| c.is_object()) {
            let mapped = match str_field(choice, "type") {
                "auto" => json!("auto"),
                "any" => json!("required"),
                "none" => json!("none"),
                "tool" => {
                    json!({"type": "function", "function": {"name": str_field(choice, "name")}})
                }
                other => {
                    return Err(ConvertError::new(format!(
                        "tool_choice type `{other}` is not supported"
                    )));
                }
            };
            out.insert("tool_choice".into(), mapped);
            if choice
                .get("disable_parallel_tool_use")
                .and_then(Value::as_bool)
                == Some(true)
            {
                out.insert("parallel_tool_calls".into(), json!(false));
            }
        }
    }
    Ok(Value::Object(out))
}

/// Text of text blocks, joined by newlines (other block types carry no system text).
fn blocks_text(blocks: &[Value]) -> String {
    blocks
        .iter()
        .filter(|block| str_field(block, "type") == "text")
        .map(|block| str_field(block, "text"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A user turn: its tool results become `role: tool` messages first (OpenAI
/// wants them right after the assistant's tool calls), then the rest as one user message.
fn push_user(content: &Value, messages: &mut Vec<Value>) -> Result<(), ConvertError> {
    let blocks = match content {
        Value::String(text) => {
            messages.push(json!({"role": "user", "content": text}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(ConvertError::new(
                "message content must be a string or an array",
            ));
        }
    };
    let mut parts = Vec::new();
    for block in blocks {
        match str_field(block, "type") {
            "text" => parts.push(json!({"type": "text", "text": str_field(block, "text")})),
            "image" => {
                parts.push(json!({"type": "image_url", "image_url": {"url": image_url(block)?}}))
            }
            "tool_result" => {
                let content = match block.get("content") {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Array(inner)) => blocks_text(inner),
                    _ => String::new(),
                };
                messages.push(json!({
                    "role": "tool",
                    "tool_call_id": str_field(block, "tool_use_id"),
                    "content": content,
                }));
            }
            other => {
                return Err(ConvertError::new(format!(
                    "content block type `{other}` is not supported by this model"
                )));
            }
        }
    }
    match parts.as_slice() {
        [] => {}
        [only] if only["type"] == "text" => {
            messages.push(json!({"role": "user", "content": only["text"]}))
        }
        _ => messages.push(json!({"role": "user", "content": parts})),
    }
    Ok(())
}

fn image_url(block: &Value) -> Result<String, ConvertError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    match str_field(source, "type") {
        "base64" => Ok(format!(
            "data:{};base64,{}",
            str_field(source, "media_type"),
            str_field(source, "data")
        )),
        "url" => Ok(str_field(source, "url").to_owned()),
        other => Err(ConvertError::new(format!(
            "image source type `{other}` is not supported"
        ))),
    }
}

fn assistant_message(content: &Value) -> Result<Value, ConvertError> {
    let blocks = match content {
        Value::String(text) => return Ok(json!({"role": "assistant", "content": text})),
        Value::Array(blocks) => blocks,
        _ => {
            return Err(ConvertError::new(
                "message content must be a string or an array",
            ));
        }
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match str_field(block, "type") {
            "text" => text.push_str(str_field(block, "text")),
            "tool_use" => tool_calls.push(json!({
                "id": str_field(block, "id"),
                "type": "function",
                "function": {
                    "name": str_field(block, "name"),
                    "arguments": block.get("input").cloned().unwrap_or_else(|| json!({})).to_string(),
                },
            })),
            "thinking" | "redacted_thinking" => {}
            other => return Err(ConvertError::new(format!("content block type `{other}` is not supported by this model"))),
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) }});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    Ok(message)
}

fn convert_tools(request: &Value) -> Result<Vec<Value>, ConvertError> {
    let mut tools = Vec::new();
    for tool in request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // Client tools have no type or `custom`; server tools (web search, bash, ...) run at Anthropic only.
        if !matches!(
            tool.get("type").and_then(Value::as_str),
            None | Some("custom")
        ) {
            return Err(ConvertError::new(format!(
                "tool type `{}` is not supported by this model",
                str_field(tool, "type")
            )));
        }
        let mut function = json!({
            "name": str_field(tool, "name"),
            "parameters": tool.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
        if let Some(description) = tool.get("description").and_then(Value::as_str) {
            function["description"] = json!(description);
        }
        tools.push(json!({"type": "function", "function": function}));
    }
    Ok(tools)
}
