"""A mock OpenAI-compatible server, run as its own process, for benchmarks.

It answers ``POST /v1/chat/completions`` on loopback: a JSON chat completion, or (with
``"stream": true``) an SSE stream of ``chat.completion.chunk`` events, a finish chunk,
a usage chunk and ``data: [DONE]``, sent with chunked transfer encoding over keep-alive
HTTP/1.1 connections. Every body is the tests' own wire format
(`aether.testing.wires`), rendered once per answer length with
`aether.testing.wires.render_answer`, so the server costs little next to the client
being measured. The same server also speaks OpenAI's Responses API (``POST
/v1/responses``, JSON or typed SSE events), Anthropic's Messages API (``POST
/v1/messages``, JSON or SSE) and Gemini's (``POST
/v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``), rendered the
same way: point an SDK's base URL at the server's root. Each answer is ``chunks`` words
(`answer_words`) with usage.

::

    python -m benchmarks.mock_openai_server --chunks 50 --latency 0.0
    # prints "READY http://127.0.0.1:PORT/v1" once listening; stops on SIGTERM or EOF

From Python, `running_server` starts it in a subprocess and yields the base URL::

    with running_server(chunks=50) as base_url:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="unused")

Per request, the headers ``x-mock-chunks`` and ``x-mock-latency`` (seconds before the
first byte) override the command line, and ``x-mock-chunk-delay`` sets the seconds
between stream chunks. A path prefix ``/chunks/N`` also sets the chunk count, for
clients that cannot add headers easily: base URL ``http://HOST:PORT/chunks/250/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from aether.testing.wire import ScriptedReply, ScriptedUsage
from aether.testing.wires import (
    ANTHROPIC_WIRE,
    GEMINI_WIRE,
    OPENAI_RESPONSES_WIRE,
    OPENAI_WIRE,
    AnswerWire,
    render_answer,
)

__all__ = [
    "ANTHROPIC_MODEL",
    "GEMINI_MODEL",
    "MODEL",
    "PROMPT_TOKENS",
    "RESPONSES_MODEL",
    "WORDS",
    "ServerOptions",
    "answer_text",
    "answer_words",
    "main",
    "running_server",
]

# The words cycle through a few distinct ones, as a model's tokens would: LiteLLM stops a
# stream whose chunks repeat 100 times in a row, taking it for a model stuck in a loop.
WORDS = ("once ", "upon ", "a ", "time ", "there ", "was ", "word ")
PROMPT_TOKENS = 9
MODEL = "gpt-4o-mini-2024-07-18"
RESPONSES_MODEL = MODEL
ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"
GEMINI_MODEL = "gemini-2.5-flash"

_WIRES: dict[str, tuple[AnswerWire, str]] = {
    "openai": (OPENAI_WIRE, MODEL),
    "openai-responses": (OPENAI_RESPONSES_WIRE, RESPONSES_MODEL),
    "anthropic": (ANTHROPIC_WIRE, ANTHROPIC_MODEL),
    "gemini": (GEMINI_WIRE, GEMINI_MODEL),
}


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """What every answer looks like unless a request's headers say otherwise."""

    chunks: int = 50
    latency: float = 0.0
    chunk_delay: float = 0.0


@functools.cache
def answer_words(chunks: int) -> tuple[str, ...]:
    """The ``chunks`` words (stream deltas) of every answer."""
    return tuple(WORDS[index % len(WORDS)] for index in range(chunks))


def answer_text(chunks: int) -> str:
    """The whole text of an answer of ``chunks`` words."""
    return "".join(answer_words(chunks))


def _http_chunk(payload: bytes) -> bytes:
    """``payload`` framed as one chunk of a chunked HTTP/1.1 body."""
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


@functools.cache
def _rendered(wire_name: str, chunks: int) -> tuple[bytes, tuple[bytes, ...]]:
    """A ``chunks``-word answer in a wire's format: the JSON body, and the stream's
    SSE events each framed as one HTTP chunk, ending with the last chunk."""
    wire, model = _WIRES[wire_name]
    usage = ScriptedUsage(input_tokens=PROMPT_TOKENS, output_tokens=chunks)
    reply = ScriptedReply(text=answer_words(chunks), model=model, usage=usage)
    answer = render_answer(wire, reply)
    return answer.body, (*(_http_chunk(event) for event in answer.events), b"0\r\n\r\n")


def _is_stream(body: bytes) -> bool:
    return b'"stream": true' in body or b'"stream":true' in body


def _answer(path: str, body: bytes, chunks: int) -> bytes | tuple[bytes, ...]:
    """The answer to a request: a JSON body, or a stream's framed SSE events."""
    if path.endswith("/messages"):
        wire, stream = "anthropic", _is_stream(body)
    elif path.endswith("/responses"):
        wire, stream = "openai-responses", _is_stream(body)
    elif ":streamGenerateContent" in path or ":generateContent" in path:
        wire, stream = "gemini", ":streamGenerateContent" in path
    else:
        wire, stream = "openai", _is_stream(body)
    json_body, events = _rendered(wire, chunks)
    return events if stream else json_body


def _path_chunks(path: str) -> int | None:
    """The N of a ``/chunks/N/...`` path prefix, if the path has one."""
    if not path.startswith("/chunks/"):
        return None
    count = path.split("/", 3)[2]
    return int(count) if count.isdigit() else None


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0].split(" ")
    path = request_line[1] if len(request_line) > 1 else "/"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return path, headers, body


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, options: ServerOptions
) -> None:
    try:
        while True:
            try:
                path, headers, body = await _read_request(reader)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            chunks = _path_chunks(path) or int(headers.get("x-mock-chunks", options.chunks))
            latency = float(headers.get("x-mock-latency", options.latency))
            chunk_delay = float(headers.get("x-mock-chunk-delay", options.chunk_delay))
            answer = _answer(path.partition("?")[0], body, chunks)
            if latency:
                await asyncio.sleep(latency)
            if isinstance(answer, tuple):
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n"
                )
                for event in answer:
                    writer.write(event)
                    if chunk_delay:
                        await writer.drain()
                        await asyncio.sleep(chunk_delay)
            else:
                payload = answer
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
            await writer.drain()
    except ConnectionError:
        pass  # the client went away mid-answer
    finally:
        writer.close()


async def _run(host: str, port: int, options: ServerOptions) -> None:
    # A deep accept queue: 500 clients connecting at once must not wait for SYN retries.
    server = await asyncio.start_server(
        lambda reader, writer: _serve_connection(reader, writer, options),
        host,
        port,
        backlog=4096,
    )
    bound = server.sockets[0].getsockname()
    print(f"READY http://{bound[0]}:{bound[1]}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def stop_on_stdin_eof() -> None:  # the parent went away: stop with it
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=stop_on_stdin_eof, daemon=True).start()
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until told to stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--chunks", type=int, default=50, help="words (stream chunks) per answer")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    args = parser.parse_args(argv)
    options = ServerOptions(args.chunks, args.latency, args.chunk_delay)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args.host, args.port, options))


@contextlib.contextmanager
def running_server(
    *, chunks: int = 50, latency: float = 0.0, chunk_delay: float = 0.0
) -> Iterator[str]:
    """Start the server in a subprocess; yield its base URL; stop it on exit."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.mock_openai_server",
        f"--chunks={chunks}",
        f"--latency={latency}",
        f"--chunk-delay={chunk_delay}",
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"the mock server did not start: {line!r}")
        yield line.removeprefix("READY ")
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    main()
