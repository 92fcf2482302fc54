#!/usr/bin/env python3
"""Time to first token: sends N streaming chat completions one after another on
one keep-alive connection and prints the median time from the last request
byte sent to the first `data:` byte received, in milliseconds.

Raw sockets on purpose: an HTTP library's buffering would hide the proxy's.

Usage: ttft.py PORT [N] [HOST_HEADER]
"""
import json
import socket
import statistics
import sys
import time

BODY = json.dumps(
    {
        "model": "mock-small",
        "stream": True,
        "messages": [{"role": "user", "content": "Say hello."}],
    }
).encode()


def request_bytes(host: str) -> bytes:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: text/event-stream\r\n"
        f"Content-Length: {len(BODY)}\r\n"
        "\r\n"
    )
    return head.encode() + BODY


class Response:
    """Reads one HTTP/1.1 response; knows when its body ends (chunked or length)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed mid-response")
        self.buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(marker, 1)
        return line

    def _read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read(self, on_body_bytes) -> int:
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status = int(head.split(" ", 2)[1])
        headers = {}
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    return status
                on_body_bytes(self._read_exact(size))
                self._read_exact(2)
        length = int(headers.get("content-length", "0"))
        if length:
            on_body_bytes(self._read_exact(length))
        return status


def measure(port: int, n: int, host: str) -> list:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = request_bytes(host)
    response = Response(sock)
    samples = []
    for _ in range(n):
        first = []
        seen = [b""]

        def on_body(data: bytes) -> None:
            if not first:
                seen[0] += data
                if b"data:" in seen[0]:
                    first.append(time.perf_counter_ns())

        start = time.perf_counter_ns()
        sock.sendall(request)
        status = response.read(on_body)
        if status != 200 or not first:
            raise SystemExit(f"port {port}: status {status}, data event seen: {bool(first)}")
        samples.append((first[0] - start) / 1e6)
    sock.close()
    return samples


def main() -> None:
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    host = sys.argv[3] if len(sys.argv) > 3 else f"127.0.0.1:{port}"
    measure(port, min(20, n), host)  # warm up connections on every hop
    print(f"{statistics.median(measure(port, n, host)):.4f}")


if __name__ == "__main__":
    main()
