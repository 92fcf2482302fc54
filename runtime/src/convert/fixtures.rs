//! Recorded upstream streams and the non-streaming responses with the same content, for the converter tests.

use serde_json::{Value, json};

/// Anthropic: thinking with a signature, a redacted block, text, then two
/// `tool_use` blocks whose `input_json_delta` fragments split keys and
/// values at odd points; usage with cache tokens over two cumulative `message_delta`s.
pub const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"msg_01XY","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":500,"cache_read_input_tokens":9000,"output_tokens":1}}}"#,
    "\n\n",
    "event: content_block_start\r\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
    "\r\n\r\n",
    "event: ping\n",
    r#"data: {"type": "ping"}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants weather "}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"for two cities → two calls."}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkgIARABGAIiQL+k/7Zz9x=="}}"#,
    "\n\n",
    "event: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":0}"#,
    "\n\n",
    "event: content_block_start\n",
    r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a+/=="}}"#,
    "\n\n",
    "event: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":1}"#,
    "\n\n",
    "event: content_block_start\n",
    r#"data: {"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"I'll check both "}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"cities: Paris & 東京 😀"}}"#,
    "\n\n",
    "event: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":2}"#,
    "\n\n",
    "event: content_block_start\n",
    r#"data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":""}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"loc"}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"ation\": \"Par"}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"is\", \"unit\": \"c"}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"elsius\"}"}}"#,
    "\n\n",
    "event: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":3}"#,
    "\n\n",
    "event: content_block_start\n",
    r#"data: {"type":"content_block_start","index":4,"content_block":{"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{}}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":"{\"location\""}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":": \"Tok"}}"#,
    "\n\n",
    "event: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":"yo\"}"}}"#,
    "\n\n",
    "event: content_block_stop\n",
    r#"data: {"type":"content_block_stop","index":4}"#,
    "\n\n",
    "event: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40}}"#,
    "\n\n",
    "event: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":500,"cache_read_input_tokens":9000,"output_tokens":50}}"#,
    "\n\n",
    "event: some_future_event\n",
    r#"data: {"type":"some_future_event"}"#,
    "\n\n",
    "event: message_stop\n",
    r#"data: {"type":"message_stop"}"#,
    "\n\n",
);

/// The non-streaming Anthropic response with the content of [`ANTHROPIC_STREAM`].
pub fn anthropic_response() -> Value {
    json!({
        "id": "msg_01XY", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "The user wants weather for two cities → two calls.", "signature": "EqQBCkgIARABGAIiQL+k/7Zz9x=="},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a+/=="},
            {"type": "text", "text": "I'll check both cities: Paris & 東京 😀"},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "Paris", "unit": "celsius"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"location": "Tokyo"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 500, "cache_read_input_tokens": 9000, "output_tokens": 50}
    })
}

/// OpenAI: reasoning, text, then two tool calls whose argument deltas
/// interleave (0, 1, 0, 1), the finish reason, and the usage chunk.
pub const OPENAI_STREAM: &str = concat!(
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"reasoning_content":"Two cities, "},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"reasoning_content":"two calls."},"finish_reason":null}],"usage":null}"#,
    "\r\n\r\n",
    ": keep-alive\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Checking "},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"both — 東京."},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\": \"Asia/"}}]},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \"Paris\"}"}}]},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"Tokyo\"}"}}]},"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9510,"completion_tokens":50,"total_tokens":9560,"prompt_tokens_details":{"cached_tokens":9000,"cache_creation_input_tokens":500},"completion_tokens_details":{"reasoning_tokens":12}}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

/// The non-streaming OpenAI response with the content of [`OPENAI_STREAM`].
pub fn openai_response() -> Value {
    json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking both — 東京.",
                "reasoning_content": "Two cities, two calls.",
                "tool_calls": [
                    {"id": "call_A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}},
                    {"id": "call_B", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"Asia/Tokyo\"}"}}
                ]
            },
            "finish_reason": "tool_calls", "logprobs": null
        }],
        "usage": {"prompt_tokens": 9510, "completion_tokens": 50, "total_tokens": 9560,
                  "prompt_tokens_details": {"cached_tokens": 9000, "cache_creation_input_tokens": 500},
                  "completion_tokens_details": {"reasoning_tokens": 12}}
    })
}

/// DashScope native, incremental output: reasoning, text, one tool call in
/// two fragments, then the finishing event; usage (cumulative) on every event.
pub const DASHSCOPE_STREAM: &str = concat!(
    "id:1\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"Think","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":1201,"input_tokens":1200,"output_tokens":1,"prompt_tokens_details":{"cached_tokens":1024}},"request_id":"req-7"}"#,
    "\n\n",
    "id:2\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"ing.","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":1203,"input_tokens":1200,"output_tokens":3,"prompt_tokens_details":{"cached_tokens":1024}},"request_id":"req-7"}"#,
    "\n\n",
    "id:3\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"Hello, ","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":1210,"input_tokens":1200,"output_tokens":10,"prompt_tokens_details":{"cached_tokens":1024}},"request_id":"req-7"}"#,
    "\n\n",
    "id:4\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"世界","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":1212,"input_tokens":1200,"output_tokens":12,"prompt_tokens_details":{"cached_tokens":1024}},"request_id":"req-7"}"#,
    "\n\n",
    "id:5\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"","role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]},"finish_reason":"null"}]},"usage":{"total_tokens":1220,"input_tokens":1200,"output_tokens":20,"prompt_tokens_details":{"cached_tokens":1024}},"request_id":"req-7"}"#,
    "\n\n",
    "id:6\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"","role":"assistant","tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":" \"x\"}"}}]},"finish_reason":"null"}]},"usage":{"total_tokens":1225,"input_tokens":1200,"output_tokens":25,"prompt_tokens_details":{"cached_tokens":1024}},"request_id":"req-7"}"#,
    "\n\n",
    "id:7\nevent:result\n:HTTP_STATUS/200\n",
    r#"data:{"output":{"choices":[{"message":{"content":"","role":"assistant"},"finish_reason":"tool_calls"}]},"usage":{"total_tokens":1230,"input_tokens":1200,"output_tokens":30,"prompt_tokens_details":{"cached_tokens":1024},"output_tokens_details":{"reasoning_tokens":3}},"request_id":"req-7"}"#,
    "\n\n",
);

/// The non-streaming DashScope response with the content of [`DASHSCOPE_STREAM`].
pub fn dashscope_response() -> Value {
    json!({
        "output": {"choices": [{"finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Hello, 世界", "reasoning_content": "Thinking.",
            "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}}]
        }}]},
        "usage": {"total_tokens": 1230, "input_tokens": 1200, "output_tokens": 30,
                  "prompt_tokens_details": {"cached_tokens": 1024}, "output_tokens_details": {"reasoning_tokens": 3}},
        "request_id": "req-7"
    })
}
