//! Small writers shared by the protocol renderers: JSON scalars and SSE framing into a byte buffer.
//!
//! The renderers write JSON by hand because every response has a fixed
//! shape; only client-supplied strings (the model name) go through serde's
//! escaper.

use std::io::Write;

use super::extras::Extras;
use super::usage::{Usage, answer_pieces};

/// Everything a protocol renderer needs to write one answer.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// [`request_hash`] of the request; names the answer.
    pub hash: u64,
    pub model: &'a str,
    pub usage: Usage,
    /// Content chunks of a streamed answer (at least 1).
    pub chunks: u32,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// Tool calls, thinking, cache tokens and stop reason the request asked for.
    pub extras: Extras,
}

impl Answer<'_> {
    /// Output tokens: the answer words plus the reasoning tokens of its thinking.
    pub fn output_tokens(&self) -> u32 {
        self.usage
            .completion_tokens
            .saturating_add(self.extras.reasoning_tokens())
    }

    /// The whole prompt as OpenAI and DashScope count it: cached tokens included.
    pub fn prompt_with_cache(&self) -> u32 {
        self.usage
            .prompt_tokens
            .saturating_add(self.extras.cache_tokens())
    }

    /// Whether the answer has a text part: always, unless it has no words
    /// and holds tool calls or thinking instead.
    pub fn has_text(&self) -> bool {
        self.usage.completion_tokens > 0 || (self.extras.tool_calls == 0 && !self.extras.thinking)
    }
}

/// Fixed `created` timestamp (2025-01-01T00:00:00Z): answers are reproducible.
pub const CREATED: u64 = 1_735_689_600;

/// Stable 64-bit FNV-1a hash of the request body; names the answer.
pub fn request_hash(body: &[u8]) -> u64 {
    body.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub fn push(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

pub fn push_number(out: &mut Vec<u8>, number: u64) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{number}");
}

pub fn push_hex(out: &mut Vec<u8>, number: u64) {
    let _ = write!(out, "{number:016x}");
}

/// A JSON string literal, escaped.
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    if serde_json::to_writer(&mut *out, text).is_err() {
        // Unreachable for a Vec writer; keep the document valid regardless.
        push(out, "\"\"");
    }
}

/// A JSON string literal holding answer words `range` (plain ASCII, no escapes needed).
pub fn push_answer_string(out: &mut Vec<u8>, range: std::ops::Range<usize>) {
    out.push(b'"');
    answer_pieces(range).for_each(|piece| push(out, piece));
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_discriminating() {
        assert_eq!(request_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(request_hash(b"abc"), request_hash(b"abc"));
        assert_ne!(request_hash(b"abc"), request_hash(b"abd"));
    }

    #[test]
    fn strings_are_escaped_and_answers_quoted() {
        let mut out = Vec::new();
        push_string(&mut out, "a\"b\n");
        push_answer_string(&mut out, 0..2);
        push_hex(&mut out, 255);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "\"a\\\"b\\n\"\"This is\"00000000000000ff"
        );
    }
}
