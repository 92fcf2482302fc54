//! OpenAI chat completions request -> Anthropic messages request (an OpenAI client in front of an Anthropic upstream).
//!
//! Anthropic is stricter than OpenAI: one top-level `system`, strictly
//! alternating roles, tool results inside a user turn, no empty text blocks,
//! a required `max_tokens`. Fields with no Anthropic meaning (`stream_options`,
//! `n: 1`, `seed`, penalties, `logprobs`, `response_format`, `store`, ...) are
//! dropped; `n > 1` and non-function tools are refused. With thinking on,
//! `temperature`/`top_p` are dropped (Anthropic rejects them together), and
//! otherwise `temperature` is clamped to Anthropic's 0..=1.

use serde_json::{Map, Value, json};

use super::{ConvertError, openai_text, str_field};

/// Thinking budgets for OpenAI's `reasoning_effort` levels.
const EFFORT_BUDGETS: [(&str, u64); 3] = [("low", 1024), ("medium", 4096), ("high", 16384)];
/// Anthropic's smallest accepted thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;

/// Converts the request. `default_max_tokens` is used when the client set
/// neither `max_completion_tokens` nor `max_tokens` (Anthropic requires one).
pub fn openai_request_to_anthropic(
    request: &Value,
    default_max_tokens: u64,
) -> Result<Value, ConvertError> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::new("`messages` must be an array"))?;
    if request
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 1)
    {
        return Err(ConvertError::new(
            "`n` greater than 1 is not supported by this model",
        ));
    }
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let role = str_field(message, "role");
        let (turn_role, blocks) = match role {
            "system" | "developer" => {
                system.extend(text_blocks(message.get("content").unwrap_or(&Value::Null))?);
                continue;
            }
            "user" => (
                "user",
                user_blocks(message.get("content").unwrap_or(&Value::Null))?,
            ),
            "assistant" => ("assistant", assistant_blocks(message)?),
            "tool" => ("user", vec![tool_result_block(message)?]),
            other => {
                return Err(ConvertError::new(format!(
                    "message role `{other}` is not supported"
                )));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == turn_role => last_blocks.extend(blocks),
            _ => turns.push((turn_role, blocks)),
        }
    }

    let mut out = Map::new();
    out.insert(
        "model".into(),
        request.get("model").cloned().unwrap_or(Value::Null),
    );
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, mut content)| {
            // Anthropic wants a user turn's tool results before its other blocks.
            content.sort_by_key(|block| block["type"] != "tool_result");
            json!({"role": role, "content": content})
        })
        .collect();
    out.insert("messages".into(), Value::Array(messages));
    let max_tokens = request
        .get("max_completion_tokens")
        .and_then(Value::as_u64)
        .or_else(|| request.get("max_tokens").and_then(Value::as_u64))
        .unwrap_or(default_max_tokens);
    out.insert("max_tokens".into(), json!(max_tokens));

    let thinking = thinking_config(request, max_tokens);
    if let Some(thinking) = thinking {
        out.insert("thinking".into(), thinking);
    } else {
        if let Some(temperature) = request.get("temperature").and_then(Value::as_f64) {
            out.insert("temperature".into(), json!(temperature.clamp(0.0, 1.0)));
        }
        if let Some(top_p) = request.get("top_p").filter(|v| v.is_number()) {
            out.insert("top_p".into(), top_p.clone());
        }
    }
    match request.get("stop") {
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) if !stops.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        _ => {}
    }
    if let Some(stream) = request.get("stream").filter(|v| v.is_boolean()) {
        out.insert("stream".into(), stream.clone());
    }
    if let Some(user) = request.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    let tools = convert_tools(request)?;
    let has_tools = !tools.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice(request, has_tools)? {
        out.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(out))
}

/// System text parts as Anthropic text blocks (a part's `cache_control` kept).
fn text_blocks(content: &Value) -> Result<Vec<Value>, ConvertError> {
    match content {
        Value::Array(parts) => {
            let mut blocks = Vec::new();
            for part in parts {
                let text = openai_text(&Value::Array(vec![part.clone()]))?;
                if !text.is_empty() {
                    blocks.push(with_cache_control(
                        json!({"type": "text", "text": text}),
                        part,
                    ));
                }
            }
            Ok(blocks)
        }
        other => {
            let text = openai_text(other)?;
            Ok(if text.is_empty() {
                vec![]
            } else {
                vec![json!({"type": "text", "text": text})]
            })
        }
    }
}

fn with_cache_control(mut block: Value, part: &Value) -> Value {
    if let Some(cache_control) = part.get("cache_control") {
        block["cache_control"] = cache_control.clone();
    }
    block
}

fn user_blocks(content: &Value) -> Result<Vec<Value>, ConvertError> {
    let Value::Array(parts) = content else {
        return text_blocks(content);
    };
    let mut blocks = Vec::new();
    for part in parts {
        match str_field(part, "type") {
            "text" => blocks.extend(text_blocks(&Value::Array(vec![part.clone()]))?),
            "image_url" => {
                let url = part
                    .pointer("/image_url/url")
                    .or_else(|| part.get("image_url"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| ConvertError::new("image_url part without a url"))?;
                blocks.push(with_cache_control(image_block(url)?, part));
            }
            other => {
                return Err(ConvertError::new(format!(
                    "content part type `{other}` is not supported by this model"
                )));
            }
        }
    }
    Ok(blocks)
}

/// `data:<media type>;base64,<data>` -> a base64 source; http(s) -> a url source.
fn image_block(url: &str) -> Result<Value, ConvertError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest
            .split_once(";base64,")
            .ok_or_else(|| ConvertError::new("image data URLs must be base64"))?;
        return Ok(
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        );
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(ConvertError::new(
        "image urls must be http(s) or base64 data URLs",
    ))
}

/// Thinking (only when signed: Anthropic rejects unsigned thinking), text, then tool calls.
fn assistant_blocks(message: &Value) -> Result<Vec<Value>, ConvertError> {
    let mut blocks = Vec::new();
    if let Some(thinking_blocks) = message.get("thinking_blocks").and_then(Value::as_array) {
        for block in thinking_blocks {
            match str_field(block, "type") {
                "thinking" if block.get("signature").and_then(Value::as_str).is_some() => {
                    blocks.push(json!({"type": "thinking", "thinking": str_field(block, "thinking"), "signature": block["signature"]}));
                }
                "redacted_thinking" => blocks.push(json!({"type": "redacted_thinking", "data": block.get("data").cloned().unwrap_or(json!(""))})),
                _ => {}
            }
        }
    }
    let text = openai_text(message.get("content").unwrap_or(&Value::Null))?;
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let input = if arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str::<Value>(arguments)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| ConvertError::new("tool call arguments must be a JSON object"))?
        };
        blocks.push(json!({
            "type": "tool_use",
            "id": str_field(call, "id"),
            "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
            "input": input,
        }));
    }
    Ok(blocks)
}

fn tool_result_block(message: &Value) -> Result<Value, ConvertError> {
    let id = message
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ConvertError::new("tool message without tool_call_id"))?;
    let text = openai_text(message.get("content").unwrap_or(&Value::Null))?;
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": text}))
}

/// `tools` (or legacy `functions`) -> Anthropic tools with `input_schema`.
fn convert_tools(request: &Value) -> Result<Vec<Value>, ConvertError> {
    let mut tools = Vec::new();
    for tool in request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if str_field(tool, "type") != "function" {
            return Err(ConvertError::new(
                "only function tools are supported by this model",
            ));
        }
        tools.push(function_to_tool(
            tool.get("function").unwrap_or(&Value::Null),
        )?);
    }
    for function in request
        .get("functions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        tools.push(function_to_tool(function)?);
    }
    Ok(tools)
}

fn function_to_tool(function: &Value) -> Result<Value, ConvertError> {
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ConvertError::new("function tool without a name"))?;
    let mut tool = json!({
        "name": name,
        "input_schema": function.get("parameters").filter(|p| p.is_object()).cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    });
    if let Some(description) = function.get("description").and_then(Value::as_str) {
        tool["description"] = json!(description);
    }
    Ok(tool)
}

/// auto/none/required/named -> auto/none/any/tool; `parallel_tool_calls: false` -> `disable_parallel_tool_use`.
fn tool_choice(request: &Value, has_tools: bool) -> Result<Option<Value>, ConvertError> {
    let mut choice = match request.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(mode)) => Some(match mode.as_str() {
            "auto" => json!({"type": "auto"}),
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            other => {
                return Err(ConvertError::new(format!(
                    "tool_choice `{other}` is not supported"
                )));
            }
        }),
        Some(named) => {
            let name = named
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| ConvertError::new("named tool_choice without function.name"))?;
            Some(json!({"type": "tool", "name": name}))
        }
    };
    if has_tools && request.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false) {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
    }
    if !has_tools {
        return Ok(None);
    }
    Ok(choice)
}

/// `reasoning_effort` (low/medium/high) or an Anthropic-style `thinking`
/// object -> `thinking`, with a budget below `max_tokens` and at least 1024.
fn thinking_config(request: &Value, max_tokens: u64) -> Option<Value> {
    let requested = if let Some(thinking) = request.get("thinking").filter(|t| t.is_object()) {
        if str_field(thinking, "type") != "enabled" {
            return None;
        }
        thinking
            .get("budget_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(MIN_THINKING_BUDGET)
    } else {
        let effort = request.get("reasoning_effort").and_then(Value::as_str)?;
        EFFORT_BUDGETS.iter().find(|(name, _)| *name == effort)?.1
    };
    let budget = requested.min(max_tokens.saturating_sub(1));
    (budget >= MIN_THINKING_BUDGET).then(|| json!({"type": "enabled", "budget_tokens": budget}))
}
