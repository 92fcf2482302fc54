"""Conformance of a converting gateway: the official OpenAI and Anthropic Python SDKs against every upstream protocol.

Run by tests/tests/conformance.rs with GATESMITH_BASE_URL set to the origin of
a gateway built from tests/specs/conformance, whose upstreams are one
standalone gatesmith-mock (default settings: 16 completion tokens, 8 chunks).
Each case prints `ok <case>` or `FAILED <case>: <why>`; the script runs every
case, then exits 1 if any failed. CONFORMANCE_ONLY (a substring) limits the
cases, for debugging.

Expected values are the mock's, documented in runtime/src/mock/extras.rs and
usage.rs: the answer is N words of a fixed phrase, a one-message prompt "hi"
costs 3 + (3 + 1) = 7 tokens, thinking is a fixed 15-word text (15 reasoning
tokens, counted in the output), tool call i has a fixed name, id and arguments.
"""

import json
import os
import sys
import traceback

import anthropic
import openai

BASE = os.environ["GATESMITH_BASE_URL"].rstrip("/")
ONLY = os.environ.get("CONFORMANCE_ONLY", "")

ANSWER_WORDS = (
    "This is a deterministic answer from the gatesmith mock provider "
    "with real framing and usage numbers."
).split(" ")
COMPLETION_TOKENS = 16
PROMPT_TOKENS = 7  # 3 priming + 3 framing + ceil(len("hi") / 4)
THINKING_TEXT = (
    "The user wants the deterministic answer; I will give it and call the requested tools."
)
THINKING_TOKENS = 15
THINKING_SIGNATURE = "EqQBCkgIBRABGAIiQMock+Signature/Of+The/Thinking+Block==ZmFrZS1zaWduYXR1cmU="
TOOL_NAMES = ["get_weather", "get_time", "search_docs", "convert_units"]
CACHE_READ = 9000
CACHE_CREATION = 500

# (client, upstream) pairs: base path and upstream protocol.
PAIRS = [
    ("openai", "openai", "/oa-openai"),
    ("openai", "anthropic", "/oa-anthropic"),
    ("openai", "dashscope", "/oa-dashscope"),
    ("anthropic", "anthropic", "/an-anthropic"),
    ("anthropic", "openai", "/an-openai"),
]

# Stop reasons the mock can be told to use, per upstream protocol, and what
# each client must see (the documented closed tables, runtime/src/convert/stop_reason.rs).
ANTHROPIC_TO_OPENAI = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
}
OPENAI_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "function_call": "tool_use",
}
DASHSCOPE_TO_OPENAI = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}


def stop_table(client, upstream):
    if client == upstream:
        stops = ANTHROPIC_TO_OPENAI if upstream == "anthropic" else OPENAI_TO_ANTHROPIC
        return {stop: stop for stop in stops}
    return {
        ("openai", "anthropic"): ANTHROPIC_TO_OPENAI,
        ("anthropic", "openai"): OPENAI_TO_ANTHROPIC,
        ("openai", "dashscope"): DASHSCOPE_TO_OPENAI,
    }[(client, upstream)]


def answer_text(words=COMPLETION_TOKENS):
    return " ".join(ANSWER_WORDS[i % len(ANSWER_WORDS)] for i in range(words))


def tool_id(upstream, index):
    return f"toolu_mock_{index}" if upstream == "anthropic" else f"call_mock_{index}"


def tool_arguments(index):
    return {
        "location": f'Zürich "Altstadt" #{index}',
        "days": index + 1,
        "hours": [9, 12, 18],
        "options": {"units": "metric", "detail": index % 2 == 0},
    }


OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
    for name in TOOL_NAMES[:2]
]
ANTHROPIC_TOOLS = [
    {
        "name": name,
        "description": f"The {name} tool",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
    for name in TOOL_NAMES[:2]
]
MESSAGES = [{"role": "user", "content": "hi"}]


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def equal(got, expected, what):
    check(got == expected, f"{what}: got {got!r}, expected {expected!r}")


def openai_client(path):
    return openai.OpenAI(api_key="sk-client", base_url=f"{BASE}{path}/v1", max_retries=0, timeout=20)


def anthropic_client(path):
    return anthropic.Anthropic(api_key="sk-ant-client", base_url=f"{BASE}{path}", max_retries=0, timeout=20)


# ---- OpenAI client ---------------------------------------------------------


def openai_summary(completion):
    """What must be equal between the streamed and the non-streamed answer."""
    message = completion.choices[0].message
    extra = message.model_extra or {}
    calls = [
        (call.id, call.function.name, json.loads(call.function.arguments))
        for call in (message.tool_calls or [])
    ]
    usage = completion.usage
    details = usage.prompt_tokens_details if usage else None
    return {
        "content": message.content,
        "reasoning_content": extra.get("reasoning_content"),
        "tool_calls": calls,
        "finish_reason": completion.choices[0].finish_reason,
        "usage": None
        if usage is None
        else (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            details.cached_tokens if details else 0,
        ),
    }


def openai_chunks(client, headers, **extra):
    """A raw streamed answer: every chunk, in order."""
    stream = client.chat.completions.create(
        model="conformance-model", messages=MESSAGES, stream=True, extra_headers=headers, **extra
    )
    return list(stream)


def openai_streamed(client, headers, **extra):
    """The SDK's own stream helper must accept the stream; returns its final completion and the raw chunks."""
    with client.chat.completions.stream(
        model="conformance-model",
        messages=MESSAGES,
        extra_headers=headers,
        stream_options={"include_usage": True},
        **extra,
    ) as stream:
        chunks = [event.chunk for event in stream if event.type == "chunk"]
        final = stream.get_final_completion()
    return final, chunks


def accumulated_summary(chunks):
    """The answer rebuilt from raw chunks, as a client that accumulates deltas would."""
    text, reasoning, calls, finish, usage = "", "", {}, None, None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        delta = choice.delta
        text += delta.content or ""
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, ["", "", ""])
            entry[0] += call.id or ""
            if call.function:
                entry[1] += call.function.name or ""
                entry[2] += call.function.arguments or ""
        finish = choice.finish_reason or finish
    details = usage.prompt_tokens_details if usage else None
    return {
        "content": text if text or not calls else None,
        "reasoning_content": reasoning or None,
        "tool_calls": [(c[0], c[1], json.loads(c[2])) for _, c in sorted(calls.items())],
        "finish_reason": finish,
        "usage": None
        if usage is None
        else (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            details.cached_tokens if details else 0,
        ),
    }


def openai_case(path, upstream, headers, expect, **extra):
    client = openai_client(path)
    whole = client.chat.completions.create(
        model="conformance-model", messages=MESSAGES, extra_headers=headers, **extra
    )
    check(whole.object == "chat.completion", f"object {whole.object}")
    got = openai_summary(whole)
    for key, value in expect.items():
        equal(got[key], value, f"non-streaming {key}")
    check(THINKING_TEXT not in (got["content"] or ""), "thinking leaked into content")
    chunks = openai_chunks(client, headers, stream_options={"include_usage": True}, **extra)
    check(
        all(
            THINKING_TEXT[:20] not in (chunk.choices[0].delta.content or "")
            for chunk in chunks
            if chunk.choices
        ),
        "thinking leaked into delta.content",
    )
    equal(accumulated_summary(chunks), got, "accumulated stream vs non-streamed answer")
    # The SDK's stream helper raises on `length` and `content_filter` by design.
    if got["finish_reason"] not in ("length", "content_filter"):
        final, helper_chunks = openai_streamed(client, headers, **extra)
        streamed = openai_summary(final)
        # The helper does not copy extension fields: reasoning comes from its chunks.
        streamed["reasoning_content"] = accumulated_summary(helper_chunks)["reasoning_content"]
        equal(streamed, got, "chat.completions.stream() final completion vs non-streamed answer")
    return got, chunks


def expected_openai_usage(upstream, cache=False, output=COMPLETION_TOKENS):
    cached = CACHE_READ if cache else 0
    prompt = PROMPT_TOKENS + (CACHE_READ + CACHE_CREATION if cache else 0)
    return (prompt, output, prompt + output, cached)


def openai_pair_cases(path, upstream):
    table = stop_table("openai", upstream)
    cases = {}

    def plain():
        openai_case(
            path,
            upstream,
            {},
            {
                "content": answer_text(),
                "tool_calls": [],
                "finish_reason": "stop",
                "usage": expected_openai_usage(upstream),
                "reasoning_content": None,
            },
        )

    def cache():
        headers = {
            "x-mock-cache-read-tokens": str(CACHE_READ),
            "x-mock-cache-creation-tokens": str(CACHE_CREATION),
        }
        openai_case(path, upstream, headers, {"usage": expected_openai_usage(upstream, cache=True)})

    def tools():
        expected_calls = [
            (tool_id(upstream, i), TOOL_NAMES[i], tool_arguments(i)) for i in range(2)
        ]
        _, chunks = openai_case(
            path,
            upstream,
            {"x-mock-tool-calls": "2"},
            {
                "content": answer_text(),
                "tool_calls": expected_calls,
                "finish_reason": "tool_calls",
                "usage": expected_openai_usage(upstream),
            },
            tools=OPENAI_TOOLS,
            parallel_tool_calls=True,
        )
        # Raw deltas: indexes 0 and 1 only, each id on its own index, fragments kept apart.
        by_index = {}
        for chunk in chunks:
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                entry = by_index.setdefault(call.index, {"ids": [], "arguments": ""})
                if call.id:
                    entry["ids"].append(call.id)
                if call.function and call.function.arguments:
                    entry["arguments"] += call.function.arguments
        equal(sorted(by_index), [0, 1], "streamed tool_calls indexes")
        for i in range(2):
            equal(by_index[i]["ids"], [tool_id(upstream, i)], f"ids streamed on index {i}")
            equal(json.loads(by_index[i]["arguments"]), tool_arguments(i), f"arguments of index {i}")
        fragments = sum(
            len(chunk.choices[0].delta.tool_calls or []) for chunk in chunks if chunk.choices
        )
        check(fragments > 4, f"tool arguments were not streamed in fragments ({fragments} deltas)")

    def thinking():
        openai_case(
            path,
            upstream,
            {"x-mock-thinking": "true"},
            {
                "content": answer_text(),
                "reasoning_content": THINKING_TEXT,
                "usage": expected_openai_usage(upstream, output=COMPLETION_TOKENS + THINKING_TOKENS),
            },
        )
        if upstream != "anthropic":
            # OpenAI-wire and DashScope upstreams say how many tokens were reasoning.
            whole = openai_client(path).chat.completions.create(
                model="conformance-model", messages=MESSAGES, extra_headers={"x-mock-thinking": "true"}
            )
            details = whole.usage.completion_tokens_details
            equal(details.reasoning_tokens if details else None, THINKING_TOKENS, "reasoning_tokens")

    def stops():
        for upstream_stop, client_stop in table.items():
            openai_case(path, upstream, {"x-mock-stop": upstream_stop}, {"finish_reason": client_stop})

    def include_usage():
        client = openai_client(path)
        for option, wanted in [(None, False), (False, False), (True, True)]:
            extra = {} if option is None else {"stream_options": {"include_usage": option}}
            chunks = openai_chunks(client, {}, **extra)
            usage_chunks = [chunk for chunk in chunks if chunk.usage is not None]
            if not wanted:
                equal(len(usage_chunks), 0, f"usage chunks with include_usage={option}")
                continue
            equal(len(usage_chunks), 1, "usage chunks with include_usage=true")
            check(chunks[-1] is usage_chunks[0], "the usage chunk is the last before [DONE]")
            equal(chunks[-1].choices, [], "choices of the usage chunk")
            usage = usage_chunks[0].usage
            equal(
                (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
                expected_openai_usage(upstream)[:3],
                "streamed usage",
            )
            text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
            equal(text, answer_text(), "streamed text")

    cases["plain"] = plain
    cases["usage-cache"] = cache
    cases["two-tools"] = tools
    cases["thinking"] = thinking
    cases["stop-reasons"] = stops
    cases["include-usage"] = include_usage
    return cases


# ---- Anthropic client ------------------------------------------------------


def anthropic_summary(message):
    blocks = []
    for block in message.content:
        if block.type == "text":
            blocks.append(("text", block.text))
        elif block.type == "thinking":
            blocks.append(("thinking", block.thinking, block.signature))
        elif block.type == "tool_use":
            blocks.append(("tool_use", block.id, block.name, block.input))
        else:
            blocks.append((block.type,))
    usage = message.usage
    return {
        "blocks": blocks,
        "stop_reason": message.stop_reason,
        "stop_sequence": message.stop_sequence,
        "usage": (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens or 0,
            usage.cache_creation_input_tokens or 0,
        ),
    }


def anthropic_case(path, headers, expect, **extra):
    client = anthropic_client(path)
    arguments = dict(
        model="conformance-model", max_tokens=1024, messages=MESSAGES, extra_headers=headers, **extra
    )
    raw = client.messages.with_raw_response.create(**arguments)
    whole = raw.parse()
    check(whole.type == "message", f"type {whole.type}")
    got = anthropic_summary(whole)
    for key, value in expect.items():
        equal(got[key], value, f"non-streaming {key}")
    with client.messages.stream(**arguments) as stream:
        final = stream.get_final_message()
    equal(anthropic_summary(final), got, "streamed answer (get_final_message) vs non-streamed answer")
    return got, raw.http_response.text


def expected_anthropic_usage(cache=False, output=COMPLETION_TOKENS):
    if cache:
        return (PROMPT_TOKENS, output, CACHE_READ, CACHE_CREATION)
    return (PROMPT_TOKENS, output, 0, 0)


def anthropic_pair_cases(path, upstream):
    table = stop_table("anthropic", upstream)

    def plain():
        anthropic_case(
            path,
            {},
            {
                "blocks": [("text", answer_text())],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": expected_anthropic_usage(),
            },
        )

    def cache():
        headers = {
            "x-mock-cache-read-tokens": str(CACHE_READ),
            "x-mock-cache-creation-tokens": str(CACHE_CREATION),
        }
        anthropic_case(path, headers, {"usage": expected_anthropic_usage(cache=True)})

    def tools():
        anthropic_case(
            path,
            {"x-mock-tool-calls": "2"},
            {
                "blocks": [("text", answer_text())]
                + [("tool_use", tool_id(upstream, i), TOOL_NAMES[i], tool_arguments(i)) for i in range(2)],
                "stop_reason": "tool_use",
                "usage": expected_anthropic_usage(),
            },
            tools=ANTHROPIC_TOOLS,
        )

    def thinking():
        got, raw = anthropic_case(
            path,
            {"x-mock-thinking": "true"},
            {"usage": expected_anthropic_usage(output=COMPLETION_TOKENS + THINKING_TOKENS)},
            thinking={"type": "enabled", "budget_tokens": 512},
        )
        equal([block[0] for block in got["blocks"]], ["thinking", "text"], "block types")
        equal(got["blocks"][0][1], THINKING_TEXT, "thinking text")
        equal(got["blocks"][1][1], answer_text(), "text after thinking")
        if upstream == "anthropic":
            equal(got["blocks"][0][2], THINKING_SIGNATURE, "thinking signature")
            check(f'"signature":"{THINKING_SIGNATURE}"' in raw, "signature not byte for byte in the raw body")

    def stops():
        for upstream_stop, client_stop in table.items():
            got, _ = anthropic_case(path, {"x-mock-stop": upstream_stop}, {"stop_reason": client_stop})
            if upstream == "anthropic" and upstream_stop == "stop_sequence":
                equal(got["stop_sequence"], "###", "stop_sequence")

    return {
        "plain": plain,
        "usage-cache": cache,
        "two-tools": tools,
        "thinking": thinking,
        "stop-reasons": stops,
    }


# ---- Errors ----------------------------------------------------------------


def error_cases():
    def overloaded_to_openai(path, stream):
        client = openai_client(path)
        try:
            if stream:
                for _ in client.chat.completions.create(
                    model="conformance-model", messages=MESSAGES, stream=True,
                    extra_headers={"x-mock-fault": "status:529"},
                ):
                    pass
            else:
                client.chat.completions.create(
                    model="conformance-model", messages=MESSAGES, extra_headers={"x-mock-fault": "status:529"}
                )
        except openai.InternalServerError as error:
            equal(error.status_code, 503, "status for an upstream 529")
            body = error.response.json()
            check(isinstance(body.get("error"), dict), f"OpenAI error envelope: {body}")
            equal(body["error"].get("type"), "server_error", "error.type")
            check("overloaded" in (body["error"].get("message") or ""), f"error.message: {body}")
            return
        raise Failed("no exception for an upstream 529")

    def rate_limited_to_anthropic(path, stream):
        client = anthropic_client(path)
        arguments = dict(
            model="conformance-model", max_tokens=1024, messages=MESSAGES,
            extra_headers={"x-mock-fault": "status:429"},
        )
        try:
            if stream:
                with client.messages.stream(**arguments) as events:
                    events.get_final_message()
            else:
                client.messages.create(**arguments)
        except anthropic.RateLimitError as error:
            equal(error.status_code, 429, "status for an upstream 429")
            body = error.response.json()
            equal(body.get("type"), "error", "Anthropic envelope type")
            equal(body["error"].get("type"), "rate_limit_error", "error.type")
            return
        raise Failed("no exception for an upstream 429")

    return {
        "openai-client/anthropic-529": lambda: overloaded_to_openai("/oa-overloaded", False),
        "openai-client/anthropic-529-stream": lambda: overloaded_to_openai("/oa-overloaded-stream", True),
        "anthropic-client/openai-429": lambda: rate_limited_to_anthropic("/an-limited", False),
        "anthropic-client/openai-429-stream": lambda: rate_limited_to_anthropic("/an-limited-stream", True),
    }


def all_cases():
    cases = {}
    for client, upstream, path in PAIRS:
        per_pair = openai_pair_cases(path, upstream) if client == "openai" else anthropic_pair_cases(path, upstream)
        for name, case in per_pair.items():
            cases[f"{client}-client/{upstream}-upstream/{name}"] = case
    cases.update({f"errors/{name}": case for name, case in error_cases().items()})
    return cases


def main():
    failures = 0
    for name, case in all_cases().items():
        if ONLY not in name:
            continue
        try:
            case()
            print(f"ok {name}")
        except Failed as failure:
            failures += 1
            print(f"FAILED {name}: {failure}")
        except (openai.APIError, anthropic.APIError) as error:
            failures += 1
            body = getattr(error, "body", None)
            print(f"FAILED {name}: {type(error).__name__}: {error} {body!r}")
        except Exception:  # an SDK rejecting the answer is a failure of this case, not of the run
            failures += 1
            print(f"FAILED {name}: {traceback.format_exc(limit=3)}")
    print(f"{failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
