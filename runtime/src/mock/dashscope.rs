//! DashScope native text generation answers (`POST .../api/v1/services/aigc/text-generation/generation`): JSON and SSE.
//!
//! Deterministic like the other protocols (same answer words, same token
//! model, ids from the request hash), in DashScope's shapes:
//! - `parameters.result_format`: `"message"` answers in
//!   `output.choices[0].message`, anything else (DashScope's default,
//!   `"text"`) in `output.text`;
//! - SSE when the request has `X-DashScope-SSE: enable` (as DashScope
//!   requires); each event is `id:`/`event:result`/`:HTTP_STATUS/200`/`data:`
//!   with the usage so far, `finish_reason` is the string `"null"` until the
//!   last event. With `parameters.incremental_output: true` each event holds
//!   only its new text, otherwise the whole text so far (DashScope's default);
//! - `usage {input_tokens, output_tokens, total_tokens}`; errors are
//!   `{"code","message","request_id"}`.
//!
//! `x-mock-*` overrides, latency and every fault work as for the other protocols.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::extras::{
    THINKING_TEXT, interleaved_fragments, thinking_pieces, tool_arguments, tool_id, tool_name,
};
use super::render::{self, Answer, push, push_answer_string, push_hex, push_number, push_string};
use super::stream::{self, Event, EventWriter, FaultEvents, ScriptedBody};
use super::usage::{TOKENS_PER_MESSAGE, TOKENS_REPLY_PRIMING, Usage, chunk_ranges, text_tokens};
use super::{echo, member_boundary, mid_body_fault, overrides, with_type};
use crate::body::{self, ResponseBody};
use crate::codegen::{MockFault, MockSettings};

/// The path (suffix) of DashScope's native text generation API.
pub const GENERATION_PATH: &str = "/api/v1/services/aigc/text-generation/generation";

/// The broken event `malformed-after-chunks` inserts.
pub const MALFORMED_EVENT: &[u8] = b"id:0\nevent:result\ndata:{not json\n\n";
/// The mid-stream error event `error-after-chunks` sends, as DashScope does.
pub const ERROR_EVENT: &[u8] = b"id:0\nevent:error\n:HTTP_STATUS/500\ndata:{\"code\":\"InternalError\",\"message\":\"mock fault: upstream error event\",\"request_id\":\"mock-error\"}\n\n";
/// What body faults insert into a DashScope stream.
pub const FAULT_EVENTS: FaultEvents = FaultEvents {
    malformed: MALFORMED_EVENT,
    error: ERROR_EVENT,
};

/// Whether `path` names the native text generation API (behind any prefix).
pub fn is_generation_path(path: &str) -> bool {
    path.ends_with(GENERATION_PATH)
}

/// The fields of a DashScope request the answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRequest {
    pub model: String,
    pub prompt_tokens: u32,
    pub max_tokens: Option<u64>,
    /// `parameters.result_format == "message"`.
    pub message_format: bool,
    /// `parameters.incremental_output == true`.
    pub incremental: bool,
}

/// Reads a DashScope request body; the error is a message for a 400 body.
pub fn parse(body: &[u8]) -> Result<GenerationRequest, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .ok_or("Model not specified")?
        .to_owned();
    let input = request.get("input").ok_or("input must not be empty")?;
    let prompt_tokens = if let Some(messages) = input.get("messages").and_then(Value::as_array) {
        messages
            .iter()
            .fold(TOKENS_REPLY_PRIMING, |total, message| {
                total
                    .saturating_add(TOKENS_PER_MESSAGE)
                    .saturating_add(content_tokens(message.get("content")))
            })
    } else if let Some(prompt) = input.get("prompt").and_then(Value::as_str) {
        text_tokens(prompt.chars().count())
    } else {
        return Err("input.messages or input.prompt is required".to_owned());
    };
    let parameters = request.get("parameters").unwrap_or(&Value::Null);
    Ok(GenerationRequest {
        model,
        prompt_tokens,
        max_tokens: parameters.get("max_tokens").and_then(Value::as_u64),
        message_format: parameters.get("result_format").and_then(Value::as_str) == Some("message"),
        incremental: parameters
            .get("incremental_output")
            .and_then(Value::as_bool)
            == Some(true),
    })
}

/// Tokens of a message content: a string, or `[{"text"}|{"image"}...]` (images cost nothing).
fn content_tokens(content: Option<&Value>) -> u32 {
    match content {
        Some(Value::String(text)) => text_tokens(text.chars().count()),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.get("text").and_then(Value::as_str))
            .fold(0u32, |total, text| {
                total.saturating_add(text_tokens(text.chars().count()))
            }),
        _ => 0,
    }
}

/// Answers one native text generation request.
pub async fn answer(settings: &MockSettings, request: &Request<Bytes>) -> Response<ResponseBody> {
    if request.method() != Method::POST {
        let message = format!(
            "Method {} is not allowed on {}; use POST",
            request.method(),
            request.uri().path()
        );
        let mut response = error(StatusCode::METHOD_NOT_ALLOWED, &message);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let effective = match overrides::apply(settings, request.headers()) {
        Ok(effective) => effective,
        Err(message) => return error(StatusCode::BAD_REQUEST, &format!("mock: {message}")),
    };
    if let Err(message) = effective.extras.check(None) {
        return error(StatusCode::BAD_REQUEST, &format!("mock: {message}"));
    }
    let settings = effective.settings;
    let stall_ms = match settings.fault {
        Some(MockFault::StallBeforeHead { ms }) => ms,
        _ => 0,
    };
    let before_head = settings.latency_ms.saturating_add(stall_ms);
    if before_head > 0 {
        tokio::time::sleep(Duration::from_millis(before_head)).await;
    }
    let mut response = match settings.fault {
        Some(MockFault::Status(code)) => fault_status(code),
        Some(MockFault::ContextLength) => error(
            StatusCode::BAD_REQUEST,
            "Range of input length should be [1, 129024]; the prompt is too long",
        ),
        _ => match parse(request.body()) {
            Ok(parsed) => {
                let answer = Answer {
                    hash: render::request_hash(request.body()),
                    model: &parsed.model,
                    usage: Usage::new(
                        parsed.prompt_tokens,
                        settings.completion_tokens,
                        parsed.max_tokens,
                    ),
                    chunks: settings.stream_chunks.max(1),
                    include_usage: false,
                    extras: effective.extras,
                };
                let shape = Shape {
                    message_format: parsed.message_format,
                    incremental: parsed.incremental,
                };
                if wants_sse(request) {
                    streamed(&answer, shape, &settings)
                } else {
                    whole(&answer, shape, settings.fault)
                }
            }
            Err(message) => error(StatusCode::BAD_REQUEST, &message),
        },
    };
    if effective.echo_headers {
        echo::add_report(request.headers(), response.headers_mut());
    }
    response
}

/// `X-DashScope-SSE: enable` (case-insensitive value).
fn wants_sse(request: &Request<Bytes>) -> bool {
    request
        .headers()
        .get("x-dashscope-sse")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"enable"))
}

/// The answer shape the request chose.
#[derive(Debug, Clone, Copy)]
struct Shape {
    message_format: bool,
    incremental: bool,
}

fn finish_reason(answer: &Answer<'_>) -> &'static str {
    if let Some(stop) = answer.extras.stop {
        stop
    } else if answer.extras.tool_calls > 0 {
        "tool_calls"
    } else if answer.usage.truncated {
        "length"
    } else {
        "stop"
    }
}

/// What one DashScope message (or message delta) holds besides its text.
#[derive(Default)]
struct MessageExtras<'a> {
    reasoning: Option<&'a str>,
    tool_calls: Option<Value>,
}

/// `"output":{...}` holding answer words `range`, the extras (message format
/// only: the legacy text format has no place for them) and `finish_reason`
/// (a JSON string literal's content).
fn push_output(
    out: &mut Vec<u8>,
    shape: Shape,
    range: std::ops::Range<usize>,
    extras: &MessageExtras<'_>,
    finish: &str,
) {
    if shape.message_format {
        push(
            out,
            "\"output\":{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":",
        );
        push_answer_string(out, range);
        if let Some(reasoning) = extras.reasoning {
            push(out, ",\"reasoning_content\":");
            push_string(out, reasoning);
        }
        if let Some(calls) = &extras.tool_calls {
            push(out, ",\"tool_calls\":");
            push(out, &calls.to_string());
        }
        push(out, "},\"finish_reason\":\"");
        push(out, finish);
        push(out, "\"}]}");
    } else {
        push(out, "\"output\":{\"text\":");
        push_answer_string(out, range);
        push(out, ",\"finish_reason\":\"");
        push(out, finish);
        push(out, "\"}");
    }
}

/// `,"usage":{...},"request_id":"..."}` (closes the object). DashScope's
/// `input_tokens` include cached tokens, detailed in `prompt_tokens_details`.
fn push_tail(out: &mut Vec<u8>, answer: &Answer<'_>, output_tokens: u32) {
    let input = u64::from(answer.prompt_with_cache());
    let output = u64::from(output_tokens);
    push(out, ",\"usage\":{\"input_tokens\":");
    push_number(out, input);
    push(out, ",\"output_tokens\":");
    push_number(out, output);
    push(out, ",\"total_tokens\":");
    push_number(out, input.saturating_add(output));
    if answer.extras.cache_tokens() > 0 {
        push(out, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        push_number(out, u64::from(answer.extras.cache_read));
        push(out, ",\"cache_creation_input_tokens\":");
        push_number(out, u64::from(answer.extras.cache_creation));
        push(out, "}");
    }
    if answer.extras.thinking {
        push(out, ",\"output_tokens_details\":{\"reasoning_tokens\":");
        push_number(out, u64::from(answer.extras.reasoning_tokens()));
        push(out, "}");
    }
    push(out, "},\"request_id\":\"mock-");
    push_hex(out, answer.hash);
    push(out, "\"}");
}

/// The whole `tool_calls` array of an answer.
fn all_tool_calls(tool_calls: u32) -> Value {
    (0..tool_calls)
        .map(|tool| {
            json!({"index": tool, "id": tool_id(None, tool), "type": "function",
                   "function": {"name": tool_name(tool), "arguments": tool_arguments(tool)}})
        })
        .collect()
}

/// The non-streamed answer body.
pub fn json_body(answer: &Answer<'_>, message_format: bool) -> Vec<u8> {
    let words = answer.usage.completion_tokens as usize;
    let mut out = Vec::with_capacity(300 + words * 10);
    let shape = Shape {
        message_format,
        incremental: false,
    };
    let extras = MessageExtras {
        reasoning: answer.extras.thinking.then_some(THINKING_TEXT),
        tool_calls: (answer.extras.tool_calls > 0)
            .then(|| all_tool_calls(answer.extras.tool_calls)),
    };
    push(&mut out, "{");
    push_output(&mut out, shape, 0..words, &extras, finish_reason(answer));
    push_tail(&mut out, answer, answer.output_tokens());
    out
}

/// The streamed answer: `result` events with the usage so far and
/// `finish_reason` `"null"` (thinking pieces, content chunks, then, with
/// incremental output, tool-call fragments interleaved across calls), then
/// a last event with the finish reason and the final usage (and, without
/// incremental output, the whole tool calls). DashScope has no end marker.
pub fn stream_events(answer: &Answer<'_>, message_format: bool, incremental: bool) -> Vec<Event> {
    let shape = Shape {
        message_format,
        incremental,
    };
    let words = answer.usage.completion_tokens as usize;
    let chunks = answer.chunks.max(1) as usize;
    let per_event = 300;
    let text_bytes = if incremental {
        words * 10
    } else {
        words * 10 * chunks
    };
    let mut writer = EventWriter::with_capacity(per_event * (chunks + 1) + text_bytes, chunks + 1);
    let mut id = 0u64;
    let mut open = |out: &mut Vec<u8>| {
        id += 1;
        push(out, "id:");
        push_number(out, id);
        push(out, "\nevent:result\n:HTTP_STATUS/200\ndata:{");
    };
    let thinking = message_format && answer.extras.thinking;
    let reasoning_total = answer.extras.reasoning_tokens();
    let mut reasoning_so_far = String::new();
    if thinking {
        for piece in thinking_pieces() {
            reasoning_so_far.push_str(piece);
            let reasoning = if incremental {
                piece
            } else {
                reasoning_so_far.as_str()
            };
            let extras = MessageExtras {
                reasoning: Some(reasoning),
                tool_calls: None,
            };
            let out = writer.buffer();
            open(out);
            push_output(out, shape, 0..0, &extras, "null");
            let so_far = reasoning_so_far
                .split(' ')
                .filter(|w| !w.is_empty())
                .count();
            push_tail(out, answer, u32::try_from(so_far).unwrap_or(u32::MAX));
            push(out, "\n\n");
            writer.end_event(true);
        }
    }
    // Without incremental output every event repeats everything so far.
    let repeated_reasoning = (thinking && !incremental).then_some(THINKING_TEXT);
    let text_chunks = if answer.has_text() { answer.chunks } else { 0 };
    for range in
        chunk_ranges(answer.usage.completion_tokens, answer.chunks).take(text_chunks as usize)
    {
        let end = range.end;
        let text = if incremental { range } else { 0..end };
        let extras = MessageExtras {
            reasoning: repeated_reasoning,
            tool_calls: None,
        };
        let out = writer.buffer();
        open(out);
        push_output(out, shape, text, &extras, "null");
        let so_far = reasoning_total.saturating_add(u32::try_from(end).unwrap_or(u32::MAX));
        push_tail(out, answer, so_far);
        push(out, "\n\n");
        writer.end_event(true);
    }
    let tools = if message_format {
        answer.extras.tool_calls
    } else {
        0
    };
    let after_text = reasoning_total.saturating_add(answer.usage.completion_tokens);
    if incremental {
        for (tool, position, fragment) in interleaved_fragments(tools) {
            let call = if position == 0 {
                json!({"index": tool, "id": tool_id(None, tool), "type": "function",
                       "function": {"name": tool_name(tool), "arguments": fragment}})
            } else {
                json!({"index": tool, "id": "", "type": "function", "function": {"arguments": fragment}})
            };
            let extras = MessageExtras {
                reasoning: None,
                tool_calls: Some(json!([call])),
            };
            let out = writer.buffer();
            open(out);
            push_output(out, shape, words..words, &extras, "null");
            push_tail(out, answer, after_text);
            push(out, "\n\n");
            writer.end_event(true);
        }
    }
    let out = writer.buffer();
    open(out);
    let last = if incremental { words..words } else { 0..words };
    let extras = MessageExtras {
        reasoning: repeated_reasoning,
        tool_calls: (!incremental && tools > 0).then(|| all_tool_calls(tools)),
    };
    push_output(out, shape, last, &extras, finish_reason(answer));
    push_tail(out, answer, answer.output_tokens());
    push(out, "\n\n");
    writer.end_event(false);
    writer.finish()
}

fn streamed(answer: &Answer<'_>, shape: Shape, settings: &MockSettings) -> Response<ResponseBody> {
    let events = stream_events(answer, shape.message_format, shape.incremental);
    let steps = stream::script(
        events,
        settings.chunk_delay_ms,
        settings.fault,
        &FAULT_EVENTS,
    );
    let mut response = with_type(
        StatusCode::OK,
        ResponseBody::new(ScriptedBody::new(steps)),
        "text/event-stream",
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A non-streamed answer; a body fault acts in the middle of the JSON, as for the other protocols.
fn whole(answer: &Answer<'_>, shape: Shape, fault: Option<MockFault>) -> Response<ResponseBody> {
    let json = json_body(answer, shape.message_format);
    let body = match fault.and_then(mid_body_fault) {
        None => body::full(json),
        Some(fault) => {
            let middle = member_boundary(&json);
            let json = Bytes::from(json);
            let halves = vec![
                Event {
                    bytes: json.slice(..middle),
                    content: true,
                },
                Event {
                    bytes: json.slice(middle..),
                    content: false,
                },
            ];
            ResponseBody::new(ScriptedBody::new(stream::script(
                halves,
                0,
                Some(fault),
                &FaultEvents {
                    malformed: b"{not json",
                    error: b"",
                },
            )))
        }
    };
    with_type(StatusCode::OK, body, "application/json")
}

fn fault_status(code: u16) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match code {
        429 => "mock fault: rate limit reached (status 429)".to_owned(),
        _ => format!("mock fault: injected status {code}"),
    };
    let mut response = error(status, &message);
    if code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// DashScope's error code for a status.
fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "InvalidParameter",
        401 => "InvalidApiKey",
        403 => "AccessDenied",
        404 => "ModelNotFound",
        405 => "MethodNotAllowed",
        429 => "Throttling.RateQuota",
        504 => "RequestTimeOut",
        _ => "InternalError",
    }
}

/// The body of an error: `{"code","message","request_id"}`.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + message.len());
    push(&mut out, "{\"code\":\"");
    push(&mut out, error_code(status));
    push(&mut out, "\",\"message\":");
    push_string(&mut out, message);
    push(&mut out, ",\"request_id\":\"mock-error\"}");
    out
}

fn error(status: StatusCode, message: &str) -> Response<ResponseBody> {
    with_type(
        status,
        body::full(error_body(status, message)),
        "application/json",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::dashscope::{DashScopeToOpenAiStream, dashscope_response_to_openai};
    use crate::sse::{SseEvent, SseFramer};

    fn answer(completion_tokens: u32, chunks: u32, max_tokens: Option<u64>) -> Answer<'static> {
        Answer {
            hash: 0xabc,
            model: "qwen-plus",
            usage: Usage::new(9, completion_tokens, max_tokens),
            chunks,
            include_usage: false,
            extras: crate::mock::extras::Extras::default(),
        }
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    }

    fn events(answer: &Answer<'_>, message_format: bool, incremental: bool) -> Vec<SseEvent> {
        let mut framer = SseFramer::new();
        let mut out = Vec::new();
        for event in stream_events(answer, message_format, incremental) {
            framer.feed(&event.bytes, &mut out);
        }
        out
    }

    #[test]
    fn request_fields_and_prompt_tokens_follow_the_shared_token_model() {
        let body = br#"{"model":"qwen-plus","input":{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"image":"http://x/y.png"},{"text":"Hello there"}]}]},"parameters":{"result_format":"message","incremental_output":true,"max_tokens":5}}"#;
        // 3 priming + (3 + 3) + (3 + 3) = 15, as for the same OpenAI request.
        assert_eq!(
            parse(body),
            Ok(GenerationRequest {
                model: "qwen-plus".to_owned(),
                prompt_tokens: 15,
                max_tokens: Some(5),
                message_format: true,
                incremental: true,
            })
        );
        let prompt = parse(br#"{"model":"m","input":{"prompt":"12345678"}}"#);
        assert_eq!(
            prompt.map(|r| (r.prompt_tokens, r.message_format)),
            Ok((2, false))
        );
        assert!(parse(br#"{"model":"m"}"#).is_err_and(|e| e.contains("input")));
        assert!(parse(br#"{"input":{"prompt":"x"}}"#).is_err_and(|e| e.contains("Model")));
        assert!(parse(b"{not json").is_err());
    }

    #[test]
    fn json_answers_have_dashscope_usage_in_both_result_formats() {
        let answer = answer(4, 2, None);
        let message = json(&json_body(&answer, true));
        assert_eq!(
            message["output"]["choices"][0]["message"]["content"],
            "This is a deterministic"
        );
        assert_eq!(message["output"]["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            message["usage"],
            serde_json::json!({"input_tokens": 9, "output_tokens": 4, "total_tokens": 13})
        );
        assert_eq!(message["request_id"], "mock-0000000000000abc");
        let text = json(&json_body(&answer, false));
        assert_eq!(text["output"]["text"], "This is a deterministic");
        let cut = json(&json_body(&self::answer(16, 1, Some(2)), false));
        assert_eq!(
            (
                cut["output"]["finish_reason"].as_str(),
                cut["usage"]["output_tokens"].as_u64()
            ),
            (Some("length"), Some(2))
        );
    }

    #[test]
    fn streams_convert_to_the_same_answer_as_the_json_body() {
        let answer = answer(7, 3, None);
        let expected =
            dashscope_response_to_openai(&json(&json_body(&answer, true)), "qwen-plus", 0)
                .unwrap_or(Value::Null);
        for (message_format, incremental) in
            [(true, true), (true, false), (false, true), (false, false)]
        {
            let events = events(&answer, message_format, incremental);
            assert_eq!(events.len(), 4, "3 content events and the finish event");
            let mut converter = DashScopeToOpenAiStream::new(true, "qwen-plus", 0, incremental);
            let mut out = Vec::new();
            for event in &events {
                converter.push(event, &mut out);
            }
            let text = String::from_utf8_lossy(&out);
            let mut content = String::new();
            for line in text.lines().filter_map(|line| line.strip_prefix("data: ")) {
                let chunk: Value = serde_json::from_str(line).unwrap_or(Value::Null);
                if let Some(delta) = chunk
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                {
                    content.push_str(delta);
                }
            }
            assert_eq!(
                content.as_str(),
                expected["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or("?")
            );
            assert!(
                text.ends_with("data: [DONE]\n\n"),
                "{message_format} {incremental}"
            );
            let usage = converter.usage();
            assert_eq!((usage.input, usage.output, usage.total), (9, 7, 16));
        }
    }

    #[test]
    fn stream_events_report_null_until_the_last_and_cumulative_usage() {
        let events = events(&answer(4, 2, None), true, true);
        let data: Vec<Value> = events
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap_or(Value::Null))
            .collect();
        let reasons: Vec<&str> = data
            .iter()
            .filter_map(|d| {
                d.pointer("/output/choices/0/finish_reason")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(reasons, ["null", "null", "stop"]);
        let outputs: Vec<u64> = data
            .iter()
            .filter_map(|d| d.pointer("/usage/output_tokens").and_then(Value::as_u64))
            .collect();
        assert_eq!(outputs, [2, 4, 4]);
        assert_eq!(
            events
                .iter()
                .map(|e| e.event.as_deref())
                .collect::<Vec<_>>(),
            [Some("result"); 3]
        );
    }

    #[test]
    fn errors_use_dashscope_codes() {
        let body = json(&error_body(StatusCode::TOO_MANY_REQUESTS, "slow \"down\""));
        assert_eq!(body["code"], "Throttling.RateQuota");
        assert_eq!(body["message"], "slow \"down\"");
        assert_eq!(
            json(&error_body(StatusCode::BAD_GATEWAY, "x"))["code"],
            "InternalError"
        );
        assert!(is_generation_path(
            "/proxy/api/v1/services/aigc/text-generation/generation"
        ));
        assert!(!is_generation_path(
            "/api/v1/services/aigc/text2image/image-synthesis"
        ));
    }

    async fn respond(
        headers: &[(&'static str, &'static str)],
        body: &'static str,
    ) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        use http_body_util::BodyExt;
        let settings = MockSettings {
            latency_ms: 0,
            stream_chunks: 2,
            chunk_delay_ms: 0,
            completion_tokens: 4,
            fault: None,
        };
        let mut builder = Request::builder().method(Method::POST).uri(GENERATION_PATH);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap_or_default();
        let response = crate::mock::respond(&settings, request).await;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        (parts.status, parts.headers, bytes)
    }

    const REQUEST: &str = r#"{"model":"qwen-plus","input":{"messages":[{"role":"user","content":"Hi"}]},"parameters":{"result_format":"message","incremental_output":true}}"#;

    #[tokio::test]
    async fn the_mock_dispatches_the_generation_path_to_json_and_sse() {
        let (status, headers, body) = respond(&[], REQUEST).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.contains_key(super::super::REQUEST_COUNT));
        assert_eq!(
            json(&body)["output"]["choices"][0]["message"]["content"],
            "This is a deterministic"
        );

        let (status, headers, body) = respond(&[("x-dashscope-sse", "enable")], REQUEST).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"text/event-stream"[..])
        );
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches("event:result").count(), 3);
        assert!(text.contains("\"finish_reason\":\"stop\""));
    }

    #[tokio::test]
    async fn overrides_and_faults_answer_in_dashscope_errors() {
        let (status, headers, body) = respond(&[("x-mock-fault", "status:429")], REQUEST).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(headers.contains_key(header::RETRY_AFTER));
        assert_eq!(json(&body)["code"], "Throttling.RateQuota");

        let (status, _, body) = respond(&[("x-mock-bogus", "1")], REQUEST).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json(&body)["code"], "InvalidParameter");

        let (status, _, body) = respond(
            &[
                ("x-mock-fault", "error-after-chunks:1"),
                ("x-dashscope-sse", "enable"),
            ],
            REQUEST,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches("event:result").count(), 1);
        assert!(text.contains("event:error"));
    }
}
