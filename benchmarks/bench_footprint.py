"""Footprint: import time, a cold process's first answer per provider, memory per session."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from benchmarks._harness import Row, cli
from benchmarks.bench_openai import OFFLINE_ENV
from benchmarks.mock_openai_server import answer_text, running_server

__all__ = ["NOTES", "TITLE", "run"]

TITLE = "Footprint: import time, first answer from a cold process, memory per idle session"
NOTES = """
"import" is `import X` in a fresh interpreter, timed from inside it. "first answer" is a
fresh process from its first line to the first answer of one call to the mock server
(another process on loopback): importing the library, building the client, and the first
request with everything it loads or caches on first use (Aether's default stack prices
the answer, so the first call also loads genai-prices' data). The interpreter's own
start-up (the same for every row) is not counted. Aether builds the provider from
`ProviderConfig(name=..., base_url=...)` with the default stack; the SDK rows are each
vendor's own async client making the same call. Every library is imported once before
timing, so that no row reads its files from disk; then the cases run in 3 rounds whose
order rotates, each case in a new process. The value is the median wall time, the ratio
the median of within-round ratios (`import aether` against `import openai`, Aether
against the same vendor's SDK, peers against the openai SDK), and the note the median
CPU time of the process over the same span (threads included). Peers run
offline (`LITELLM_LOCAL_MODEL_COST_MAP=True`, `LITELLM_OFFLINE_MODE=true`). With the
`bench` extra installed, aiohttp is importable and the openai SDK imports its aiohttp
transport too (about 0.2 s), in every openai-based row alike. Aether's first answer costs
what its vendor SDK's does plus `import aether` once the SDK is loaded (about 0.15 s:
mostly building its pydantic models) and genai-prices' data for pricing the answer
(about 0.1 s); `import aether` alone also loads pydantic, which every SDK needs anyway.

Memory: 10 000 sessions on one client (`Aether(FakeProvider(...))`, the default in-memory
store), each opened with a system message; "after one turn" each has also answered
one `session.ask` (the store holds system, user and assistant messages, 3 per session).
Measured with `tracemalloc` (Python allocations still live after a full collection,
divided by the session count): "Session objects held" keeps the 10 000 `Session` objects
alive, "store only" drops them (the client keeps them weakly, so what stays is what a
server holds between two turns of a user). The note gives the growth of the resident set
(`/proc/self/statm`), which runs about 1.7× higher: the allocator's own overhead, and
freed memory it keeps (so RSS does not fall when the Session objects go).

Redis: a client on a `RedisSessionStore` (a local `redis-server` on loopback) answers
`session.ask` turns, a new session every 10 turns; after 200 warm-up turns, "memory kept
per Redis session turn" is what is still allocated after a full collection, divided by
the turns (tracemalloc; each turn is two Redis commands, a load and an append), and the
note the growth of the resident set over them. It is the row that shows a client leaking
per command: Aether's first RESP client kept every command's frames alive (through the
traceback of one exception it re-raised), about 4.3 KB per turn of these short histories
and more for longer ones, whose replies those frames held; coredis keeps none.
"""

REPEATS, QUICK_REPEATS = 3, 1
SESSIONS, QUICK_SESSIONS = 10_000, 1_000
REDIS_TURNS, QUICK_REDIS_TURNS = 2_000, 500
SYSTEM = "You are a helpful assistant. Answer briefly and politely."
USER_TURN = "Hello! My name is Alice and I would like to know about your opening hours."
ANSWER = "Hello Alice! We are open from nine to five, Monday to Friday."

IMPORTS = ("aether", "openai", "coredis", "litellm", "pydantic_ai", "langchain_openai")
"""Modules timed alone; the anthropic and google-genai SDKs show in their first answers."""
WARMED = ("aether", "openai", "anthropic", "google.genai", "trio", "coredis", "litellm",
          "pydantic_ai", "langchain_openai")  # fmt: skip
"""Imported once before timing, so that no row pays for reading its files from disk."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A cold-start case of `benchmarks._cold_start` and what its ratio is taken against."""

    case: str
    label: str
    module: str
    backend: str = "asyncio"
    base: str | None = None


ANSWERS = (
    Answer("openai-sdk", "openai SDK", "openai"),
    Answer("aether-openai", "Aether, openai adapter", "openai", base="openai-sdk"),
    Answer("openai-sdk", "openai SDK", "trio", "trio"),
    Answer("aether-openai", "Aether, openai adapter", "trio", "trio", base="openai-sdk"),
    Answer("anthropic-sdk", "anthropic SDK", "anthropic"),
    Answer("aether-anthropic", "Aether, anthropic adapter", "anthropic", base="anthropic-sdk"),
    Answer("genai-sdk", "google-genai SDK", "google.genai"),
    Answer("aether-gemini", "Aether, gemini adapter", "google.genai", base="genai-sdk"),
    Answer("litellm", "LiteLLM acompletion", "litellm", base="openai-sdk"),
    Answer("pydantic-ai", "pydantic-ai Agent", "pydantic_ai", base="openai-sdk"),
    Answer("langchain", "langchain-openai ChatOpenAI", "langchain_openai", base="openai-sdk"),
)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package (google)
        return False


def _cold(arguments: Sequence[str]) -> dict[str, float]:
    """Run `benchmarks._cold_start` once and return its timings."""
    command = [sys.executable, "-m", "benchmarks._cold_start", *arguments]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **OFFLINE_ENV},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


Samples = dict[str, list[dict[str, float]]]


def _warm_page_cache() -> None:
    modules = ", ".join(module for module in WARMED if _importable(module))
    subprocess.run(
        [sys.executable, "-c", f"import {modules}"],
        check=True,
        capture_output=True,
        env={**os.environ, **OFFLINE_ENV},
    )


def _rounds(cases: dict[str, list[str]], repeats: int) -> Samples:
    """Every case once per round, in an order that rotates from round to round."""
    names = list(cases)
    samples: Samples = {name: [] for name in names}
    for number in range(repeats):
        shift = number % len(names)
        for name in [*names[shift:], *names[:shift]]:
            samples[name].append(_cold(cases[name]))
    return samples


def _summary(
    samples: Samples, name: str, key: str, base: str | None
) -> tuple[float, float | None, float]:
    """Median value, median within-round ratio to ``base`` and median CPU seconds."""
    values = [sample[key] for sample in samples[name]]
    ratio = None
    if base is not None and base in samples:
        pairs = zip(samples[name], samples[base], strict=True)
        ratio = statistics.median(mine[key] / theirs[key] for mine, theirs in pairs)
    cpu = statistics.median(sample["cpu_s"] for sample in samples[name])
    return statistics.median(values), ratio, cpu


def _import_rows(repeats: int) -> list[Row]:
    modules = [module for module in IMPORTS if _importable(module)]
    samples = _rounds({module: ["import", module] for module in modules}, repeats)
    rows = []
    for module in modules:
        base = "openai" if module == "aether" else None
        value, ratio, cpu = _summary(samples, module, "import_s", base)
        rows.append(Row(f"import {module}", "", value, "s", f"CPU {cpu:.2f} s", ratio))
    return rows


def _answer_rows(root: str, repeats: int) -> list[Row]:
    answers = [answer for answer in ANSWERS if _importable(answer.module)]
    cases = {
        f"{answer.case}/{answer.backend}": ["answer", answer.case, answer.backend, root]
        for answer in answers
    }
    samples = _rounds(cases, repeats)
    expected = len(answer_text(50))
    rows = []
    for answer in answers:
        name = f"{answer.case}/{answer.backend}"
        if any(sample["chars"] != expected for sample in samples[name]):
            raise RuntimeError(f"{name} did not read the whole answer")
        base = f"{answer.base}/{answer.backend}" if answer.base else None
        value, ratio, cpu = _summary(samples, name, "answer_s", base)
        case = f"first answer: {answer.label}"
        rows.append(Row(case, answer.backend, value, "s", f"CPU {cpu:.2f} s", ratio))
    return rows


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _session_memory(count: int) -> list[tuple[str, float, float]]:
    """Bytes per session (tracemalloc, RSS) when opened, after one turn, store only."""
    from aether import Aether
    from aether.extensions.llm.fake import FakeProvider

    client = Aether(FakeProvider(canned_response=ANSWER))
    await client.ask("warm-up")  # first-use caches are not per-session memory

    def live() -> tuple[int, int]:
        gc.collect()
        return tracemalloc.get_traced_memory()[0], _rss()

    tracemalloc.start()
    start_traced, start_rss = live()
    sessions = [client.session(f"user-{index:06d}", system=SYSTEM) for index in range(count)]
    opened_traced, opened_rss = live()
    for session in sessions:
        await session.ask(USER_TURN)
    if len(client.memory_store) != count:
        raise RuntimeError("every session should have a stored history")
    turned_traced, turned_rss = live()
    del sessions, session
    stored_traced, stored_rss = live()
    tracemalloc.stop()
    return [
        ("opened, no turn yet (Session objects held)", opened_traced - start_traced,
         opened_rss - start_rss),
        ("after one turn (Session objects held)", turned_traced - start_traced,
         turned_rss - start_rss),
        ("after one turn (store only)", stored_traced - start_traced, stored_rss - start_rss),
    ]  # fmt: skip


def _memory_rows(count: int) -> list[Row]:
    results = anyio.run(_session_memory, count)
    return [
        Row(f"memory per idle session: {case}", "asyncio", traced / count, "bytes",
            f"RSS {rss / count:,.0f} B; {count:,} sessions")
        for case, traced, rss in results
    ]  # fmt: skip


async def _redis_turn_memory(url: str, turns: int) -> tuple[float, float]:
    """Bytes still allocated per Redis session turn (tracemalloc) and RSS growth in all."""
    from aether import Aether
    from aether.extensions.llm.fake import FakeProvider
    from aether.extensions.memory.redis import RedisSessionStore

    async with RedisSessionStore(url, namespace=f"bench-{uuid.uuid4().hex}") as store:
        fake = FakeProvider(canned_response=ANSWER)
        client = Aether(fake, memory_store=store)

        async def turn(number: int) -> None:
            await client.session(f"user-{number // 10:06d}", system=SYSTEM).ask(USER_TURN)
            fake.requests.clear()  # the Fake provider keeps every request it saw

        for number in range(200):
            await turn(-1 - number)
        gc.collect()
        tracemalloc.start()
        start_traced, start_rss = tracemalloc.get_traced_memory()[0], _rss()
        for number in range(turns):
            await turn(number)
        gc.collect()
        traced, rss = tracemalloc.get_traced_memory()[0], _rss()
        tracemalloc.stop()
    return (traced - start_traced) / turns, rss - start_rss


def _redis_rows(turns: int) -> list[Row]:
    from aether.testing.redis_server import RedisServer

    if RedisServer.executable() is None:
        return [Row("memory kept per Redis session turn", "", 0, "bytes", "skipped: no redis")]
    rows = []
    with RedisServer() as server:
        for backend in ("asyncio", "trio"):
            kept, rss = anyio.run(_redis_turn_memory, server.url, turns, backend=backend)
            rows.append(Row("memory kept per Redis session turn", backend, kept, "bytes",
                            f"RSS {rss / 1e6:+.1f} MB over {turns:,} turns"))  # fmt: skip
    return rows


def run(quick: bool) -> list[Row]:
    repeats = QUICK_REPEATS if quick else REPEATS
    _warm_page_cache()
    rows = _import_rows(repeats)
    with running_server(chunks=50) as url:
        rows += _answer_rows(url.removesuffix("/v1"), repeats)
    rows += _memory_rows(QUICK_SESSIONS if quick else SESSIONS)
    rows += _redis_rows(QUICK_REDIS_TURNS if quick else REDIS_TURNS)
    return rows


if __name__ == "__main__":
    cli(run)
