//! DashScope native text generation (`input`/`parameters` -> `output.choices[].message`) <-> OpenAI chat completions.
//!
//! Requests to DashScope always use `result_format: "message"`; streaming is
//! switched on by the `X-DashScope-SSE: enable` header (the caller sets it
//! when the OpenAI request has `stream: true`) and converted here with
//! `incremental_output: true`. DashScope's `enable_thinking` answers in
//! `reasoning_content`, which OpenAI clients get as `reasoning_content`.
//! DashScope's usage counts like OpenAI's (`input_tokens` includes cached).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::errors::UpstreamError;
use super::response_anthropic_to_openai::openai_message;
use super::{
    ConvertError, WireFormat, openai_text, stop_reason, str_field, write_done, write_event,
};
use crate::sse::SseEvent;
use crate::usage::Usage;

/// Parameters copied unchanged between OpenAI's top level and DashScope's `parameters`.
const SHARED_PARAMETERS: [&str; 8] = [
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "n",
];

/// OpenAI request -> DashScope native request. Image parts are refused
/// (they need DashScope's multimodal endpoint); `reasoning_effort` (other
/// than `minimal`/`none`) or `enable_thinking: true` turn thinking on.
pub fn openai_request_to_dashscope(request: &Value) -> Result<Value, ConvertError> {
    let source = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::new("`messages` must be an array"))?;
    let mut messages = Vec::new();
    for message in source {
        let role = str_field(message, "role");
        let role = if role == "developer" { "system" } else { role };
        let mut converted = json!({"role": role, "content": openai_text(message.get("content").unwrap_or(&Value::Null))?});
        for key in ["tool_calls", "tool_call_id", "name"] {
            if let Some(value) = message.get(key).filter(|v| !v.is_null()) {
                converted[key] = value.clone();
            }
        }
        messages.push(converted);
    }
    let mut parameters = Map::new();
    parameters.insert("result_format".into(), json!("message"));
    for key in SHARED_PARAMETERS {
        if let Some(value) = request.get(key).filter(|v| !v.is_null()) {
            parameters.insert(key.into(), value.clone());
        }
    }
    if let Some(max_tokens) = request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .filter(|v| v.is_u64())
    {
        parameters.insert("max_tokens".into(), max_tokens.clone());
    }
    match request.get("stop") {
        Some(Value::String(stop)) => {
            parameters.insert("stop".into(), json!([stop]));
        }
        Some(Value::Array(stops)) => {
            parameters.insert("stop".into(), Value::Array(stops.clone()));
        }
        _ => {}
    }
    let effort_on = request
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .is_some_and(|effort| !matches!(effort, "minimal" | "none"));
    if effort_on || request.get("enable_thinking").and_then(Value::as_bool) == Some(true) {
        parameters.insert("enable_thinking".into(), json!(true));
    }
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        parameters.insert("incremental_output".into(), json!(true));
    }
    Ok(json!({
        "model": request.get("model").cloned().unwrap_or(Value::Null),
        "input": {"messages": messages},
        "parameters": parameters,
    }))
}

/// DashScope native request -> OpenAI request. `stream` is the client's
/// `X-DashScope-SSE: enable` header; when set, the usage chunk is requested.
/// DashScope-only parameters (`enable_thinking`, `top_k`, `enable_search`, ...) are dropped.
pub fn dashscope_request_to_openai(request: &Value, stream: bool) -> Result<Value, ConvertError> {
    let input = request.get("input").unwrap_or(&Value::Null);
    let mut messages = Vec::new();
    if let Some(source) = input.get("messages").and_then(Value::as_array) {
        for message in source {
            let mut converted = json!({"role": str_field(message, "role"), "content": dashscope_content(message.get("content").unwrap_or(&Value::Null))?});
            for key in ["tool_calls", "tool_call_id", "name"] {
                if let Some(value) = message.get(key).filter(|v| !v.is_null()) {
                    converted[key] = value.clone();
                }
            }
            messages.push(converted);
        }
    } else if let Some(prompt) = input.get("prompt").and_then(Value::as_str) {
        messages.push(json!({"role": "user", "content": prompt}));
    } else {
        return Err(ConvertError::new("`input.messages` must be an array"));
    }
    let parameters = request.get("parameters").unwrap_or(&Value::Null);
    let mut out = json!({"model": request.get("model").cloned().unwrap_or(Value::Null), "messages": messages});
    for key in SHARED_PARAMETERS.iter().chain(["max_tokens"].iter()) {
        if let Some(value) = parameters.get(*key).filter(|v| !v.is_null()) {
            out[*key] = value.clone();
        }
    }
    match parameters.get("stop") {
        Some(Value::String(stop)) => out["stop"] = json!([stop]),
        Some(Value::Array(stops)) => {
            // DashScope also accepts token-id stops, which OpenAI cannot express.
            let texts: Vec<Value> = stops
                .iter()
                .filter(|stop| stop.is_string())
                .cloned()
                .collect();
            if !texts.is_empty() {
                out["stop"] = Value::Array(texts);
            }
        }
        _ => {}
    }
    if stream {
        out["stream"] = json!(true);
        out["stream_options"] = json!({"include_usage": true});
    }
    Ok(out)
}

/// DashScope content: a string, or a list of `{"text"}` / `{"image"}` items.
fn dashscope_content(content: &Value) -> Result<Value, ConvertError> {
    match content {
        Value::Null | Value::String(_) => Ok(content.clone()),
        Value::Array(items) => {
            let mut parts = Vec::new();
            for item in items {
                if let Some(text) = item.get("text").and_then(Value::as_str) {
                    parts.push(json!({"type": "text", "text": text}));
                } else if let Some(image) = item.get("image").and_then(Value::as_str) {
                    parts.push(json!({"type": "image_url", "image_url": {"url": image}}));
                } else {
                    return Err(ConvertError::new("content items must be text or image"));
                }
            }
            Ok(Value::Array(parts))
        }
        _ => Err(ConvertError::new(
            "message content must be a string or an array",
        )),
    }
}

/// A tool call in the OpenAI response shape (DashScope adds `index` and may omit `type`).
fn openai_tool_call(call: &Value) -> Value {
    json!({
        "id": str_field(call, "id"),
        "type": "function",
        "function": {
            "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
            "arguments": call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or(""),
        },
    })
}

/// DashScope native response -> OpenAI chat completion. DashScope reports
/// neither the model nor a time, so the caller passes both; its `request_id` becomes the id.
pub fn dashscope_response_to_openai(
    response: &Value,
    model: &str,
    created: u64,
) -> Result<Value, ConvertError> {
    let output = response
        .get("output")
        .filter(|o| o.is_object())
        .ok_or_else(|| ConvertError::new("upstream response has no output"))?;
    let (message, finish_reason) = match output.pointer("/choices/0") {
        Some(choice) => (
            choice.get("message").cloned().unwrap_or(Value::Null),
            choice.get("finish_reason").and_then(Value::as_str),
        ),
        // result_format "text": the legacy shape.
        None => (
            json!({"content": output.get("text")}),
            output.get("finish_reason").and_then(Value::as_str),
        ),
    };
    let tool_calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(openai_tool_call)
        .collect();
    let message = openai_message(
        str_field(&message, "content").to_owned(),
        str_field(&message, "reasoning_content").to_owned(),
        Vec::new(),
        tool_calls,
    );
    let finish_reason = stop_reason::dashscope_to_openai(finish_reason).unwrap_or("stop");
    let mut out = json!({
        "id": str_field(response, "request_id"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
    });
    if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
        out["usage"] = Usage::from_dashscope(usage).to_openai();
    }
    Ok(out)
}

/// OpenAI chat completion -> DashScope native response (choice 0).
pub fn openai_response_to_dashscope(response: &Value) -> Result<Value, ConvertError> {
    let choice = response
        .pointer("/choices/0")
        .ok_or_else(|| ConvertError::new("upstream response has no choices"))?;
    let source = choice.get("message").unwrap_or(&Value::Null);
    let mut message = json!({"role": "assistant", "content": str_field(source, "content")});
    if let Some(reasoning) = source.get("reasoning_content").and_then(Value::as_str) {
        message["reasoning_content"] = json!(reasoning);
    }
    if let Some(calls) = source.get("tool_calls").and_then(Value::as_array) {
        message["tool_calls"] = Value::Array(calls.iter().map(openai_tool_call).collect());
    }
    let finish_reason = stop_reason::openai_to_dashscope(
        choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("stop"),
    );
    Ok(json!({
        "request_id": str_field(response, "id"),
        "output": {"choices": [{"finish_reason": finish_reason, "message": message}]},
        "usage": Usage::from_response(WireFormat::OpenAi, response).to_dashscope(),
    }))
}

/// DashScope native SSE events -> OpenAI chunks. DashScope has no end
/// marker: the event whose `finish_reason` is not `"null"` ends the message
/// (finish chunk, the usage chunk if the client asked, `[DONE]`).
#[derive(Debug)]
pub struct DashScopeToOpenAiStream {
    /// Upstream events skipped because their data was not JSON.
    malformed_events: u64,
    include_usage: bool,
    model: String,
    created: u64,
    incremental: bool,
    id: String,
    started: bool,
    /// Text and reasoning so far, to cut deltas out of cumulative (non-incremental) events.
    content_so_far: String,
    reasoning_so_far: String,
    tools_seen: HashSet<u64>,
    usage: Usage,
    finished: bool,
}

impl DashScopeToOpenAiStream {
    /// `incremental`: the upstream request had `incremental_output: true`
    /// (as [`openai_request_to_dashscope`] sets); otherwise each event repeats
    /// the whole text so far and the delta is cut out (tool calls need incremental output).
    pub fn new(
        include_usage: bool,
        model: &str,
        created: u64,
        incremental: bool,
    ) -> DashScopeToOpenAiStream {
        DashScopeToOpenAiStream {
            include_usage,
            model: model.to_owned(),
            created,
            incremental,
            id: String::new(),
            started: false,
            content_so_far: String::new(),
            reasoning_so_far: String::new(),
            tools_seen: HashSet::new(),
            usage: Usage::default(),
            finished: false,
            malformed_events: 0,
        }
    }

    /// Upstream events skipped because their data was not JSON.
    pub fn malformed_events(&self) -> u64 {
        self.malformed_events
    }

    /// The usage reported so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    fn chunk(&self, choices: Value, out: &mut Vec<u8>) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        });
        write_event(out, None, &chunk);
    }

    fn delta(&self, delta: Value, finish_reason: Option<&str>, out: &mut Vec<u8>) {
        self.chunk(
            json!([{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": null}]),
            out,
        );
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
        let has_error_code = data
            .get("code")
            .and_then(Value::as_str)
            .is_some_and(|code| !code.is_empty());
        if event.event.as_deref() == Some("error")
            || (has_error_code && data.get("output").is_none())
        {
            let error = UpstreamError::parse(WireFormat::DashScope, 500, &data);
            write_event(out, None, &error.to_client_body(WireFormat::OpenAi));
            self.finished = true;
            return;
        }
        let Some(output) = data.get("output").filter(|o| o.is_object()) else {
            return;
        };
        if self.id.is_empty() {
            self.id = str_field(&data, "request_id").to_owned();
        }
        if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
            self.usage.merge_max(&Usage::from_dashscope(usage));
        }
        if !self.started {
            self.started = true;
            self.delta(json!({"role": "assistant", "content": ""}), None, out);
        }
        let (message, finish_reason) = match output.pointer("/choices/0") {
            Some(choice) => (
                choice.get("message").cloned().unwrap_or(Value::Null),
                choice.get("finish_reason").and_then(Value::as_str),
            ),
            None => (
                json!({"content": output.get("text")}),
                output.get("finish_reason").and_then(Value::as_str),
            ),
        };
        let mut delta = Map::new();
        let reasoning = self.cut(str_field(&message, "reasoning_content"), true);
        if !reasoning.is_empty() {
            delta.insert("reasoning_content".into(), json!(reasoning));
        }
        let content = self.cut(str_field(&message, "content"), false);
        if !content.is_empty() {
            delta.insert("content".into(), json!(content));
        }
        let calls = self.tool_fragments(&message);
        if !calls.is_empty() {
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        if !delta.is_empty() {
            self.delta(Value::Object(delta), None, out);
        }
        if let Some(reason) = stop_reason::dashscope_to_openai(finish_reason) {
            self.delta(json!({}), Some(reason), out);
            self.end(out);
        }
    }

    /// The new text of an event: as is when incremental, else what follows the text so far.
    fn cut(&mut self, text: &str, reasoning: bool) -> String {
        let so_far = if reasoning {
            &mut self.reasoning_so_far
        } else {
            &mut self.content_so_far
        };
        if self.incremental {
            return text.to_owned();
        }
        let new = text
            .strip_prefix(so_far.as_str())
            .unwrap_or(text)
            .to_owned();
        *so_far = text.to_owned();
        new
    }

    fn tool_fragments(&mut self, message: &Value) -> Vec<Value> {
        let mut calls = Vec::new();
        for (position, call) in message
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
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("");
            if self.tools_seen.insert(index) {
                calls.push(json!({
                    "index": index,
                    "id": str_field(call, "id"),
                    "type": "function",
                    "function": {"name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""), "arguments": arguments},
                }));
            } else if !arguments.is_empty() {
                calls.push(json!({"index": index, "function": {"arguments": arguments}}));
            }
        }
        calls
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

    /// The upstream stream ended. DashScope's last event carries the finish
    /// reason, so a stream without one was cut: nothing is added, and the
    /// client sees no `[DONE]`.
    pub fn finish(&mut self, _out: &mut Vec<u8>) {
        self.finished = true;
    }
}
