"""A stream the upstream cuts after 5 chunks, read with the official OpenAI Python SDK.

Run by tests/tests/failover.rs with GATESMITH_BASE_URL set to the `/cut/v1`
base URL of a gateway built from tests/specs/failover, whose upstream sends 5
content chunks and then drops the connection. The gateway has already
committed to that stream, so it must end it with an OpenAI error event: the
SDK must raise, never hand back a clean-looking, silently truncated answer.
"""

import os
import sys

import openai

EXPECTED_CHUNKS = 5


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    client = openai.OpenAI(
        base_url=os.environ["GATESMITH_BASE_URL"], api_key="unused", max_retries=0, timeout=20
    )
    stream = client.chat.completions.create(
        model="client-model", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    content_chunks = []
    try:
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    content_chunks.append(choice.delta.content)
    except openai.APIError as error:
        if len(content_chunks) != EXPECTED_CHUNKS:
            fail(f"{len(content_chunks)} content chunks before the error, expected {EXPECTED_CHUNKS}")
        print(f"stream cut raised ok: {type(error).__name__}: {error}")
        return
    except Exception as error:  # noqa: BLE001 - any other exception is a transport-level cut
        fail(f"the cut surfaced as {type(error).__name__}: {error}, not as the OpenAI error event")
    fail(f"the stream ended cleanly after {len(content_chunks)} chunks: the truncation is invisible")


if __name__ == "__main__":
    main()
