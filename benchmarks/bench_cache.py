"""The response cache: a hit against a miss to the Fake provider, per backend and loop."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aether import LLMRequest, LLMResponse, Message, Pipeline, Tool
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.cache import (
    CacheBackend,
    CacheMiddleware,
    InMemoryCacheBackend,
    RedisCacheBackend,
)
from aether.testing.redis_server import RedisServer
from benchmarks._harness import BACKENDS, Row, cli, measure

TITLE = "Response cache: a hit against a miss"
NOTES = """
`CacheMiddleware` alone in front of the Fake provider, driven through `Pipeline.complete` /
`Pipeline.stream` with prebuilt requests (one user message, gpt-4o-mini). "no cache" is the
same pipeline without the cache: the Fake provider answers in a few microseconds, far
faster than any real model, so it shows what the cache itself costs. A miss sends a request
never seen before (the backend is emptied before each run): lookup, provider call, store.
A hit sends the same request again. A stream is 50 one-word text chunks and a final chunk;
its rows are per whole stream. "memory" is `InMemoryCacheBackend`; "redis" is
`RedisCacheBackend` on a local `redis-server` over loopback (one round trip per hit, a
Lua script that reads or takes the lock; a miss adds one more to store and unlock). The
ratio is to "no cache" of the same mode and loop. The key rows time `CacheMiddleware.key`
alone (model_dump, canonical JSON, SHA-256): a 20-turn conversation with 3 tools
is about 7 KB of JSON. Medians of 7 runs. Times are CPU time (`time.process_time`: this
shared 2-core VM's wall clock drifts by 2× between runs), except the Redis rows, which
wait on a socket and are wall time (`time.perf_counter`); the loopback Redis server runs
on the same two cores, so they move by tens of per cent from run to run.
"""

CHUNKS = 50
REPEATS = 7

Body = Callable[[int], Awaitable[None]]


def _provider(text: str) -> FakeProvider:
    response = LLMResponse(
        text=text, model="gpt-4o-mini", provider="openai", input_tokens=20, output_tokens=50
    )
    return FakeProvider(responder=lambda request: response)


def _request(prompt: str) -> LLMRequest:
    return LLMRequest(messages=(Message(role="user", content=prompt),), model="gpt-4o-mini")


def _conversation() -> LLMRequest:
    messages = [Message(role="system", content="You are a helpful assistant.")]
    for turn in range(10):
        messages.append(Message(role="user", content=f"Question {turn}: " + "word " * 30))
        messages.append(Message(role="assistant", content=f"Answer {turn}: " + "word " * 60))
    tools = tuple(
        Tool(
            name=f"tool_{index}",
            description="A tool with a small schema.",
            parameters={
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        )
        for index in range(3)
    )
    return LLMRequest(messages=tuple(messages), model="gpt-4o-mini", tools=tools)


class _Case:
    """One run's pipeline, built in the run's own event loop (a Redis client belongs to one,
    and is opened and closed in that run's task)."""

    def __init__(
        self, make_backend: Callable[[], CacheBackend], *, stream: bool, repeat: bool
    ) -> None:
        self.make_backend = make_backend
        self.stream = stream
        self.repeat = repeat
        self.text = " ".join(["word"] * CHUNKS) if stream else "ok"
        self.backend: CacheBackend | None = None
        self.pipeline = Pipeline([], _provider(self.text))
        self.requests: list[LLMRequest] = []

    async def send(self, request: LLMRequest) -> None:
        if self.stream:
            async for _chunk in self.pipeline.stream(request):
                pass
        else:
            await self.pipeline.complete(request)

    async def setup(self, iterations: int) -> None:
        backend = self.backend = self.make_backend()
        if isinstance(backend, RedisCacheBackend):
            await backend.__aenter__()  # closed at the end of body, in the same task
        self.pipeline = Pipeline(
            [CacheMiddleware(backend, provider="openai")], _provider(self.text)
        )
        run = uuid.uuid4().hex
        if self.repeat:
            self.requests = [_request(f"{run} the same question")]
            await self.send(self.requests[0])  # stored: every timed request is a hit
        else:
            self.requests = [_request(f"{run} question {index}") for index in range(iterations)]

    async def body(self, n: int) -> None:
        requests = self.requests
        for index in range(n):
            await self.send(requests[0 if self.repeat else index])
        if isinstance(self.backend, RedisCacheBackend):
            await self.backend.aclose()


def _time(
    body: Body,
    *,
    iterations: int,
    backend: str,
    setup: Callable[[], Awaitable[Any]] | None,
    clock: Callable[[], float] = time.process_time,
) -> float:
    return measure(
        body, iterations=iterations, repeats=REPEATS, backend=backend, setup=setup, clock=clock
    )


def _cache_rows(
    kind: str,
    make_backend: Callable[[], CacheBackend],
    *,
    loop: str,
    iterations: int,
    stream: bool,
    baseline: float,
) -> list[Row]:
    mode = "stream" if stream else "call"
    # Redis rows wait on a socket, which CPU time would not count.
    clock, note = (time.perf_counter, "wall time") if kind == "redis" else (time.process_time, "")
    rows = []
    for outcome, repeat in (("miss", False), ("hit", True)):
        case = _Case(make_backend, stream=stream, repeat=repeat)

        async def setup(case: _Case = case) -> None:
            await case.setup(iterations)

        value = _time(case.body, iterations=iterations, backend=loop, setup=setup, clock=clock)
        rows.append(
            Row(f"{mode}: {outcome}, {kind}", loop, value, "s", note, ratio=value / baseline)
        )
    return rows


def _key_rows(loop: str, iterations: int) -> list[Row]:
    cache = CacheMiddleware(provider="openai")
    rows = []
    for label, request in (("1 message", _request("hi")), ("20 turns, 3 tools", _conversation())):

        async def body(n: int, request: LLMRequest = request) -> None:
            for _ in range(n):
                cache.key(request)

        value = _time(body, iterations=iterations, backend=loop, setup=None)
        rows.append(Row(f"key: {label}", loop, value, "s"))
    return rows


def run(quick: bool) -> list[Row]:
    calls = 300 if quick else 2_000
    streams = 50 if quick else 300
    server: RedisServer | None = None
    redis_url: str | None = None
    if RedisServer.executable() is not None:
        server = RedisServer()
        redis_url = server.start()
    rows: list[Row] = []
    try:
        for loop in BACKENDS:

            def redis_backend() -> CacheBackend:
                assert redis_url is not None
                return RedisCacheBackend(redis_url, namespace=f"bench-{uuid.uuid4().hex}")

            kinds: list[tuple[str, Callable[[], CacheBackend]]] = [
                ("memory", lambda: InMemoryCacheBackend(max_entries=100_000))
            ]
            if redis_url is not None:
                kinds.append(("redis", redis_backend))
            for stream, iterations in ((False, calls), (True, streams)):
                mode = "stream" if stream else "call"
                bare = _Case(lambda: InMemoryCacheBackend(), stream=stream, repeat=True)
                bare.requests = [_request("q")]
                baseline = _time(bare.body, iterations=iterations, backend=loop, setup=None)
                rows.append(Row(f"{mode}: no cache (Fake provider)", loop, baseline, "s"))
                for kind, make_backend in kinds:
                    rows += _cache_rows(
                        kind,
                        make_backend,
                        loop=loop,
                        iterations=iterations,
                        stream=stream,
                        baseline=baseline,
                    )
            rows += _key_rows(loop, calls)
    finally:
        if server is not None:
            server.stop()
    return rows


if __name__ == "__main__":
    cli(run)
