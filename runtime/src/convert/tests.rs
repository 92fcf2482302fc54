//! Tests of the converters: exact mappings, recorded streams under random splits, and garbage input.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::accumulate::{AnthropicStreamAccumulator, OpenAiStreamAccumulator};
use super::anthropic_stream_to_openai::AnthropicToOpenAiStream;
use super::dashscope::{
    DashScopeToOpenAiStream, dashscope_request_to_openai, dashscope_response_to_openai,
    openai_request_to_dashscope, openai_response_to_dashscope,
};
use super::fixtures::*;
use super::openai_stream_to_anthropic::OpenAiToAnthropicStream;
use super::request_anthropic_to_openai::anthropic_request_to_openai;
use super::request_openai_to_anthropic::openai_request_to_anthropic;
use super::response_anthropic_to_openai::anthropic_response_to_openai;
use super::response_openai_to_anthropic::openai_response_to_anthropic;
use super::{WireFormat, stop_reason};
use crate::sse::{SseEvent, SseFramer};
use crate::usage::{Usage, UsageMeter};

const CREATED: u64 = 1_750_000_000;

/// One of the stream transducers, driven the way the proxy will drive it.
trait Transducer {
    fn push(&mut self, event: &SseEvent, out: &mut Vec<u8>);
    fn finish(&mut self, out: &mut Vec<u8>);
}

macro_rules! transducer {
    ($type:ty) => {
        impl Transducer for $type {
            fn push(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
                <$type>::push(self, event, out)
            }
            fn finish(&mut self, out: &mut Vec<u8>) {
                <$type>::finish(self, out)
            }
        }
    };
}
transducer!(AnthropicToOpenAiStream);
transducer!(OpenAiToAnthropicStream);
transducer!(DashScopeToOpenAiStream);

/// Frames `chunks` with the one SSE framer, converts every event, and returns the client bytes.
fn convert(transducer: &mut dyn Transducer, chunks: &[&[u8]]) -> Vec<u8> {
    let mut framer = SseFramer::new();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for chunk in chunks {
        framer.feed(chunk, &mut events);
        for event in events.drain(..) {
            transducer.push(&event, &mut out);
        }
    }
    transducer.finish(&mut out);
    out
}

fn events_of(bytes: &[u8]) -> Vec<SseEvent> {
    let mut events = Vec::new();
    SseFramer::new().feed(bytes, &mut events);
    events
}

fn json_events(bytes: &[u8]) -> Vec<Value> {
    events_of(bytes)
        .iter()
        .filter(|event| !super::is_done_marker(event))
        .map(|event| serde_json::from_str(&event.data).expect("converted events are JSON"))
        .collect()
}

fn split_at_points<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = points
        .iter()
        .map(|point| point % (bytes.len() + 1))
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for point in points {
        chunks.push(&bytes[start..point]);
        start = point;
    }
    chunks.push(&bytes[start..]);
    chunks
}

/// Tool `arguments` strings parsed, so `{"a": 1}` and `{"a":1}` compare equal.
fn with_parsed_arguments(mut response: Value) -> Value {
    if let Some(calls) = response
        .pointer_mut("/choices/0/message/tool_calls")
        .and_then(Value::as_array_mut)
    {
        for call in calls {
            let parsed: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or(""))
                    .unwrap_or(Value::Null);
            call["function"]["arguments"] = parsed;
        }
    }
    response
}

fn accumulate_openai(bytes: &[u8]) -> (Value, bool) {
    let mut accumulator = OpenAiStreamAccumulator::new();
    for event in events_of(bytes) {
        accumulator.push(&event);
    }
    (accumulator.response(), accumulator.is_done())
}

fn accumulate_anthropic(bytes: &[u8]) -> (Value, bool) {
    let mut accumulator = AnthropicStreamAccumulator::new();
    for event in events_of(bytes) {
        accumulator.push(&event);
    }
    (accumulator.message(), accumulator.is_stopped())
}

// ---- Anthropic upstream, OpenAI client ----

#[test]
fn anthropic_stream_to_openai_keeps_tool_indexes_ids_and_arguments() {
    let out = convert(
        &mut AnthropicToOpenAiStream::new(true, CREATED),
        &[ANTHROPIC_STREAM.as_bytes()],
    );
    let chunks = json_events(&out);
    let tool_deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|chunk| chunk.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert_eq!(tool_deltas[0]["index"], 0);
    assert_eq!(tool_deltas[0]["id"], "toolu_01A");
    assert_eq!(tool_deltas[0]["function"]["name"], "get_weather");
    let first_of_second = tool_deltas
        .iter()
        .find(|delta| delta["index"] == 1)
        .expect("a second tool index");
    assert_eq!(first_of_second["id"], "toolu_01B");
    assert!(
        tool_deltas
            .iter()
            .all(|delta| delta["index"] == 0 || delta["index"] == 1)
    );
    let arguments = |index: u64| -> Value {
        let joined: String = tool_deltas
            .iter()
            .filter(|delta| delta["index"] == index)
            .map(|delta| delta["function"]["arguments"].as_str().unwrap_or(""))
            .collect();
        serde_json::from_str(&joined).expect("arguments parse")
    };
    assert_eq!(
        arguments(0),
        json!({"location": "Paris", "unit": "celsius"})
    );
    assert_eq!(arguments(1), json!({"location": "Tokyo"}));
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")], "exactly one finish reason");
    assert!(out.ends_with(b"data: [DONE]\n\n"));
}

#[test]
fn openai_clients_see_thinking_only_as_reasoning_content() {
    let out = convert(
        &mut AnthropicToOpenAiStream::new(false, CREATED),
        &[ANTHROPIC_STREAM.as_bytes()],
    );
    let (response, done) = accumulate_openai(&out);
    assert!(done);
    let message = &response["choices"][0]["message"];
    assert_eq!(
        message["content"],
        "I'll check both cities: Paris & 東京 😀"
    );
    assert_eq!(
        message["reasoning_content"],
        "The user wants weather for two cities → two calls."
    );
    assert_eq!(
        message["thinking_blocks"],
        json!([
            {"type": "thinking", "thinking": "The user wants weather for two cities → two calls.", "signature": "EqQBCkgIARABGAIiQL+k/7Zz9x=="},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a+/=="}
        ])
    );
    for chunk in json_events(&out) {
        let content = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .unwrap_or("");
        assert!(
            !content.contains("weather for"),
            "thinking leaked into content: {chunk}"
        );
    }
}

#[test]
fn usage_chunk_only_when_the_client_asked_and_exactly_once() {
    for include_usage in [false, true] {
        let out = convert(
            &mut AnthropicToOpenAiStream::new(include_usage, CREATED),
            &[ANTHROPIC_STREAM.as_bytes()],
        );
        let usage_chunks: Vec<Value> = json_events(&out)
            .into_iter()
            .filter(|chunk| chunk["choices"] == json!([]))
            .collect();
        if include_usage {
            assert_eq!(usage_chunks.len(), 1);
            let usage = &usage_chunks[0]["usage"];
            assert_eq!(usage["prompt_tokens"], 9510);
            assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 9000);
            assert_eq!(usage["completion_tokens"], 50);
            assert_eq!(usage["total_tokens"], 9560);
        } else {
            assert!(usage_chunks.is_empty());
        }
    }
}

#[test]
fn anthropic_stream_reassembles_to_the_non_streaming_conversion() {
    let out = convert(
        &mut AnthropicToOpenAiStream::new(true, CREATED),
        &[ANTHROPIC_STREAM.as_bytes()],
    );
    let (streamed, _) = accumulate_openai(&out);
    let direct = anthropic_response_to_openai(&anthropic_response(), CREATED).unwrap();
    assert_eq!(
        with_parsed_arguments(streamed),
        with_parsed_arguments(direct)
    );
}

#[test]
fn signature_only_thinking_block_reaches_openai_clients_whole() {
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln/+==\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let out = convert(
        &mut AnthropicToOpenAiStream::new(false, CREATED),
        &[stream.as_bytes()],
    );
    let (response, _) = accumulate_openai(&out);
    let message = &response["choices"][0]["message"];
    assert_eq!(message["content"], "");
    assert!(message.get("reasoning_content").is_none());
    assert_eq!(
        message["thinking_blocks"],
        json!([{"type": "thinking", "thinking": "", "signature": "c2ln/+=="}])
    );
    assert_eq!(response["choices"][0]["finish_reason"], "stop");
}

#[test]
fn tool_results_come_first_in_their_user_turn() {
    let request = json!({"model": "m", "messages": [
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "also this"},
        {"role": "tool", "tool_call_id": "c1", "content": "done"}
    ]});
    let converted = openai_request_to_anthropic(&request, 100).unwrap();
    assert_eq!(
        converted["messages"][1]["content"],
        json!([{"type": "tool_result", "tool_use_id": "c1", "content": "done"}, {"type": "text", "text": "also this"}])
    );
}

#[test]
fn anthropic_response_to_openai_maps_everything() {
    let converted = anthropic_response_to_openai(&anthropic_response(), CREATED).unwrap();
    assert_eq!(converted["id"], "msg_01XY");
    assert_eq!(converted["model"], "claude-sonnet-4-5");
    assert_eq!(converted["choices"][0]["finish_reason"], "tool_calls");
    let calls = &converted["choices"][0]["message"]["tool_calls"];
    assert_eq!(calls[1]["id"], "toolu_01B");
    let arguments: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(converted["usage"]["prompt_tokens"], 9510);
    assert_eq!(converted["usage"]["total_tokens"], 9560);
}

#[test]
fn anthropic_error_event_becomes_an_openai_error_and_ends_the_stream() {
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let out = convert(
        &mut AnthropicToOpenAiStream::new(true, CREATED),
        &[stream.as_bytes()],
    );
    let events = json_events(&out);
    assert_eq!(events.last().unwrap()["error"]["message"], "Overloaded");
    assert!(!out.ends_with(b"[DONE]\n\n"));
}

#[test]
fn truncated_anthropic_stream_gets_no_done_but_keeps_partial_usage() {
    let cut = ANTHROPIC_STREAM.find("\"index\":3,\"delta\"").unwrap();
    let mut transducer = AnthropicToOpenAiStream::new(true, CREATED);
    let out = convert(&mut transducer, &[&ANTHROPIC_STREAM.as_bytes()[..cut]]);
    assert!(!out.windows(6).any(|w| w == b"[DONE]"));
    assert_eq!(transducer.usage().cache_read, 9000);
    let mut meter = UsageMeter::new(WireFormat::Anthropic);
    for event in events_of(&ANTHROPIC_STREAM.as_bytes()[..cut]) {
        meter.observe(&event);
    }
    assert_eq!((meter.usage().input, meter.usage().output), (10, 1));
}

// ---- OpenAI upstream, Anthropic client ----

#[test]
fn openai_stream_to_anthropic_routes_interleaved_tool_deltas_to_their_blocks() {
    let out = convert(
        &mut OpenAiToAnthropicStream::new(),
        &[OPENAI_STREAM.as_bytes()],
    );
    let events = json_events(&out);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(&kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);
    let starts: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .collect();
    let start_types: Vec<&Value> = starts.iter().map(|e| &e["content_block"]["type"]).collect();
    assert_eq!(
        start_types,
        [
            &json!("thinking"),
            &json!("text"),
            &json!("tool_use"),
            &json!("tool_use")
        ]
    );
    assert_eq!(starts[2]["content_block"]["input"], json!({}));
    let fragments = |index: u64| -> String {
        events
            .iter()
            .filter(|e| {
                e["type"] == "content_block_delta"
                    && e["index"] == index
                    && e["delta"]["type"] == "input_json_delta"
            })
            .map(|e| e["delta"]["partial_json"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(fragments(2), "{\"location\": \"Paris\"}");
    assert_eq!(fragments(3), "{\"tz\": \"Asia/Tokyo\"}");
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 10, "cache_read_input_tokens": 9000, "cache_creation_input_tokens": 500, "output_tokens": 50})
    );
    // Every named event's `event:` line matches its `type`.
    for event in events_of(&out) {
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(event.event.as_deref(), data["type"].as_str());
    }
}

#[test]
fn no_empty_leading_text_block() {
    let stream = concat!(
        r#"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        "\n\n",
        r#"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}"#,
        "\n\n",
        r#"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        "\n\n",
        "data: [DONE]\n\n",
    );
    let out = convert(&mut OpenAiToAnthropicStream::new(), &[stream.as_bytes()]);
    let starts: Vec<Value> = json_events(&out)
        .into_iter()
        .filter(|e| e["type"] == "content_block_start")
        .collect();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["index"], 0);
    assert_eq!(starts[0]["content_block"]["type"], "tool_use");
}

#[test]
fn openai_stream_reassembles_to_the_non_streaming_conversion() {
    let out = convert(
        &mut OpenAiToAnthropicStream::new(),
        &[OPENAI_STREAM.as_bytes()],
    );
    let (streamed, stopped) = accumulate_anthropic(&out);
    assert!(stopped);
    assert_eq!(
        streamed,
        openai_response_to_anthropic(&openai_response()).unwrap()
    );
}

#[test]
fn openai_stream_without_done_is_completed_after_a_finish_reason_only() {
    let without_done = OPENAI_STREAM.trim_end_matches("data: [DONE]\n\n");
    let out = convert(
        &mut OpenAiToAnthropicStream::new(),
        &[without_done.as_bytes()],
    );
    assert!(json_events(&out).last().unwrap()["type"] == "message_stop");
    let cut = OPENAI_STREAM.find("get_time").unwrap();
    let out = convert(
        &mut OpenAiToAnthropicStream::new(),
        &[&OPENAI_STREAM.as_bytes()[..cut]],
    );
    assert!(
        json_events(&out)
            .iter()
            .all(|e| e["type"] != "message_stop")
    );
}

#[test]
fn openai_error_chunk_becomes_an_anthropic_error_event() {
    let stream = "data: {\"error\":{\"message\":\"rate limited\",\"type\":\"rate_limit_error\",\"code\":\"rate_limit_exceeded\"}}\n\n";
    let out = convert(&mut OpenAiToAnthropicStream::new(), &[stream.as_bytes()]);
    let events = events_of(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.as_deref(), Some("error"));
    let data: Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(
        data,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "rate limited"}})
    );
}

#[test]
fn round_trip_anthropic_through_openai_preserves_signatures_byte_for_byte() {
    let openai = convert(
        &mut AnthropicToOpenAiStream::new(true, CREATED),
        &[ANTHROPIC_STREAM.as_bytes()],
    );
    let back = convert(&mut OpenAiToAnthropicStream::new(), &[&openai]);
    let (message, _) = accumulate_anthropic(&back);
    let original = anthropic_response();
    assert_eq!(message["content"][0], original["content"][0]);
    let mut expected_redacted = false;
    for block in message["content"].as_array().unwrap() {
        expected_redacted |= block == &original["content"][1];
    }
    assert!(expected_redacted, "redacted_thinking kept: {message}");
    assert_eq!(message["usage"], original["usage"]);
}

#[test]
fn openai_response_to_anthropic_maps_everything() {
    let converted = openai_response_to_anthropic(&openai_response()).unwrap();
    assert_eq!(converted["stop_reason"], "tool_use");
    assert_eq!(
        converted["content"][0],
        json!({"type": "thinking", "thinking": "Two cities, two calls.", "signature": ""})
    );
    assert_eq!(
        converted["content"][2]["input"],
        json!({"location": "Paris"})
    );
    assert_eq!(converted["content"][3]["id"], "call_B");
    assert_eq!(converted["usage"]["input_tokens"], 10);
    let garbage = json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{not json"}}]}}]});
    assert!(openai_response_to_anthropic(&garbage).is_err());
}

// ---- Requests ----

#[test]
fn openai_request_normalises_to_anthropic() {
    let request = json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {"role": "user", "content": [
                {"type": "text", "text": "Here is a map"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Tokyo\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Thanks"}
        ],
        "stop": "END", "temperature": 1.5, "stream": true, "stream_options": {"include_usage": true},
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
        "tool_choice": "required", "parallel_tool_calls": false
    });
    let converted = openai_request_to_anthropic(&request, 4096).unwrap();
    assert_eq!(
        converted,
        json!({
            "model": "claude-sonnet-4-5",
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Answer in French."}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "text", "text": "Here is a map"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}
                ]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"location": "Tokyo"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"},
                    {"type": "text", "text": "Thanks"}
                ]}
            ],
            "max_tokens": 4096,
            "temperature": 1.0,
            "stop_sequences": ["END"],
            "stream": true,
            "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true}
        })
    );
}

#[test]
fn openai_tool_choice_and_limits_map() {
    let base = |extra: Value| {
        let mut request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}]});
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        openai_request_to_anthropic(&request, 1000).unwrap()
    };
    assert_eq!(
        base(json!({"tool_choice": "auto"}))["tool_choice"],
        json!({"type": "auto"})
    );
    assert_eq!(
        base(json!({"tool_choice": "none"}))["tool_choice"],
        json!({"type": "none"})
    );
    assert_eq!(
        base(json!({"tool_choice": {"type": "function", "function": {"name": "f"}}}))["tool_choice"],
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(
        base(json!({"max_tokens": 10, "max_completion_tokens": 20}))["max_tokens"],
        20
    );
    assert_eq!(base(json!({"max_tokens": 10}))["max_tokens"], 10);
    assert_eq!(
        base(json!({}))["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
    let thinking =
        base(json!({"reasoning_effort": "medium", "max_tokens": 8000, "temperature": 0.3}));
    assert_eq!(
        thinking["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert!(thinking.get("temperature").is_none());
    assert!(
        base(json!({"reasoning_effort": "high", "max_tokens": 500}))
            .get("thinking")
            .is_none()
    );
    let request = json!({"messages": [{"role": "user", "content": "x"}], "n": 2});
    assert!(openai_request_to_anthropic(&request, 100).is_err());
}

#[test]
fn thinking_blocks_replay_to_anthropic_unchanged_and_unsigned_reasoning_is_dropped() {
    let request = json!({"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "thoughts",
         "thinking_blocks": [{"type": "thinking", "thinking": "thoughts", "signature": "sig+/=="},
                             {"type": "redacted_thinking", "data": "REDACTED=="}]},
        {"role": "user", "content": "more"},
        {"role": "assistant", "content": "b", "reasoning_content": "unsigned"}
    ]});
    let converted = openai_request_to_anthropic(&request, 100).unwrap();
    assert_eq!(
        converted["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "thoughts", "signature": "sig+/=="},
            {"type": "redacted_thinking", "data": "REDACTED=="},
            {"type": "text", "text": "a"}
        ])
    );
    assert_eq!(
        converted["messages"][3]["content"],
        json!([{"type": "text", "text": "b"}])
    );
}

#[test]
fn anthropic_request_converts_to_openai() {
    let request = json!({
        "model": "gpt-4o", "max_tokens": 256, "stream": true, "stop_sequences": ["###"], "top_k": 5,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use metric."}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "text", "text": "Calling."},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "ok"}]},
                {"type": "text", "text": "go on"}
            ]}
        ],
        "tools": [{"name": "f", "description": "F", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": true}
    });
    assert_eq!(
        anthropic_request_to_openai(&request).unwrap(),
        json!({
            "model": "gpt-4o", "max_tokens": 256, "stop": ["###"],
            "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "Be brief.\nUse metric."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
                ]},
                {"role": "assistant", "content": "Calling.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
                {"role": "user", "content": "go on"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "description": "F", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": false
        })
    );
    let server_tool =
        json!({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
    assert!(anthropic_request_to_openai(&server_tool).is_err());
}

// ---- DashScope ----

#[test]
fn dashscope_stream_to_openai_reassembles_to_the_non_streaming_conversion() {
    let out = convert(
        &mut DashScopeToOpenAiStream::new(true, "qwen-plus", CREATED, true),
        &[DASHSCOPE_STREAM.as_bytes()],
    );
    let (streamed, done) = accumulate_openai(&out);
    assert!(done);
    let direct = dashscope_response_to_openai(&dashscope_response(), "qwen-plus", CREATED).unwrap();
    assert_eq!(
        with_parsed_arguments(streamed.clone()),
        with_parsed_arguments(direct)
    );
    assert_eq!(
        streamed["choices"][0]["message"]["reasoning_content"],
        "Thinking."
    );
    assert_eq!(streamed["usage"]["prompt_tokens"], 1200);
    assert_eq!(
        streamed["usage"]["prompt_tokens_details"]["cached_tokens"],
        1024
    );
    assert_eq!(streamed["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn dashscope_cumulative_output_is_cut_into_deltas() {
    let stream = concat!(
        "data:{\"output\":{\"choices\":[{\"message\":{\"content\":\"Hel\"},\"finish_reason\":\"null\"}]},\"request_id\":\"r\"}\n\n",
        "data:{\"output\":{\"choices\":[{\"message\":{\"content\":\"Hello\"},\"finish_reason\":\"stop\"}]},\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}\n\n",
    );
    let out = convert(
        &mut DashScopeToOpenAiStream::new(false, "qwen", CREATED, false),
        &[stream.as_bytes()],
    );
    let (response, done) = accumulate_openai(&out);
    assert!(done);
    assert_eq!(response["choices"][0]["message"]["content"], "Hello");
    assert_eq!(response["choices"][0]["finish_reason"], "stop");
    assert!(response.get("usage").is_none());
}

#[test]
fn dashscope_error_event_becomes_an_openai_error() {
    let stream = "event:error\ndata:{\"code\":\"Throttling.RateQuota\",\"message\":\"slow\",\"request_id\":\"r\"}\n\n";
    let out = convert(
        &mut DashScopeToOpenAiStream::new(true, "qwen", CREATED, true),
        &[stream.as_bytes()],
    );
    let events = json_events(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["error"]["code"], "Throttling.RateQuota");
}

#[test]
fn dashscope_requests_convert_both_ways() {
    let request = json!({"model": "qwen-plus", "stream": true, "max_tokens": 100, "reasoning_effort": "low", "stop": "x",
        "messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                     {"role": "tool", "tool_call_id": "c1", "content": "r"}],
        "tools": [{"type": "function", "function": {"name": "f"}}]});
    let native = openai_request_to_dashscope(&request).unwrap();
    assert_eq!(
        native["input"]["messages"][0],
        json!({"role": "system", "content": "sys"})
    );
    assert_eq!(
        native["input"]["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert_eq!(native["input"]["messages"][2]["tool_call_id"], "c1");
    assert_eq!(native["parameters"]["result_format"], "message");
    assert_eq!(native["parameters"]["incremental_output"], true);
    assert_eq!(native["parameters"]["enable_thinking"], true);
    assert_eq!(native["parameters"]["stop"], json!(["x"]));
    assert_eq!(native["parameters"]["max_tokens"], 100);
    let back = dashscope_request_to_openai(&native, true).unwrap();
    assert_eq!(
        back["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert_eq!(back["stream_options"], json!({"include_usage": true}));
    assert_eq!(back["tools"], request["tools"]);
    let image = json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]});
    assert!(openai_request_to_dashscope(&image).is_err());
}

#[test]
fn dashscope_and_openai_responses_round_trip_usage() {
    let openai = dashscope_response_to_openai(&dashscope_response(), "qwen-plus", CREATED).unwrap();
    let native = openai_response_to_dashscope(&openai).unwrap();
    assert_eq!(
        Usage::from_response(WireFormat::DashScope, &native),
        Usage::from_response(WireFormat::DashScope, &dashscope_response())
    );
    assert_eq!(
        native["output"]["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(native["request_id"], "req-7");
}

// ---- Usage equality between stream and non-stream ----

#[test]
fn usage_totals_equal_between_stream_and_non_stream() {
    let cases: [(WireFormat, &str, Value); 3] = [
        (
            WireFormat::Anthropic,
            ANTHROPIC_STREAM,
            anthropic_response(),
        ),
        (WireFormat::OpenAi, OPENAI_STREAM, openai_response()),
        (
            WireFormat::DashScope,
            DASHSCOPE_STREAM,
            dashscope_response(),
        ),
    ];
    for (format, stream, response) in cases {
        let mut meter = UsageMeter::new(format);
        for event in events_of(stream.as_bytes()) {
            meter.observe(&event);
        }
        assert_eq!(
            meter.usage(),
            Usage::from_response(format, &response),
            "{format:?}"
        );
    }
    let anthropic = Usage::from_response(WireFormat::Anthropic, &anthropic_response());
    assert_eq!(anthropic.total, 9560);
}

#[test]
fn converted_streams_report_the_same_usage_to_the_client_as_the_upstream() {
    let out = convert(
        &mut AnthropicToOpenAiStream::new(true, CREATED),
        &[ANTHROPIC_STREAM.as_bytes()],
    );
    let mut client_meter = UsageMeter::new(WireFormat::OpenAi);
    for event in events_of(&out) {
        client_meter.observe(&event);
    }
    assert_eq!(
        client_meter.usage(),
        Usage::from_response(WireFormat::Anthropic, &anthropic_response())
    );
    let out = convert(
        &mut OpenAiToAnthropicStream::new(),
        &[OPENAI_STREAM.as_bytes()],
    );
    let mut client_meter = UsageMeter::new(WireFormat::Anthropic);
    for event in events_of(&out) {
        client_meter.observe(&event);
    }
    let upstream = Usage::from_response(WireFormat::OpenAi, &openai_response());
    // Anthropic has no reasoning-token field; everything it carries is equal.
    assert_eq!(
        client_meter.usage(),
        Usage {
            reasoning: 0,
            ..upstream
        }
    );
}

#[test]
fn stop_reasons_stream_through_the_closed_tables() {
    for reason in stop_reason::ANTHROPIC_STOP_REASONS
        .iter()
        .chain(&["weird_new_reason"])
    {
        let stream = format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"m\",\"model\":\"c\"}}}}\n\n\
             event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{reason}\"}},\"usage\":{{\"output_tokens\":1}}}}\n\n\
             event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
        );
        let out = convert(
            &mut AnthropicToOpenAiStream::new(false, CREATED),
            &[stream.as_bytes()],
        );
        let (response, _) = accumulate_openai(&out);
        let finish = response["choices"][0]["finish_reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            stop_reason::OPENAI_FINISH_REASONS.contains(&finish.as_str()),
            "{reason} -> {finish}"
        );
    }
    for reason in stop_reason::OPENAI_FINISH_REASONS.iter().chain(&["weird"]) {
        let stream = format!(
            "data: {{\"id\":\"c\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"{reason}\"}}]}}\n\ndata: [DONE]\n\n"
        );
        let out = convert(&mut OpenAiToAnthropicStream::new(), &[stream.as_bytes()]);
        let (message, _) = accumulate_anthropic(&out);
        let stop = message["stop_reason"].as_str().unwrap().to_owned();
        assert!(
            stop_reason::ANTHROPIC_STOP_REASONS.contains(&stop.as_str()),
            "{reason} -> {stop}"
        );
    }
}

// ---- Properties ----

fn transducers() -> Vec<(Box<dyn Transducer>, &'static str)> {
    vec![
        (
            Box::new(AnthropicToOpenAiStream::new(true, CREATED)),
            ANTHROPIC_STREAM,
        ),
        (Box::new(OpenAiToAnthropicStream::new()), OPENAI_STREAM),
        (
            Box::new(DashScopeToOpenAiStream::new(
                true,
                "qwen-plus",
                CREATED,
                true,
            )),
            DASHSCOPE_STREAM,
        ),
    ]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("message_start"),
            Just("content_block_start"),
            Just("content_block_delta"),
            Just("content_block_stop"),
            Just("message_delta"),
            Just("message_stop"),
            Just("tool_use"),
            Just("thinking"),
            Just("text"),
            Just("input_json_delta"),
            Just("thinking_delta"),
            Just("signature_delta"),
            Just("redacted_thinking"),
            Just("null"),
            Just("stop")
        ]
        .prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("type"),
                        Just("index"),
                        Just("delta"),
                        Just("content_block"),
                        Just("message"),
                        Just("usage"),
                        Just("choices"),
                        Just("tool_calls"),
                        Just("function"),
                        Just("arguments"),
                        Just("output"),
                        Just("error"),
                        Just("finish_reason"),
                        Just("content"),
                        Just("reasoning_content"),
                        Just("input_tokens"),
                        Just("thinking_blocks"),
                        Just("partial_json"),
                        Just("stop_reason"),
                        Just("code")
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn random_chunk_splits_give_identical_output(points in prop::collection::vec(any::<usize>(), 0..40)) {
        for (mut transducer, stream) in transducers() {
            let whole = convert(transducer.as_mut(), &[stream.as_bytes()]);
            let fresh = transducers().into_iter().find(|(_, s)| *s == stream).map(|(t, _)| t);
            let Some(mut fresh) = fresh else { unreachable!() };
            let split = convert(fresh.as_mut(), &split_at_points(stream.as_bytes(), &points));
            prop_assert_eq!(&split, &whole);
        }
    }

    #[test]
    fn split_streams_reassemble_to_the_non_streaming_conversions(points in prop::collection::vec(any::<usize>(), 0..40)) {
        let out = convert(&mut AnthropicToOpenAiStream::new(true, CREATED), &split_at_points(ANTHROPIC_STREAM.as_bytes(), &points));
        let direct = anthropic_response_to_openai(&anthropic_response(), CREATED).unwrap();
        prop_assert_eq!(with_parsed_arguments(accumulate_openai(&out).0), with_parsed_arguments(direct));
        let out = convert(&mut OpenAiToAnthropicStream::new(), &split_at_points(OPENAI_STREAM.as_bytes(), &points));
        prop_assert_eq!(accumulate_anthropic(&out).0, openai_response_to_anthropic(&openai_response()).unwrap());
    }

    #[test]
    fn usage_meters_are_split_invariant(points in prop::collection::vec(any::<usize>(), 0..40)) {
        for (format, stream) in [(WireFormat::Anthropic, ANTHROPIC_STREAM), (WireFormat::OpenAi, OPENAI_STREAM), (WireFormat::DashScope, DASHSCOPE_STREAM)] {
            let mut framer = SseFramer::new();
            let mut meter = UsageMeter::new(format);
            let mut events = Vec::new();
            for chunk in split_at_points(stream.as_bytes(), &points) {
                framer.feed(chunk, &mut events);
                for event in events.drain(..) {
                    meter.observe(&event);
                }
            }
            let mut whole = UsageMeter::new(format);
            for event in events_of(stream.as_bytes()) {
                whole.observe(&event);
            }
            prop_assert_eq!(meter.usage(), whole.usage());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for (mut transducer, _) in transducers() {
            let out = convert(transducer.as_mut(), &[&bytes]);
            // Whatever came in, what goes out is well-formed SSE.
            prop_assert!(out.is_empty() || out.ends_with(b"\n\n"));
        }
    }

    #[test]
    fn random_json_never_panics(values in prop::collection::vec(arbitrary_json(), 0..12), names in prop::collection::vec(prop::option::of("[a-z_]{0,20}"), 12)) {
        for (mut transducer, _) in transducers() {
            let mut out = Vec::new();
            for (value, name) in values.iter().zip(&names) {
                let event = SseEvent { event: name.clone(), data: value.to_string(), id: None };
                transducer.push(&event, &mut out);
            }
            transducer.finish(&mut out);
            for event in events_of(&out) {
                prop_assert!(event.data == "[DONE]" || serde_json::from_str::<Value>(&event.data).is_ok());
            }
        }
        for format in [WireFormat::Anthropic, WireFormat::OpenAi, WireFormat::DashScope] {
            let mut meter = UsageMeter::new(format);
            for value in &values {
                meter.observe(&SseEvent { event: None, data: value.to_string(), id: None });
            }
        }
        for value in &values {
            let _ = openai_request_to_anthropic(value, 1024);
            let _ = anthropic_request_to_openai(value);
            let _ = openai_request_to_dashscope(value);
            let _ = dashscope_request_to_openai(value, true);
            let _ = anthropic_response_to_openai(value, CREATED);
            let _ = openai_response_to_anthropic(value);
            let _ = dashscope_response_to_openai(value, "m", CREATED);
            let _ = openai_response_to_dashscope(value);
            let mut request = value.clone();
            let _ = crate::usage::request_stream_usage(&mut request);
        }
    }
}
