//! Reads the few fields of a client request the mock needs, without building a JSON tree.
//!
//! Message texts are never copied: custom visitors only count their
//! characters (see [`super::usage`] for the token model). Unknown fields are
//! ignored, as a real provider would accept them.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::usage::{TOKENS_PER_MESSAGE, TOKENS_REPLY_PRIMING, text_tokens};

/// The API a request path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI `/v1/chat/completions`.
    ChatCompletions,
    /// OpenAI legacy `/v1/completions`.
    Completions,
    /// Anthropic `/v1/messages`.
    Messages,
}

impl Api {
    /// Matches on the path's suffix so the mock answers behind any prefix.
    pub fn from_path(path: &str) -> Option<Api> {
        if path.ends_with("/v1/chat/completions") {
            Some(Api::ChatCompletions)
        } else if path.ends_with("/v1/completions") {
            Some(Api::Completions)
        } else if path.ends_with("/v1/messages") {
            Some(Api::Messages)
        } else {
            None
        }
    }
}

/// What the mock's answer depends on.
#[derive(Debug, PartialEq, Eq)]
pub struct MockRequest<'a> {
    /// Echoed in the answer; `"mock"` when the client sent none.
    pub model: Cow<'a, str>,
    pub prompt_tokens: u32,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// The client's completion token limit, if any.
    pub max_tokens: Option<u64>,
}

/// Model name used when a request names none.
pub const DEFAULT_MODEL: &str = "mock";

/// Parses a request body for `api`; the error is a message for a 400 body.
pub fn parse(api: Api, body: &[u8]) -> Result<MockRequest<'_>, String> {
    let fields: RequestFields<'_> =
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
    let prompt_tokens = match api {
        Api::ChatCompletions | Api::Messages => {
            let messages = fields
                .messages
                .ok_or("missing required parameter: 'messages'")?;
            let system = fields
                .system
                .map_or(0, |s| TOKENS_PER_MESSAGE.saturating_add(s.0));
            TOKENS_REPLY_PRIMING
                .saturating_add(messages.0)
                .saturating_add(system)
        }
        Api::Completions => {
            fields
                .prompt
                .ok_or("missing required parameter: 'prompt'")?
                .0
        }
    };
    Ok(MockRequest {
        model: fields.model.unwrap_or(Cow::Borrowed(DEFAULT_MODEL)),
        prompt_tokens,
        stream: fields.stream.unwrap_or(false),
        include_usage: fields
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        max_tokens: fields.max_completion_tokens.or(fields.max_tokens),
    })
}

/// The union of the fields of the three request shapes.
#[derive(Deserialize)]
struct RequestFields<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    messages: Option<MessagesCost>,
    #[serde(default)]
    system: Option<TextCost>,
    #[serde(default)]
    prompt: Option<TextCost>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Prompt tokens of a `messages` array: framing per message plus its texts.
struct MessagesCost(u32);

impl<'de> Deserialize<'de> for MessagesCost {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MessagesVisitor;
        impl<'de> Visitor<'de> for MessagesVisitor {
            type Value = MessagesCost;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MessagesCost, A::Error> {
                let mut total = 0u32;
                while let Some(message) = seq.next_element::<MessageCost>()? {
                    total = total
                        .saturating_add(TOKENS_PER_MESSAGE)
                        .saturating_add(message.content.0);
                }
                Ok(MessagesCost(total))
            }
        }
        deserializer.deserialize_seq(MessagesVisitor)
    }
}

/// One message; only its content costs tokens beyond the framing.
#[derive(Deserialize)]
struct MessageCost {
    #[serde(default)]
    content: TextCost,
}

/// Tokens of any text-bearing JSON value: a string, an array of strings or
/// content parts (their `text` fields count), or token ids (one each).
#[derive(Default)]
struct TextCost(u32);

impl<'de> Deserialize<'de> for TextCost {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextCostVisitor)
    }
}

struct TextCostVisitor;

impl<'de> Visitor<'de> for TextCostVisitor {
    type Value = TextCost;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text, content parts or token ids")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<TextCost, E> {
        Ok(TextCost(text_tokens(text.chars().count())))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TextCost, E> {
        Ok(TextCost(1))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TextCost, E> {
        Ok(TextCost(1))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TextCost, E> {
        Ok(TextCost(0))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TextCost, E> {
        Ok(TextCost(0))
    }

    fn visit_unit<E: de::Error>(self) -> Result<TextCost, E> {
        Ok(TextCost(0))
    }

    fn visit_none<E: de::Error>(self) -> Result<TextCost, E> {
        Ok(TextCost(0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextCost, A::Error> {
        let mut total = 0u32;
        while let Some(part) = seq.next_element::<TextCost>()? {
            total = total.saturating_add(part.0);
        }
        Ok(TextCost(total))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextCost, A::Error> {
        let mut total = 0u32;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            // Tool results nest their texts under `content`.
            if key == "text" || key == "content" {
                total = total.saturating_add(map.next_value::<TextCost>()?.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(TextCost(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_matches_path_suffix_behind_any_prefix() {
        assert_eq!(
            Api::from_path("/v1/chat/completions"),
            Some(Api::ChatCompletions)
        );
        assert_eq!(
            Api::from_path("/llm/openai/v1/chat/completions"),
            Some(Api::ChatCompletions)
        );
        assert_eq!(Api::from_path("/v1/completions"), Some(Api::Completions));
        assert_eq!(
            Api::from_path("/anthropic/v1/messages"),
            Some(Api::Messages)
        );
        assert_eq!(Api::from_path("/v1/embeddings"), None);
        assert_eq!(Api::from_path("/v1/chat/completions/x"), None);
    }

    #[test]
    fn chat_prompt_tokens_count_framing_and_quarter_chars() {
        let body = br#"{"model":"gpt-x","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":4,"temperature":0.2}"#;
        let request = parse(Api::ChatCompletions, body).map_err(|e| e.to_string());
        // 3 priming + (3 + ceil(9/4)=3) + (3 + ceil(11/4)=3) = 15
        assert_eq!(
            request,
            Ok(MockRequest {
                model: Cow::Borrowed("gpt-x"),
                prompt_tokens: 15,
                stream: true,
                include_usage: true,
                max_tokens: Some(4),
            })
        );
    }

    #[test]
    fn content_parts_and_null_content_count() {
        let body = br#"{"messages":[{"role":"user","content":[{"type":"text","text":"abcdefgh"},{"type":"image_url","image_url":{"url":"data:x"}}]},{"role":"assistant","content":null,"tool_calls":[]}]}"#;
        let request = parse(Api::ChatCompletions, body);
        // 3 + (3 + 2) + (3 + 0) = 11; no model -> "mock"
        assert_eq!(request.as_ref().map(|r| r.prompt_tokens), Ok(11));
        assert_eq!(request.map(|r| r.model), Ok(Cow::Borrowed(DEFAULT_MODEL)));
    }

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        let body = br#"{"messages":[],"max_tokens":9,"max_completion_tokens":2}"#;
        assert_eq!(
            parse(Api::ChatCompletions, body).map(|r| r.max_tokens),
            Ok(Some(2))
        );
    }

    #[test]
    fn completions_count_prompt_strings_and_token_ids() {
        let text = parse(Api::Completions, br#"{"model":"m","prompt":"12345678"}"#);
        assert_eq!(text.map(|r| r.prompt_tokens), Ok(2));
        let tokens = parse(
            Api::Completions,
            br#"{"model":"m","prompt":[[1,2,3],"abcd"]}"#,
        );
        assert_eq!(tokens.map(|r| r.prompt_tokens), Ok(4));
    }

    #[test]
    fn anthropic_system_counts_as_a_message() {
        let body = br#"{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"abcd"}],"messages":[{"role":"user","content":"abcd"}]}"#;
        // 3 + (3 + 1) + system (3 + 1) = 11
        assert_eq!(parse(Api::Messages, body).map(|r| r.prompt_tokens), Ok(11));
    }

    #[test]
    fn missing_messages_or_bad_json_is_an_error() {
        assert!(
            parse(Api::ChatCompletions, br#"{"model":"m"}"#).is_err_and(|e| e.contains("messages"))
        );
        assert!(parse(Api::Completions, br#"{"model":"m"}"#).is_err_and(|e| e.contains("prompt")));
        assert!(
            parse(Api::ChatCompletions, b"{not json")
                .is_err_and(|e| e.contains("invalid request body"))
        );
        assert!(parse(Api::ChatCompletions, br#"{"messages":"hi"}"#).is_err());
    }
}
