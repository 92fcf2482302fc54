//! Anthropic Messages-format answers: JSON and the typed SSE event stream, plus error bodies.

use http::StatusCode;

use super::render::{Answer, push, push_answer_string, push_hex, push_number, push_string};
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
    if answer.usage.truncated {
        "max_tokens"
    } else {
        "end_turn"
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
    push(
        out,
        ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":",
    );
    push_number(out, u64::from(output_tokens));
    push(out, "}");
}

/// The non-streamed `message` body.
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
    push(&mut out, ",\"content\":[{\"type\":\"text\",\"text\":");
    push_answer_string(&mut out, 0..words);
    push(&mut out, "}],\"stop_reason\":\"");
    push(&mut out, stop_reason(answer));
    push(&mut out, "\",\"stop_sequence\":null,\"usage\":");
    push_usage(&mut out, answer, answer.usage.completion_tokens);
    push(&mut out, "}");
    out
}

/// The streamed answer: `message_start`, `content_block_start`, `ping`, the
/// `content_block_delta`s (content), `content_block_stop`, `message_delta`
/// (stop reason and final usage), `message_stop`.
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
    push_usage(out, answer, answer.usage.completion_tokens.min(1));
    push(out, "}}\n\n");
    writer.end_event(false);

    push(
        writer.buffer(),
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    writer.end_event(false);
    push(
        writer.buffer(),
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    );
    writer.end_event(false);

    for range in chunk_ranges(answer.usage.completion_tokens, answer.chunks) {
        let out = writer.buffer();
        push(
            out,
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":",
        );
        push_answer_string(out, range);
        push(out, "}}\n\n");
        writer.end_event(true);
    }

    push(
        writer.buffer(),
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    );
    writer.end_event(false);

    let out = writer.buffer();
    push(
        out,
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"",
    );
    push(out, stop_reason(answer));
    push(
        out,
        "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":",
    );
    push_number(out, u64::from(answer.usage.completion_tokens));
    push(out, "}}\n\n");
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
