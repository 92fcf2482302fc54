//! What a mock answer holds beyond its text: parallel tool calls, a thinking block, cache tokens and a chosen stop reason.
//!
//! Chosen per request with `x-mock-tool-calls`, `x-mock-thinking`,
//! `x-mock-cache-read-tokens`, `x-mock-cache-creation-tokens` and
//! `x-mock-stop` (see [`super::overrides`]). Everything here is a fixed
//! function of the tool index, so conformance tests know exactly what the
//! upstream said and can compare what a client sees through a converting
//! gateway:
//! - tool call `i` is named [`tool_name`]`(i)`, has id `toolu_mock_<i>`
//!   (Anthropic) or `call_mock_<i>` (OpenAI, DashScope), and arguments
//!   [`tool_arguments`]`(i)`, streamed in the uneven fragments of
//!   [`argument_fragments`] (splits fall inside keys, strings and escapes);
//! - thinking is [`THINKING_TEXT`] (one reasoning token per word, counted in
//!   the output tokens) with the signature [`THINKING_SIGNATURE`];
//! - cache tokens come on top of the computed prompt: Anthropic reports them
//!   beside `input_tokens`, OpenAI and DashScope include them in the prompt count.

use serde_json::json;

use super::request::Api;

/// Largest `x-mock-tool-calls`.
pub const MAX_TOOL_CALLS: u32 = 16;
/// Largest `x-mock-cache-read-tokens` / `x-mock-cache-creation-tokens`.
pub const MAX_CACHE_TOKENS: u32 = 100_000_000;

/// The thinking text of `x-mock-thinking: true`; its words are its reasoning tokens.
pub const THINKING_TEXT: &str =
    "The user wants the deterministic answer; I will give it and call the requested tools.";
/// The Anthropic signature of the thinking block. It has `+`, `/` and `=`
/// so a gateway that re-encodes it, rather than passing it byte for byte, is caught.
pub const THINKING_SIGNATURE: &str =
    "EqQBCkgIBRABGAIiQMock+Signature/Of+The/Thinking+Block==ZmFrZS1zaWduYXR1cmU=";
/// The `stop_sequence` an Anthropic answer names when it stops with `stop_sequence`.
pub const STOP_SEQUENCE: &str = "###";

/// Every stop reason `x-mock-stop` accepts, by the protocol that defines it.
pub const ANTHROPIC_STOPS: [&str; 6] = [
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
];
pub const OPENAI_STOPS: [&str; 5] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
];
pub const DASHSCOPE_STOPS: [&str; 3] = ["stop", "length", "tool_calls"];

/// Tool names, cycled by index.
const TOOL_NAMES: [&str; 4] = ["get_weather", "get_time", "search_docs", "convert_units"];
/// Fragment lengths (in characters) streamed arguments are cut into, cycled.
const FRAGMENT_CHARS: [usize; 6] = [3, 7, 1, 5, 11, 2];

/// The extras one request asked for (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    pub tool_calls: u32,
    pub thinking: bool,
    pub cache_read: u32,
    pub cache_creation: u32,
    /// A member of [`ANTHROPIC_STOPS`] or [`OPENAI_STOPS`]; checked against the
    /// request's protocol by [`Extras::check`].
    pub stop: Option<&'static str>,
}

impl Extras {
    /// Reasoning tokens the answer spends (part of its output tokens).
    pub fn reasoning_tokens(&self) -> u32 {
        if self.thinking { thinking_words() } else { 0 }
    }

    /// Cache tokens on top of the computed prompt.
    pub fn cache_tokens(&self) -> u32 {
        self.cache_read.saturating_add(self.cache_creation)
    }

    /// The extras must fit the request's API (`None`: DashScope native):
    /// legacy completions have no tool calls or thinking, and `x-mock-stop`
    /// must name a member of the protocol's own enum. The error is a 400 message.
    pub fn check(&self, api: Option<Api>) -> Result<(), String> {
        if api == Some(Api::Completions) && (self.tool_calls > 0 || self.thinking) {
            return Err(
                "x-mock-tool-calls and x-mock-thinking apply to chat and messages answers, not /v1/completions"
                    .to_owned(),
            );
        }
        let Some(stop) = self.stop else {
            return Ok(());
        };
        let (allowed, protocol): (&[&str], _) = match api {
            Some(Api::Messages) => (&ANTHROPIC_STOPS, "Anthropic stop_reason"),
            Some(Api::ChatCompletions | Api::Completions) => {
                (&OPENAI_STOPS, "OpenAI finish_reason")
            }
            None => (&DASHSCOPE_STOPS, "DashScope finish_reason"),
        };
        if allowed.contains(&stop) {
            Ok(())
        } else {
            Err(format!(
                "header x-mock-stop: `{stop}` is not an {protocol} (one of {})",
                allowed.join(", ")
            ))
        }
    }
}

/// Parses an `x-mock-stop` value: any member of either protocol's enum.
pub fn parse_stop(value: &str) -> Result<&'static str, String> {
    ANTHROPIC_STOPS
        .iter()
        .chain(OPENAI_STOPS.iter())
        .find(|stop| **stop == value)
        .copied()
        .ok_or_else(|| {
            format!(
                "`{value}` is not a stop reason (Anthropic: {}; OpenAI/DashScope: {})",
                ANTHROPIC_STOPS.join(", "),
                OPENAI_STOPS.join(", ")
            )
        })
}

/// Words of [`THINKING_TEXT`]: its reasoning tokens.
pub fn thinking_words() -> u32 {
    THINKING_TEXT.split(' ').count() as u32
}

/// [`THINKING_TEXT`] in three pieces (at word boundaries) for streams.
pub fn thinking_pieces() -> [&'static str; 3] {
    let words: Vec<usize> = THINKING_TEXT.match_indices(' ').map(|(at, _)| at).collect();
    let first = words.get(words.len() / 3).copied().unwrap_or(0);
    let second = words
        .get(2 * words.len() / 3)
        .copied()
        .unwrap_or(THINKING_TEXT.len());
    [
        &THINKING_TEXT[..first],
        &THINKING_TEXT[first..second],
        &THINKING_TEXT[second..],
    ]
}

/// The name of tool call `index`.
pub fn tool_name(index: u32) -> &'static str {
    TOOL_NAMES[index as usize % TOOL_NAMES.len()]
}

/// The id of tool call `index` in `api`'s spelling.
pub fn tool_id(api: Option<Api>, index: u32) -> String {
    match api {
        Some(Api::Messages) => format!("toolu_mock_{index}"),
        _ => format!("call_mock_{index}"),
    }
}

/// The arguments of tool call `index`: a compact JSON object with a
/// non-ASCII string, an escaped quote, a number, an array and a nested object.
pub fn tool_arguments(index: u32) -> String {
    json!({
        "location": format!("Zürich \"Altstadt\" #{index}"),
        "days": index + 1,
        "hours": [9, 12, 18],
        "options": {"units": "metric", "detail": index.is_multiple_of(2)},
    })
    .to_string()
}

/// [`tool_arguments`] cut into uneven fragments at character boundaries;
/// they concatenate to the arguments.
pub fn argument_fragments(index: u32) -> Vec<String> {
    let arguments = tool_arguments(index);
    let chars: Vec<char> = arguments.chars().collect();
    let mut fragments = Vec::new();
    let mut start = 0;
    let mut size = FRAGMENT_CHARS.iter().cycle().skip(index as usize);
    while start < chars.len() {
        let end = (start + size.next().copied().unwrap_or(4)).min(chars.len());
        fragments.push(chars[start..end].iter().collect());
        start = end;
    }
    fragments
}

/// The order streamed tool fragments go out in for OpenAI-style streams:
/// round robin over the tools, so the deltas of different indexes
/// interleave. Yields `(tool index, fragment index, fragment)`.
pub fn interleaved_fragments(tool_calls: u32) -> Vec<(u32, usize, String)> {
    let all: Vec<Vec<String>> = (0..tool_calls).map(argument_fragments).collect();
    let longest = all.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for position in 0..longest {
        for (tool, fragments) in all.iter().enumerate() {
            if let Some(fragment) = fragments.get(position) {
                out.push((tool as u32, position, fragment.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_concatenate_to_arguments_that_parse() {
        for index in 0..5 {
            let joined: String = argument_fragments(index).concat();
            assert_eq!(joined, tool_arguments(index));
            let parsed: serde_json::Value =
                serde_json::from_str(&joined).unwrap_or(serde_json::Value::Null);
            assert_eq!(parsed["days"], index + 1);
            assert!(argument_fragments(index).len() > 10);
        }
    }

    #[test]
    fn interleaving_alternates_tools_and_keeps_each_tools_order() {
        let order = interleaved_fragments(2);
        assert_eq!((order[0].0, order[1].0, order[2].0), (0, 1, 0));
        for tool in 0..2 {
            let joined: String = order
                .iter()
                .filter(|(t, _, _)| *t == tool)
                .map(|(_, _, f)| f.as_str())
                .collect();
            assert_eq!(joined, tool_arguments(tool));
        }
    }

    #[test]
    fn thinking_pieces_rebuild_the_text() {
        assert_eq!(thinking_pieces().concat(), THINKING_TEXT);
        assert_eq!(thinking_words(), 15);
    }

    #[test]
    fn stops_are_checked_against_the_protocol() {
        let extras = |stop| Extras {
            stop: Some(stop),
            ..Extras::default()
        };
        assert!(extras("refusal").check(Some(Api::Messages)).is_ok());
        assert!(
            extras("refusal")
                .check(Some(Api::ChatCompletions))
                .is_err_and(|e| e.contains("OpenAI finish_reason"))
        );
        assert!(extras("content_filter").check(None).is_err());
        assert!(extras("tool_calls").check(None).is_ok());
        assert_eq!(parse_stop("pause_turn"), Ok("pause_turn"));
        let tools = Extras {
            tool_calls: 1,
            ..Extras::default()
        };
        assert!(tools.check(Some(Api::Completions)).is_err());
        assert!(tools.check(Some(Api::ChatCompletions)).is_ok());
        assert!(parse_stop("done").is_err());
    }

    /// The mock's own answers through the runtime's converters: what the
    /// conformance tests expect of a converting gateway, checked without one.
    mod through_converters {
        use serde_json::{Value, json};

        use super::super::super::render::Answer;
        use super::super::super::usage::{Usage, answer_text};
        use super::super::super::{anthropic, openai};
        use super::*;
        use crate::convert::accumulate::{AnthropicStreamAccumulator, OpenAiStreamAccumulator};
        use crate::convert::anthropic_stream_to_openai::AnthropicToOpenAiStream;
        use crate::convert::openai_stream_to_anthropic::OpenAiToAnthropicStream;
        use crate::convert::response_anthropic_to_openai::anthropic_response_to_openai;
        use crate::convert::response_openai_to_anthropic::openai_response_to_anthropic;
        use crate::sse::{SseEvent, SseFramer};

        fn answer(extras: Extras) -> Answer<'static> {
            Answer {
                hash: 7,
                model: "m",
                usage: Usage::new(7, 16, None),
                chunks: 3,
                include_usage: true,
                extras,
            }
        }

        fn all_extras() -> Extras {
            Extras {
                tool_calls: 2,
                thinking: true,
                cache_read: 9000,
                cache_creation: 500,
                stop: None,
            }
        }

        fn events(bytes: &[u8]) -> Vec<SseEvent> {
            let mut framer = SseFramer::new();
            let mut out = Vec::new();
            framer.feed(bytes, &mut out);
            out
        }

        fn joined(events: &[super::super::super::stream::Event]) -> Vec<u8> {
            events.iter().flat_map(|e| e.bytes.to_vec()).collect()
        }

        fn parse(bytes: &[u8]) -> Value {
            serde_json::from_slice(bytes).unwrap_or(Value::Null)
        }

        #[test]
        fn anthropic_answer_converts_for_openai_clients_streamed_and_not() {
            let answer = answer(all_extras());
            let whole = anthropic_response_to_openai(&parse(&anthropic::json_body(&answer)), 1)
                .unwrap_or(Value::Null);
            let message = &whole["choices"][0]["message"];
            assert_eq!(message["content"], answer_text(16));
            assert_eq!(message["reasoning_content"], THINKING_TEXT);
            assert_eq!(message["tool_calls"][1]["id"], "toolu_mock_1");
            assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
            assert_eq!(whole["usage"]["prompt_tokens"], 9507);
            assert_eq!(
                whole["usage"]["prompt_tokens_details"]["cached_tokens"],
                9000
            );
            assert_eq!(whole["usage"]["completion_tokens"], 31);

            let mut converter = AnthropicToOpenAiStream::new(true, 1);
            let mut out = Vec::new();
            for event in events(&joined(&anthropic::stream_events(&answer))) {
                converter.push(&event, &mut out);
            }
            let mut accumulator = OpenAiStreamAccumulator::new();
            for event in events(&out) {
                accumulator.push(&event);
            }
            assert!(accumulator.is_done());
            assert_eq!(accumulator.response(), whole);
        }

        #[test]
        fn dashscope_answer_converts_for_openai_clients_streamed_and_not() {
            use crate::convert::dashscope::{
                DashScopeToOpenAiStream, dashscope_response_to_openai,
            };
            let answer = answer(all_extras());
            let whole = dashscope_response_to_openai(
                &parse(&super::super::super::dashscope::json_body(&answer, true)),
                "m",
                1,
            )
            .unwrap_or(Value::Null);
            assert_eq!(
                whole["choices"][0]["message"]["tool_calls"][0]["id"],
                "call_mock_0"
            );
            assert_eq!(
                whole["choices"][0]["message"]["reasoning_content"],
                THINKING_TEXT
            );
            assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
            assert_eq!(whole["usage"]["prompt_tokens"], 9507);
            assert_eq!(
                whole["usage"]["completion_tokens_details"]["reasoning_tokens"],
                15
            );
            for incremental in [true, false] {
                let mut converter = DashScopeToOpenAiStream::new(true, "m", 1, incremental);
                let mut out = Vec::new();
                let stream =
                    super::super::super::dashscope::stream_events(&answer, true, incremental);
                for event in events(&joined(&stream)) {
                    converter.push(&event, &mut out);
                }
                let mut accumulator = OpenAiStreamAccumulator::new();
                for event in events(&out) {
                    accumulator.push(&event);
                }
                assert_eq!(accumulator.response(), whole, "incremental {incremental}");
            }
        }

        #[test]
        fn openai_answer_converts_for_anthropic_clients_streamed_and_not() {
            let answer = answer(all_extras());
            let whole = openai_response_to_anthropic(&parse(&openai::json_body(
                openai::Flavor::Chat,
                &answer,
            )))
            .unwrap_or(Value::Null);
            let types: Vec<&str> = whole["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["type"].as_str())
                .collect();
            assert_eq!(types, ["thinking", "text", "tool_use", "tool_use"]);
            assert_eq!(
                whole["content"][2]["input"],
                parse(tool_arguments(0).as_bytes())
            );
            assert_eq!(whole["stop_reason"], "tool_use");
            assert_eq!(
                whole["usage"],
                json!({"input_tokens": 7, "output_tokens": 31, "cache_read_input_tokens": 9000, "cache_creation_input_tokens": 500})
            );

            let mut converter = OpenAiToAnthropicStream::new();
            let mut out = Vec::new();
            for event in events(&joined(&openai::stream_events(
                openai::Flavor::Chat,
                &answer,
            ))) {
                converter.push(&event, &mut out);
            }
            converter.finish(&mut out);
            let mut accumulator = AnthropicStreamAccumulator::new();
            for event in events(&out) {
                accumulator.push(&event);
            }
            assert!(accumulator.is_stopped());
            let streamed = accumulator.message();
            assert_eq!(streamed["content"], whole["content"]);
            assert_eq!(streamed["stop_reason"], whole["stop_reason"]);
            assert_eq!(streamed["usage"], whole["usage"]);
        }
    }
}
