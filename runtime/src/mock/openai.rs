//! OpenAI-format answers: chat completions and legacy completions, JSON and SSE, plus error bodies.

use http::StatusCode;
use serde_json::json;

use super::extras::{
    THINKING_TEXT, interleaved_fragments, thinking_pieces, tool_arguments, tool_id, tool_name,
};
use super::render::{
    Answer, CREATED, push, push_answer_string, push_hex, push_number, push_string,
};
use super::request::Api;
use super::stream::{Event, EventWriter, FaultEvents};
use super::usage::chunk_ranges;

/// The broken event `malformed-after-chunks` inserts.
pub const MALFORMED_EVENT: &[u8] = b"data: {not json\n\n";
/// The mid-stream error event `error-after-chunks` sends, as OpenAI does.
pub const ERROR_EVENT: &[u8] = b"data: {\"error\":{\"message\":\"mock fault: upstream error event\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";
/// What body faults insert into an OpenAI stream.
pub const FAULT_EVENTS: FaultEvents = FaultEvents {
    malformed: MALFORMED_EVENT,
    error: ERROR_EVENT,
};
/// OpenAI's answer to a prompt longer than the model's context window.
const CONTEXT_LENGTH_ERROR: &[u8] = b"{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}";
const DONE_EVENT: &str = "data: [DONE]\n\n";
const FINGERPRINT: &str = "fp_gatesmith_mock";

/// `/v1/chat/completions` or `/v1/completions`: they differ in names and choice shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Chat,
    Completion,
}

impl Flavor {
    fn id_prefix(self) -> &'static str {
        match self {
            Flavor::Chat => "chatcmpl-mock-",
            Flavor::Completion => "cmpl-mock-",
        }
    }

    fn object(self, streamed: bool) -> &'static str {
        match (self, streamed) {
            (Flavor::Chat, false) => "chat.completion",
            (Flavor::Chat, true) => "chat.completion.chunk",
            (Flavor::Completion, _) => "text_completion",
        }
    }
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

/// `{"id":…,"object":…,"created":…,"model":…` (the object stays open).
fn push_head(out: &mut Vec<u8>, flavor: Flavor, streamed: bool, answer: &Answer<'_>) {
    push(out, "{\"id\":\"");
    push(out, flavor.id_prefix());
    push_hex(out, answer.hash);
    push(out, "\",\"object\":\"");
    push(out, flavor.object(streamed));
    push(out, "\",\"created\":");
    push_number(out, CREATED);
    push(out, ",\"model\":");
    push_string(out, answer.model);
    if flavor == Flavor::Chat {
        push(out, ",\"system_fingerprint\":\"");
        push(out, FINGERPRINT);
        push(out, "\"");
    }
}

fn push_usage(out: &mut Vec<u8>, flavor: Flavor, answer: &Answer<'_>) {
    let prompt = u64::from(answer.prompt_with_cache());
    let output = u64::from(answer.output_tokens());
    push(out, "\"usage\":{\"prompt_tokens\":");
    push_number(out, prompt);
    push(out, ",\"completion_tokens\":");
    push_number(out, output);
    push(out, ",\"total_tokens\":");
    push_number(out, prompt.saturating_add(output));
    if flavor == Flavor::Chat {
        push(out, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        push_number(out, u64::from(answer.extras.cache_read));
        if answer.extras.cache_creation > 0 {
            // The extension OpenAI-compatible upstreams use for cache writes.
            push(out, ",\"cache_creation_input_tokens\":");
            push_number(out, u64::from(answer.extras.cache_creation));
        }
        push(
            out,
            "},\"completion_tokens_details\":{\"reasoning_tokens\":",
        );
        push_number(out, u64::from(answer.extras.reasoning_tokens()));
        push(out, "}");
    }
    push(out, "}");
}

/// The non-streamed answer body.
pub fn json_body(flavor: Flavor, answer: &Answer<'_>) -> Vec<u8> {
    let words = answer.usage.completion_tokens as usize;
    let mut out = Vec::with_capacity(480 + answer.model.len() + words * 10);
    push_head(&mut out, flavor, false, answer);
    push(&mut out, ",\"choices\":[{\"index\":0,");
    match flavor {
        Flavor::Chat => {
            push(&mut out, "\"message\":{\"role\":\"assistant\",\"content\":");
            if answer.has_text() {
                push_answer_string(&mut out, 0..words);
            } else {
                push(&mut out, "null");
            }
            if answer.extras.thinking {
                push(&mut out, ",\"reasoning_content\":");
                push_string(&mut out, THINKING_TEXT);
            }
            if answer.extras.tool_calls > 0 {
                push(&mut out, ",\"tool_calls\":");
                push(
                    &mut out,
                    &tool_calls_json(answer.extras.tool_calls).to_string(),
                );
            }
            push(&mut out, ",\"refusal\":null},");
        }
        Flavor::Completion => {
            push(&mut out, "\"text\":");
            push_answer_string(&mut out, 0..words);
            push(&mut out, ",");
        }
    }
    push(&mut out, "\"logprobs\":null,\"finish_reason\":\"");
    push(&mut out, finish_reason(answer));
    push(&mut out, "\"}],");
    push_usage(&mut out, flavor, answer);
    push(&mut out, "}");
    out
}

/// The streamed answer as SSE events: (chat only) the role chunk, the content
/// chunks, the finish chunk, the usage chunk if asked for, then `[DONE]`.
pub fn stream_events(flavor: Flavor, answer: &Answer<'_>) -> Vec<Event> {
    let words = answer.usage.completion_tokens as usize;
    let chunks = answer.chunks.max(1) as usize;
    let per_event = 260 + answer.model.len();
    let mut writer = EventWriter::with_capacity(per_event * (chunks + 4) + words * 10, chunks + 4);

    let open_choice = |out: &mut Vec<u8>| {
        push(out, "data: ");
        push_head(out, flavor, true, answer);
        push(out, ",\"choices\":[{\"index\":0,");
    };
    let close_chunk = |out: &mut Vec<u8>, finish: Option<&str>| {
        push(out, "\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(reason) => {
                push(out, "\"");
                push(out, reason);
                push(out, "\"");
            }
            None => push(out, "null"),
        }
        push(out, "}]");
        if answer.include_usage {
            push(out, ",\"usage\":null");
        }
        push(out, "}\n\n");
    };

    if flavor == Flavor::Chat {
        let out = writer.buffer();
        open_choice(out);
        push(out, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},");
        close_chunk(out, None);
        writer.end_event(false);
    }
    let extras = flavor == Flavor::Chat;
    if extras && answer.extras.thinking {
        for piece in thinking_pieces() {
            let out = writer.buffer();
            open_choice(out);
            push(out, "\"delta\":{\"reasoning_content\":");
            push_string(out, piece);
            push(out, "},");
            close_chunk(out, None);
            writer.end_event(true);
        }
    }
    let text_ranges = if answer.has_text() || !extras {
        answer.chunks
    } else {
        0
    };
    for range in
        chunk_ranges(answer.usage.completion_tokens, answer.chunks).take(text_ranges as usize)
    {
        let out = writer.buffer();
        open_choice(out);
        match flavor {
            Flavor::Chat => {
                push(out, "\"delta\":{\"content\":");
                push_answer_string(out, range);
                push(out, "},");
            }
            Flavor::Completion => {
                push(out, "\"text\":");
                push_answer_string(out, range);
                push(out, ",");
            }
        }
        close_chunk(out, None);
        writer.end_event(true);
    }
    if extras {
        for (tool, position, fragment) in interleaved_fragments(answer.extras.tool_calls) {
            // The first fragment of each call names it, as OpenAI streams do.
            let call = if position == 0 {
                json!({"index": tool, "id": tool_id(Some(Api::ChatCompletions), tool), "type": "function",
                       "function": {"name": tool_name(tool), "arguments": fragment}})
            } else {
                json!({"index": tool, "function": {"arguments": fragment}})
            };
            let out = writer.buffer();
            open_choice(out);
            push(out, "\"delta\":{\"tool_calls\":[");
            push(out, &call.to_string());
            push(out, "]},");
            close_chunk(out, None);
            writer.end_event(true);
        }
    }
    let out = writer.buffer();
    open_choice(out);
    push(
        out,
        match flavor {
            Flavor::Chat => "\"delta\":{},",
            Flavor::Completion => "\"text\":\"\",",
        },
    );
    close_chunk(out, Some(finish_reason(answer)));
    writer.end_event(false);

    if answer.include_usage {
        let out = writer.buffer();
        push(out, "data: ");
        push_head(out, flavor, true, answer);
        push(out, ",\"choices\":[],");
        push_usage(out, flavor, answer);
        push(out, "}\n\n");
        writer.end_event(false);
    }
    push(writer.buffer(), DONE_EVENT);
    writer.end_event(false);
    writer.finish()
}

/// The `tool_calls` array of a complete chat message.
fn tool_calls_json(tool_calls: u32) -> serde_json::Value {
    (0..tool_calls)
        .map(|tool| {
            json!({"id": tool_id(Some(Api::ChatCompletions), tool), "type": "function",
                   "function": {"name": tool_name(tool), "arguments": tool_arguments(tool)}})
        })
        .collect()
}

/// The 400 body of `context-length`: code `context_length_exceeded`.
pub fn context_length_error_body() -> Vec<u8> {
    CONTEXT_LENGTH_ERROR.to_vec()
}

/// An OpenAI error body: `{"error":{"message","type","param","code"}}`.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let (kind, code) = match status.as_u16() {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        529 => ("overloaded_error", None),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    };
    let mut out = Vec::with_capacity(96 + message.len());
    push(&mut out, "{\"error\":{\"message\":");
    push_string(&mut out, message);
    push(&mut out, ",\"type\":\"");
    push(&mut out, kind);
    push(&mut out, "\",\"param\":null,\"code\":");
    match code {
        Some(code) => {
            push(&mut out, "\"");
            push(&mut out, code);
            push(&mut out, "\"");
        }
        None => push(&mut out, "null"),
    }
    push(&mut out, "}}");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::mock::usage::{Usage, answer_text};

    fn answer(include_usage: bool, max_tokens: Option<u64>) -> Answer<'static> {
        Answer {
            hash: 0xabc,
            model: "gpt-\"quoted\"",
            usage: Usage::new(12, 10, max_tokens),
            chunks: 4,
            include_usage,
            extras: crate::mock::extras::Extras::default(),
        }
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    /// The `data:` payloads of a stream, `[DONE]` excluded, each parsed.
    fn payloads(events: &[Event]) -> (Vec<Value>, bool) {
        let mut values = Vec::new();
        let mut done = false;
        for event in events {
            let text = std::str::from_utf8(&event.bytes).unwrap_or_default();
            let data = text
                .strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\n\n"));
            match data {
                Some("[DONE]") => done = true,
                Some(json) => values.push(parse(json.as_bytes())),
                None => panic!("bad SSE framing: {text:?}"),
            }
        }
        (values, done)
    }

    #[test]
    fn chat_json_looks_like_openai() {
        let body = parse(&json_body(Flavor::Chat, &answer(false, None)));
        assert_eq!(body["id"], "chatcmpl-mock-0000000000000abc");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["created"], CREATED);
        assert_eq!(body["model"], "gpt-\"quoted\"");
        assert_eq!(body["choices"][0]["message"]["role"], "assistant");
        assert_eq!(body["choices"][0]["message"]["content"], answer_text(10));
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22,
                   "prompt_tokens_details": {"cached_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0}})
        );
    }

    #[test]
    fn max_tokens_cuts_with_finish_reason_length() {
        let body = parse(&json_body(Flavor::Chat, &answer(false, Some(3))));
        assert_eq!(body["choices"][0]["message"]["content"], "This is a");
        assert_eq!(body["choices"][0]["finish_reason"], "length");
        assert_eq!(body["usage"]["completion_tokens"], 3);
    }

    #[test]
    fn chat_stream_concatenates_to_the_json_answer_with_equal_usage() {
        let answer = answer(true, None);
        let events = stream_events(Flavor::Chat, &answer);
        let (chunks, done) = payloads(&events);
        assert!(done, "stream ends with [DONE]");
        assert_eq!(events.iter().filter(|e| e.content).count(), 4);
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        let whole = parse(&json_body(Flavor::Chat, &answer));
        assert_eq!(
            text,
            whole["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
        );
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        let usage = &chunks[chunks.len() - 1];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"], whole["usage"]);
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == whole["id"])
        );
    }

    #[test]
    fn stream_without_include_usage_has_no_usage_chunk() {
        let (chunks, done) = payloads(&stream_events(Flavor::Chat, &answer(false, None)));
        assert!(done);
        assert_eq!(chunks.len(), 1 + 4 + 1);
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }

    #[test]
    fn completions_have_text_choices() {
        let answer = answer(true, Some(4));
        let whole = parse(&json_body(Flavor::Completion, &answer));
        assert_eq!(whole["object"], "text_completion");
        assert_eq!(whole["choices"][0]["text"], "This is a deterministic");
        assert_eq!(whole["choices"][0]["finish_reason"], "length");
        assert_eq!(
            whole["usage"],
            json!({"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16})
        );
        let (chunks, done) = payloads(&stream_events(Flavor::Completion, &answer));
        assert!(done);
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["text"].as_str())
            .collect();
        assert_eq!(text, "This is a deterministic");
        assert_eq!(chunks[chunks.len() - 1]["usage"], whole["usage"]);
    }

    #[test]
    fn error_bodies_carry_type_and_code() {
        let body = parse(&error_body(StatusCode::TOO_MANY_REQUESTS, "slow \"down\""));
        assert_eq!(
            body,
            json!({"error": {"message": "slow \"down\"", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
        );
        let body = parse(&error_body(StatusCode::SERVICE_UNAVAILABLE, "x"));
        assert_eq!(body["error"]["type"], "server_error");
    }
}
