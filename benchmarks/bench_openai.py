"""Aether's default stack over the OpenAI adapter, next to the raw openai SDK.

Both talk to the same mock OpenAI server, run as a separate process on loopback
(`benchmarks.mock_openai_server`), and make the same calls: one user message, a 50-word
answer, streamed with a usage chunk when streaming.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from aether import Aether
from aether.extensions.llm.openai import OpenAIProvider
from benchmarks._harness import BACKENDS, Row, cli, measure
from benchmarks.mock_openai_server import running_server

TITLE = "OpenAI adapter: Aether's default stack vs the raw openai SDK"
NOTES = """
Both clients call a mock OpenAI-compatible server running in another process on
loopback (`benchmarks/mock_openai_server.py`, zero added latency), so the numbers are the
client-side cost of a call: building the request, HTTP on loopback, parsing the answer.
"raw SDK" is `AsyncOpenAI.chat.completions.create` (typed response models); "Aether" is
`Aether(OpenAIProvider(...))` with its default stack, through `client.complete(...)` and
`client.stream(...)`. "raw SDK, untyped" posts the same body with `cast_to=object`, the
path Aether's adapter takes for calls, to show where the time goes. "stream" is a whole
stream of 50 text chunks plus a finish and a usage chunk; "stream chunk" is the marginal
cost of one more chunk, from streams of 50 and 250 chunks. The ratio is Aether's time
over the raw SDK's: below 1 is faster. "Aether" runs whatever default stack `Aether()`
builds at the time of the run. The server shares the machine's two cores with the client
(and, on a shared machine, with whatever else runs), so absolute times are pessimistic
and noisy; the ratios are the result.
"""

SHORT, LONG = 50, 250
"""Words per streamed answer: the per-chunk cost is the difference over the extra words."""
PROMPT = "Tell me a story."
MESSAGES = [{"role": "user", "content": PROMPT}]


class _Clients:
    """A raw SDK client and an Aether client, opened afresh in each timed run (their
    connection pools belong to the event loop that opened them)."""

    def __init__(self, base_url: str, chunks: int) -> None:
        self.base_url = base_url
        self.headers = {"x-mock-chunks": str(chunks)}
        self.raw: Any = None
        self.aether: Aether | None = None

    async def open(self) -> None:
        import openai

        self.raw = openai.AsyncOpenAI(
            base_url=self.base_url, api_key="bench", max_retries=0, default_headers=self.headers
        )
        provider = OpenAIProvider(
            api_key="bench",
            base_url=self.base_url,
            default_model="gpt-4o-mini",
            default_headers=self.headers,
        )
        self.aether = Aether(provider)
        # One call each, so connection set-up is not timed.
        await self.raw.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        await self.aether.complete(PROMPT)

    def client(self) -> Aether:
        assert self.aether is not None
        return self.aether

    async def close(self) -> None:
        """Close both (inside the timed run: a few µs spread over every call)."""
        await self.raw.close()
        await self.client().aclose()


Body = Callable[[int], Awaitable[None]]


def _bodies(clients: _Clients) -> dict[str, Body]:
    async def raw_call(n: int) -> None:
        for _ in range(n):
            await clients.raw.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    async def raw_untyped_call(n: int) -> None:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES}
        for _ in range(n):
            await clients.raw.post("/chat/completions", body=body, cast_to=object)

    async def aether_call(n: int) -> None:
        client = clients.client()
        for _ in range(n):
            await client.complete(PROMPT)

    async def raw_stream(n: int) -> None:
        for _ in range(n):
            stream = await clients.raw.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            async with stream:
                async for _chunk in stream:
                    pass

    async def aether_stream(n: int) -> None:
        client = clients.client()
        for _ in range(n):
            async for _chunk in client.stream(PROMPT):
                pass

    def closing(body: Body) -> Body:
        async def run(n: int) -> None:
            await body(n)
            await clients.close()

        return run

    bodies = [raw_call, raw_untyped_call, aether_call, raw_stream, aether_stream]
    return {body.__name__: closing(body) for body in bodies}


def _time(name: str, *, base_url: str, chunks: int, iterations: int, backend: str) -> float:
    clients = _Clients(base_url, chunks)
    body = _bodies(clients)[name]
    return measure(body, iterations=iterations, backend=backend, setup=clients.open)


def _rows(url: str, backend: str, *, calls: int, streams: int) -> list[Row]:
    def timed(name: str, chunks: int, iterations: int) -> float:
        return _time(name, base_url=url, chunks=chunks, iterations=iterations, backend=backend)

    raw_call = timed("raw_call", SHORT, calls)
    untyped_call = timed("raw_untyped_call", SHORT, calls)
    aether_call = timed("aether_call", SHORT, calls)
    raw_short = timed("raw_stream", SHORT, streams)
    aether_short = timed("aether_stream", SHORT, streams)
    raw_chunk = (timed("raw_stream", LONG, streams) - raw_short) / (LONG - SHORT)
    aether_chunk = (timed("aether_stream", LONG, streams) - aether_short) / (LONG - SHORT)
    whole = f"whole stream of {SHORT} chunks"
    marginal = f"marginal, {SHORT} vs {LONG} chunks"
    return [
        Row("call: raw SDK", backend, raw_call, "s"),
        Row("call: raw SDK, untyped", backend, untyped_call, "s", ratio=untyped_call / raw_call),
        Row("call: Aether", backend, aether_call, "s", ratio=aether_call / raw_call),
        Row("stream: raw SDK", backend, raw_short, "s", whole),
        Row("stream: Aether", backend, aether_short, "s", whole, ratio=aether_short / raw_short),
        Row("stream chunk: raw SDK", backend, raw_chunk, "s", marginal),
        Row("stream chunk: Aether", backend, aether_chunk, "s", marginal, aether_chunk / raw_chunk),
    ]


def run(quick: bool) -> list[Row]:
    # The raw SDK leaves async generators to the garbage collector on trio (a
    # ResourceWarning); it is the baseline here, not the subject.
    warnings.simplefilter("ignore", ResourceWarning)
    calls, streams = (40, 6) if quick else (300, 40)
    with running_server(chunks=SHORT) as url:
        return [
            row for backend in BACKENDS for row in _rows(url, backend, calls=calls, streams=streams)
        ]


if __name__ == "__main__":
    cli(run)
