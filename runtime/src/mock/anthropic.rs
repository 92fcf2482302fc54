//! Anthropic Messages-format answers: JSON and the typed SSE event stream, plus error bodies.

use http::StatusCode;

use serde_json::json;

use super::extras::{
    STOP_SEQUENCE, THINKING_SIGNATURE, THINKING_TEXT, argument_fragments, thinking_pieces,
    tool_arguments, tool_id, tool_name,
};
use super::render::{Answer, push, push_answer_string, push_hex, push_number, push_string};
use super::request::Api;
use super::stream::{Event, EventWriter, FaultEvents};
use super::usage::chunk_ranges;

/// The broken event `malformed-after-chunks` inserts.
pub const MALFORMED_EVENT: &[u8] = b"event: content_block_delta\ndata: {not json\n\n";
/// The mid-stream error event `error-after-chunks` sends, as Anthropic does.
pub const ERROR_EVENT: &[u8] = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"mock fault: upstream error event\"}}\n\n";
/// What body faults insert into an Anthropic stream.
pub const FAULT_EVENTS: FaultEvents = FaultEvents {
    malformed: MALFORMED_EVENT,
    error: ERROR_EVENT,
};
/// Anthropic's answer to a prompt longer than the model's context window.
const CONTEXT_LENGTH_ERROR: &[u8] = b"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: 210000 tokens > 200000 maximum\"}}";

fn stop_reason(answer: &Answer<'_>) -> &'static str {
    if let Some(stop) = answer.extras.stop {
        stop
    } else if answer.extras.tool_calls > 0 {
        "tool_use"
    } else if answer.usage.truncated {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// `"stop_sequence":…`: the matched sequence only when the answer stopped on one.
fn push_stop_sequence(out: &mut Vec<u8>, answer: &Answer<'_>) {
    push(out, "\"stop_sequence\":");
    if stop_reason(answer) == "stop_sequence" {
        push_string(out, STOP_SEQUENCE);
    } else {
        push(out, "null");
    }
}

fn push_id(out: &mut Vec<u8>, answer: &Answer<'_>) {
    push(out, "\"msg_mock_");
    push_hex(out, answer.hash);
    push(out, "\"");
}

fn push_usage(out: &mut Vec<u8>, answer: &Answer<'_>, output_tokens: u32) {
    push(out, "{\"input_tokens\":");
    push_number(out, u64::from(answer.usage.prompt_tokens));
    push(out, ",\"cache_creation_input_tokens\":");
    push_number(out, u64::from(answer.extras.cache_creation));
    push(out, ",\"cache_read_input_tokens\":");
    push_number(out, u64::from(answer.extras.cache_read));
    push(out, ",\"output_tokens\":");
    push_number(out, u64::from(output_tokens));
    push(out, "}");
}

/// A complete `tool_use` block (`input` is the arguments object).
fn push_tool_block(out: &mut Vec<u8>, index: u32) {
    push(out, "{\"type\":\"tool_use\",\"id\":");
    push_string(out, &tool_id(Some(Api::Messages), index));
    push(out, ",\"name\":");
    push_string(out, tool_name(index));
    push(out, ",\"input\":");
    push(out, &tool_arguments(index));
    push(out, "}");
}

/// The non-streamed `message` body: thinking, text and tool blocks in that order.
pub fn json_body(answer: &Answer<'_>) -> Vec<u8> {
    let words = answer.usage.completion_tokens as usize;
    let mut out = Vec::with_capacity(360 + answer.model.len() + words * 10);
    push(&mut out, "{\"id\":");
    push_id(&mut out, answer);
    push(
        &mut out,
        ",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
    );
    push_string(&mut out, answer.model);
    push(&mut out, ",\"content\":[");
    let mut blocks = 0;
    let mut separate = |out: &mut Vec<u8>| {
        if blocks > 0 {
            push(out, ",");
        }
        blocks += 1;
    };
    if answer.extras.thinking {
        separate(&mut out);
        push(&mut out, "{\"type\":\"thinking\",\"thinking\":");
        push_string(&mut out, THINKING_TEXT);
        push(&mut out, ",\"signature\":");
        push_string(&mut out, THINKING_SIGNATURE);
        push(&mut out, "}");
    }
    if answer.has_text() {
        separate(&mut out);
        push(&mut out, "{\"type\":\"text\",\"text\":");
        push_answer_string(&mut out, 0..words);
        push(&mut out, "}");
    }
    for index in 0..answer.extras.tool_calls {
        separate(&mut out);
        push_tool_block(&mut out, index);
    }
    push(&mut out, "],\"stop_reason\":\"");
    push(&mut out, stop_reason(answer));
    push(&mut out, "\",");
    push_stop_sequence(&mut out, answer);
    push(&mut out, ",\"usage\":");
    push_usage(&mut out, answer, answer.output_tokens());
    push(&mut out, "}");
    out
}

/// One SSE event `name` whose data is `data` (a JSON object).
fn push_event(writer: &mut EventWriter, name: &str, data: &serde_json::Value, content: bool) {
    let out = writer.buffer();
    push(out, "event: ");
    push(out, name);
    push(out, "\ndata: ");
    push(out, &data.to_string());
    push(out, "\n\n");
    writer.end_event(content);
}

/// The streamed answer: `message_start`, then per block (thinking, text,
/// tools) `content_block_start`, its deltas (content events) and
/// `content_block_stop`, with a `ping` after the first block start, then
/// `message_delta` (stop reason and final usage) and `message_stop`.
pub fn stream_events(answer: &Answer<'_>) -> Vec<Event> {
    let words = answer.usage.completion_tokens as usize;
    let chunks = answer.chunks.max(1) as usize;
    let mut writer = EventWriter::with_capacity(
        700 + answer.model.len() + chunks * 110 + words * 10,
        chunks + 6,
    );

    let out = writer.buffer();
    push(
        out,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":",
    );
    push_id(out, answer);
    push(
        out,
        ",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
    );
    push_string(out, answer.model);
    push(
        out,
        ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":",
    );
    // Anthropic reports a provisional output count here; the final one comes in `message_delta`.
    push_usage(out, answer, answer.output_tokens().min(1));
    push(out, "}}\n\n");
    writer.end_event(false);

    let mut block = 0u32;
    let mut start_block = |writer: &mut EventWriter, content_block: serde_json::Value| {
        push_event(
            writer,
            "content_block_start",
            &json!({"type": "content_block_start", "index": block, "content_block": content_block}),
            false,
        );
        if block == 0 {
            push(
                writer.buffer(),
                "event: ping\ndata: {\"type\":\"ping\"}\n\n",
            );
            writer.end_event(false);
        }
        block += 1;
        block - 1
    };
    let stop_block = |writer: &mut EventWriter, index: u32| {
        push_event(
            writer,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
            false,
        );
    };
    let delta = |writer: &mut EventWriter, index: u32, delta: serde_json::Value| {
        push_event(
            writer,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            true,
        );
    };

    if answer.extras.thinking {
        let index = start_block(
            &mut writer,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        );
        for piece in thinking_pieces() {
            delta(
                &mut writer,
                index,
                json!({"type": "thinking_delta", "thinking": piece}),
            );
        }
        delta(
            &mut writer,
            index,
            json!({"type": "signature_delta", "signature": THINKING_SIGNATURE}),
        );
        stop_block(&mut writer, index);
    }

    if answer.has_text() {
        let index = start_block(&mut writer, json!({"type": "text", "text": ""}));
        for range in chunk_ranges(answer.usage.completion_tokens, answer.chunks) {
            let out = writer.buffer();
            push(
                out,
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
            );
            push_number(out, u64::from(index));
            push(out, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
            push_answer_string(out, range);
            push(out, "}}\n\n");
            writer.end_event(true);
        }
        stop_block(&mut writer, index);
    }

    for tool in 0..answer.extras.tool_calls {
        let index = start_block(
            &mut writer,
            json!({"type": "tool_use", "id": tool_id(Some(Api::Messages), tool), "name": tool_name(tool), "input": {}}),
        );
        for fragment in argument_fragments(tool) {
            delta(
                &mut writer,
                index,
                json!({"type": "input_json_delta", "partial_json": fragment}),
            );
        }
        stop_block(&mut writer, index);
    }

    let out = writer.buffer();
    push(
        out,
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"",
    );
    push(out, stop_reason(answer));
    push(out, "\",");
    push_stop_sequence(out, answer);
    if answer.extras.cache_tokens() > 0 {
        // As Anthropic does today: the final usage repeats the input and cache fields.
        push(out, "},\"usage\":");
        push_usage(out, answer, answer.output_tokens());
        push(out, "}\n\n");
    } else {
        push(out, "},\"usage\":{\"output_tokens\":");
        push_number(out, u64::from(answer.output_tokens()));
        push(out, "}}\n\n");
    }
    writer.end_event(false);

    push(
        writer.buffer(),
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    writer.end_event(false);
    writer.finish()
}

/// The 400 body of `context-length`: "prompt is too long".
pub fn context_length_error_body() -> Vec<u8> {
    CONTEXT_LENGTH_ERROR.to_vec()
}

/// An Anthropic error body: `{"type":"error","error":{"type","message"}}`.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let kind = match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    };
    let mut out = Vec::with_capacity(64 + message.len());
    push(&mut out, "{\"type\":\"error\",\"error\":{\"type\":\"");
    push(&mut out, kind);
    push(&mut out, "\",\"message\":");
    push_string(&mut out, message);
    push(&mut out, "}}");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::mock::usage::{Usage, answer_text};

    fn answer(max_tokens: Option<u64>) -> Answer<'static> {
        Answer {
            hash: 1,
            model: "claude-mock",
            usage: Usage::new(20, 9, max_tokens),
            chunks: 3,
            include_usage: false,
            extras: crate::mock::extras::Extras::default(),
        }
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    /// `(event name, parsed data)` of each SSE event.
    fn events(events: &[Event]) -> Vec<(String, Value)> {
        events
            .iter()
            .map(|event| {
                let text = std::str::from_utf8(&event.bytes).unwrap_or_default();
                let Some((name, data)) = text
                    .strip_prefix("event: ")
                    .and_then(|t| t.strip_suffix("\n\n"))
                    .and_then(|t| t.split_once("\ndata: "))
                else {
                    panic!("bad SSE framing: {text:?}");
                };
                let data = parse(data.as_bytes());
                assert_eq!(data["type"], name, "event name matches the data type");
                (name.to_owned(), data)
            })
            .collect()
    }

    #[test]
    fn message_json_looks_like_anthropic() {
        let body = parse(&json_body(&answer(None)));
        assert_eq!(body["id"], "msg_mock_0000000000000001");
        assert_eq!(body["type"], "message");
        assert_eq!(
            body["content"],
            json!([{"type": "text", "text": answer_text(9)}])
        );
        assert_eq!(body["stop_reason"], "end_turn");
        assert_eq!(body["usage"]["input_tokens"], 20);
        assert_eq!(body["usage"]["output_tokens"], 9);
        let cut = parse(&json_body(&answer(Some(2))));
        assert_eq!(cut["stop_reason"], "max_tokens");
        assert_eq!(cut["content"][0]["text"], "This is");
    }

    #[test]
    fn stream_has_the_event_sequence_and_the_same_text_and_usage() {
        let answer = answer(None);
        let parsed = events(&stream_events(&answer));
        let names: Vec<&str> = parsed.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let text: String = parsed
            .iter()
            .filter_map(|(_, data)| data["delta"]["text"].as_str())
            .collect();
        let whole = parse(&json_body(&answer));
        assert_eq!(
            text,
            whole["content"][0]["text"].as_str().unwrap_or_default()
        );
        assert_eq!(
            parsed[7].1["usage"]["output_tokens"],
            whole["usage"]["output_tokens"]
        );
        assert_eq!(parsed[7].1["delta"]["stop_reason"], "end_turn");
        assert_eq!(
            parsed[0].1["message"]["usage"]["input_tokens"],
            whole["usage"]["input_tokens"]
        );
    }

    #[test]
    fn overloaded_is_529s_error_type() {
        let body = parse(&error_body(
            StatusCode::from_u16(529).unwrap_or(StatusCode::BAD_GATEWAY),
            "busy",
        ));
        assert_eq!(
            body,
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
        );
    }
}
