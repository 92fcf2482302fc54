"""Drives a gateway built from specs/quickstart with the official OpenAI Python SDK.

Run by tests/tests/openai_sdk.rs with GATESMITH_BASE_URL set to the gateway's
origin (http://127.0.0.1:PORT). Exits non-zero with a message naming the
failed expectation. The expected numbers follow the mock provider's documented
model (runtime/src/mock/usage.rs): one answer word per completion token, and
a prompt costs ceil(chars / 4) per message text + 3 per message + 3.
"""

import math
import os
import sys

import openai

ANSWER_WORDS = (
    "This is a deterministic answer from the gatesmith mock provider "
    "with real framing and usage numbers."
).split(" ")

# specs/quickstart: completionTokens 16, streamChunks 8, model rewritten to mock-small.
COMPLETION_TOKENS = 16
STREAM_CHUNKS = 8
REWRITTEN_MODEL = "mock-small"

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello to the gateway."},
]


def expected_answer(words):
    return " ".join(ANSWER_WORDS[i % len(ANSWER_WORDS)] for i in range(words))


def expected_prompt_tokens(messages):
    return sum(math.ceil(len(m["content"]) / 4) + 3 for m in messages) + 3


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def check_usage(usage, where):
    prompt = expected_prompt_tokens(MESSAGES)
    check(usage is not None, f"{where}: no usage")
    check(usage.prompt_tokens == prompt, f"{where}: prompt_tokens {usage.prompt_tokens} != {prompt}")
    check(
        usage.completion_tokens == COMPLETION_TOKENS,
        f"{where}: completion_tokens {usage.completion_tokens} != {COMPLETION_TOKENS}",
    )
    check(
        usage.total_tokens == prompt + COMPLETION_TOKENS,
        f"{where}: total_tokens {usage.total_tokens} != {prompt + COMPLETION_TOKENS}",
    )


def non_streaming(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    check(completion.object == "chat.completion", f"object is {completion.object!r}")
    check(completion.model == REWRITTEN_MODEL, f"model {completion.model!r}, expected the rewrite {REWRITTEN_MODEL!r}")
    check(len(completion.choices) == 1, f"{len(completion.choices)} choices")
    choice = completion.choices[0]
    check(choice.message.role == "assistant", f"role {choice.message.role!r}")
    check(
        choice.message.content == expected_answer(COMPLETION_TOKENS),
        f"content {choice.message.content!r} != {expected_answer(COMPLETION_TOKENS)!r}",
    )
    check(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason!r}")
    check_usage(completion.usage, "non-streaming")
    print(f"non-streaming ok: {choice.message.content!r}")
    return choice.message.content


def streaming(client, non_streamed_content):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    content_chunks = []
    finish_reasons = []
    for chunk in stream:
        check(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object!r}")
        check(chunk.model == REWRITTEN_MODEL, f"chunk model {chunk.model!r}")
        check(chunk.usage is None, "usage chunk sent without stream_options.include_usage")
        for choice in chunk.choices:
            if choice.delta.content:
                content_chunks.append(choice.delta.content)
            if choice.finish_reason:
                finish_reasons.append(choice.finish_reason)
    check(
        len(content_chunks) == STREAM_CHUNKS,
        f"{len(content_chunks)} content chunks, expected {STREAM_CHUNKS}: {content_chunks!r}",
    )
    streamed = "".join(content_chunks)
    check(streamed == non_streamed_content, f"streamed {streamed!r} != non-streamed {non_streamed_content!r}")
    check(finish_reasons == ["stop"], f"finish reasons {finish_reasons!r}")
    print(f"streaming ok: {len(content_chunks)} chunks")


def streaming_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    check(len(chunks) >= 2, f"only {len(chunks)} chunks")
    last = chunks[-1]
    check(last.choices == [], f"the usage chunk has choices {last.choices!r}")
    check_usage(last.usage, "stream usage chunk")
    check(all(c.usage is None for c in chunks[:-1]), "usage before the last chunk")
    print("streaming with usage ok")


def unknown_route_is_an_sdk_error(base_url):
    client = openai.OpenAI(base_url=base_url + "/no-such-prefix/v2", api_key="unused", max_retries=0)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    except openai.NotFoundError as error:
        check(isinstance(error.body, dict), f"404 body is not an OpenAI error object: {error.body!r}")
        check(bool(error.body.get("message")), f"404 error has no message: {error.body!r}")
        print(f"unknown route ok: {error.body.get('message')!r}")
        return
    check(False, "a request to an unknown path did not raise openai.NotFoundError")


def main():
    base_url = os.environ["GATESMITH_BASE_URL"]
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="client-key-the-gateway-drops", max_retries=0, timeout=20)
    content = non_streaming(client)
    streaming(client, content)
    streaming_with_usage(client)
    unknown_route_is_an_sdk_error(base_url)


if __name__ == "__main__":
    main()
