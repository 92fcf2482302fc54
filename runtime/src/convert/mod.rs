//! Protocol conversion between OpenAI chat completions, Anthropic messages and DashScope native text generation.
//!
//! Everything here is pure and synchronous: JSON `Value`s in and out for
//! requests and complete responses, and stream transducers that take
//! [`SseEvent`](crate::sse::SseEvent)s from the one framer and write the
//! client protocol's SSE bytes. Same-protocol paths never come here: the
//! proxy passes those bytes through, which is what keeps Anthropic thinking
//! signatures and `redacted_thinking` byte for byte.
//!
//! Thinking through OpenAI: OpenAI clients see thinking text only as
//! `message.reasoning_content` (never `content`), and each Anthropic thinking
//! block whole, signature included, in the extension array
//! `message.thinking_blocks` (`{"type":"thinking","thinking","signature"}` or
//! `{"type":"redacted_thinking","data"}`; in streams one whole block per
//! `delta.thinking_blocks` when the block ends). An OpenAI client that sends
//! `thinking_blocks` back on an assistant message gets them replayed to an
//! Anthropic upstream unchanged.

pub mod accumulate;
pub mod anthropic_stream_to_openai;
pub mod dashscope;
pub mod errors;
pub mod openai_stream_to_anthropic;
pub mod request_anthropic_to_openai;
pub mod request_openai_to_anthropic;
pub mod response_anthropic_to_openai;
pub mod response_openai_to_anthropic;
pub mod stop_reason;

use serde_json::Value;

/// The three text-generation wire formats the converters speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// OpenAI chat completions (and the many OpenAI-compatible upstreams).
    OpenAi,
    /// Anthropic messages.
    Anthropic,
    /// DashScope native text generation (`input`/`parameters`/`output`).
    DashScope,
}

/// A request or response that cannot be expressed in the target protocol.
/// For a client request it becomes a 400 in the client's protocol
/// ([`errors::convert_error_body`]); for an upstream response, a 502.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    pub message: String,
}

impl ConvertError {
    pub fn new(message: impl Into<String>) -> ConvertError {
        ConvertError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ConvertError {}

/// Writes one SSE event (`event:` line only when named).
pub(crate) fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &Value) {
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // Serialising a Value into a Vec cannot fail; serde_json escapes newlines.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

/// Whether an event is OpenAI's `data: [DONE]` end marker.
pub fn is_done_marker(event: &crate::sse::SseEvent) -> bool {
    event.data.trim() == "[DONE]"
}

/// The OpenAI end-of-stream marker.
pub(crate) fn write_done(out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

/// The text of an OpenAI `content` that is a string or an array of text parts.
pub(crate) fn openai_text(content: &Value) -> Result<String, ConvertError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""))
                    }
                    other => {
                        return Err(ConvertError::new(format!(
                            "content part type {} is not supported here",
                            other.unwrap_or("(missing)")
                        )));
                    }
                }
            }
            Ok(text)
        }
        _ => Err(ConvertError::new(
            "message content must be a string or an array",
        )),
    }
}

/// A string field, or "".
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
