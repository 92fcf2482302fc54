//! Closed tables between Anthropic `stop_reason`, OpenAI `finish_reason` and DashScope `finish_reason`.
//!
//! Every output is a member of the target enum, whatever the input: strict
//! clients (async-openai, the Anthropic SDK) reject unknown members. Unknown
//! inputs map to the target's plain "finished normally" member, documented
//! in each function.

/// Every Anthropic `stop_reason` the Messages API defines.
pub const ANTHROPIC_STOP_REASONS: [&str; 6] = [
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
];

/// Every OpenAI chat `finish_reason`.
pub const OPENAI_FINISH_REASONS: [&str; 5] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
];

/// Anthropic -> OpenAI. `end_turn`, `stop_sequence`, `pause_turn` -> `stop`;
/// `max_tokens` -> `length`; `tool_use` -> `tool_calls`; `refusal` ->
/// `content_filter`; anything else (future members) -> `stop`.
pub fn anthropic_to_openai(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI (or DashScope) -> Anthropic. `stop` -> `stop_sequence` when the
/// caller knows a stop sequence matched, else `end_turn`; `length` ->
/// `max_tokens`; `tool_calls`/`function_call` -> `tool_use`;
/// `content_filter` -> `refusal`; anything else -> `end_turn`.
pub fn openai_to_anthropic(finish_reason: &str, stop_sequence_matched: bool) -> &'static str {
    match finish_reason {
        "stop" if stop_sequence_matched => "stop_sequence",
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// DashScope -> OpenAI. DashScope streams `"null"` (a string) until the last
/// event: that and JSON null mean "not finished" (`None`). Its members
/// `stop`, `length`, `tool_calls` keep their names; anything else -> `stop`.
pub fn dashscope_to_openai(finish_reason: Option<&str>) -> Option<&'static str> {
    match finish_reason? {
        "null" | "" => None,
        "length" => Some("length"),
        "tool_calls" | "function_call" => Some("tool_calls"),
        "content_filter" | "data_inspection_failed" => Some("content_filter"),
        _ => Some("stop"),
    }
}

/// OpenAI -> DashScope: `length` and `tool_calls` keep their names, everything else -> `stop`.
pub fn openai_to_dashscope(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "length",
        "tool_calls" | "function_call" => "tool_calls",
        _ => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_anthropic_table() {
        let mapped: Vec<_> = ANTHROPIC_STOP_REASONS
            .iter()
            .map(|r| anthropic_to_openai(r))
            .collect();
        assert_eq!(
            mapped,
            [
                "stop",
                "length",
                "stop",
                "tool_calls",
                "stop",
                "content_filter"
            ]
        );
    }

    #[test]
    fn documented_openai_table() {
        let mapped: Vec<_> = OPENAI_FINISH_REASONS
            .iter()
            .map(|r| openai_to_anthropic(r, false))
            .collect();
        assert_eq!(
            mapped,
            ["end_turn", "max_tokens", "tool_use", "refusal", "tool_use"]
        );
        assert_eq!(openai_to_anthropic("stop", true), "stop_sequence");
    }

    #[test]
    fn every_input_lands_in_the_target_enum() {
        let inputs = ANTHROPIC_STOP_REASONS
            .iter()
            .chain(OPENAI_FINISH_REASONS.iter())
            .copied()
            .chain([
                "",
                "null",
                "unknown_future",
                "END_TURN",
                "model_context_window_exceeded",
            ]);
        for input in inputs {
            assert!(
                OPENAI_FINISH_REASONS.contains(&anthropic_to_openai(input)),
                "{input}"
            );
            for matched in [false, true] {
                assert!(
                    ANTHROPIC_STOP_REASONS.contains(&openai_to_anthropic(input, matched)),
                    "{input}"
                );
            }
            if let Some(mapped) = dashscope_to_openai(Some(input)) {
                assert!(OPENAI_FINISH_REASONS.contains(&mapped), "{input}");
            }
            assert!(["stop", "length", "tool_calls"].contains(&openai_to_dashscope(input)));
        }
        assert_eq!(dashscope_to_openai(Some("null")), None);
        assert_eq!(dashscope_to_openai(None), None);
    }
}
