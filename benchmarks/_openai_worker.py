"""Measure one contender on one event loop, in a process of its own; print JSON.

::

    python -m benchmarks._openai_worker KEY BACKEND ROOT [--quick]

``KEY`` names a contender of `benchmarks._contenders`, ``ROOT`` is the mock server's
root URL. The worker checks the text of every answer (a library that dropped or merged
chunks would be measured doing less work) and prints one JSON object: the measurements
in seconds (``*_s``) or calls per second (``throughput_*``), or ``{"error": "..."}``
when the contender cannot make its first call on this event loop.

The garbage collector stays on: what a library allocates, it pays for in collections,
as it would in an application.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import anyio

from benchmarks._contenders import Contender, by_key
from benchmarks.mock_openai_server import answer_text

__all__ = [
    "FULL",
    "LONG",
    "QUICK",
    "SHORT",
    "Plan",
    "Wave",
    "WrongAnswer",
    "main",
    "measure_contender",
]

SHORT, LONG = 50, 150
"""Words per answer: calls and first-chunk times use SHORT; the per-chunk cost is the
difference between streams of LONG and SHORT chunks."""


@dataclass(frozen=True, slots=True)
class Wave:
    """A throughput run: ``tasks`` concurrent tasks making ``calls_each`` calls each."""

    tasks: int
    calls_each: int
    warm_up: bool = False
    """First a wave of one call per task, so that the connection pool has grown."""
    name: str = ""
    """The result's key after ``throughput_``: the number of tasks unless set."""

    @property
    def key(self) -> str:
        return f"throughput_{self.name or self.tasks}"


@dataclass(frozen=True, slots=True)
class Plan:
    """How many operations each measurement makes."""

    calls: int
    """Sequential calls (per-call latency, CPU per call, throughput at 1)."""
    streams: int
    """Streams of each length, alternating short and long."""
    waves: tuple[Wave, ...]
    """Throughput runs; each gives a ``throughput_<tasks>`` result."""


FULL = Plan(
    calls=100,
    streams=10,
    waves=(
        Wave(50, 10, warm_up=True),
        Wave(500, 1),  # cold: 50 connections open, 450 to open
        Wave(500, 2, warm_up=True, name="500_warm"),
    ),
)
QUICK = Plan(
    calls=20,
    streams=3,
    waves=(
        Wave(50, 1, warm_up=True),
        Wave(500, 1),
        Wave(500, 1, warm_up=True, name="500_warm"),
    ),
)


class WrongAnswer(AssertionError):
    """A contender returned text other than the server's answer."""


def _check(text: str, length: int) -> None:
    if text != answer_text(length):
        raise WrongAnswer(f"expected {length} words, got {text[:80]!r} ({len(text)} chars)")


async def _timed_stream(contender: Contender, length: int) -> tuple[float, float, float]:
    """Wall time of the whole stream, its CPU time, and the time to the first text."""
    parts: list[str] = []
    first = 0.0
    cpu_started = time.process_time()
    started = time.perf_counter()
    async for text in contender.stream(length):
        if not parts:
            first = time.perf_counter() - started
        parts.append(text)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    _check("".join(parts), length)
    return wall, cpu, first


async def _sequential_calls(contender: Contender, calls: int) -> dict[str, float]:
    walls, cpus = [], []
    started = time.perf_counter()
    for _ in range(calls):
        cpu_begun = time.process_time()
        begun = time.perf_counter()
        _check(await contender.call(SHORT), SHORT)
        walls.append(time.perf_counter() - begun)
        cpus.append(time.process_time() - cpu_begun)
    elapsed = time.perf_counter() - started
    return {
        "call_s": statistics.median(walls),
        "call_cpu_s": statistics.median(cpus),
        "throughput_1": calls / elapsed,
    }


async def _streams(contender: Contender, streams: int) -> dict[str, float]:
    short: list[tuple[float, float, float]] = []
    long: list[tuple[float, float, float]] = []
    for _ in range(streams):  # alternating, so a change in load hits both lengths
        short.append(await _timed_stream(contender, SHORT))
        long.append(await _timed_stream(contender, LONG))

    def median(samples: list[tuple[float, float, float]], index: int) -> float:
        return statistics.median(sample[index] for sample in samples)

    extra = LONG - SHORT
    return {
        "stream_s": median(short, 0),
        "chunk_s": (median(long, 0) - median(short, 0)) / extra,
        "chunk_cpu_s": (median(long, 1) - median(short, 1)) / extra,
        "first_chunk_s": median(short, 2),
    }


async def _wave(contender: Contender, tasks: int, calls_each: int) -> float:
    """Seconds for ``tasks`` concurrent tasks making ``calls_each`` calls each."""

    async def task() -> None:
        for _ in range(calls_each):
            _check(await contender.call(SHORT), SHORT)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(tasks):
            group.start_soon(task)
    return time.perf_counter() - started


async def measure_contender(contender: Contender, plan: Plan) -> dict[str, float | str]:
    """Every measurement of one contender, its clients opened and closed here.

    Returns ``{"error": ...}`` if the first call fails (a library that cannot run on
    this event loop); a wrong answer raises `WrongAnswer` at any point.
    """
    await contender.open()
    try:
        try:
            _check(await contender.call(SHORT), SHORT)
        except WrongAnswer:
            raise
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}".splitlines()[0][:300]}
        for _ in range(2):  # warm-up: connections, lazy imports, caches
            _check(await contender.call(SHORT), SHORT)
        for length in (SHORT, LONG):
            await _timed_stream(contender, length)
        results: dict[str, float | str] = {}
        results.update(await _sequential_calls(contender, plan.calls))
        results.update(await _streams(contender, plan.streams))
        for wave in plan.waves:
            if wave.warm_up:
                await _wave(contender, wave.tasks, 1)
            elapsed = await _wave(contender, wave.tasks, wave.calls_each)
            results[wave.key] = wave.tasks * wave.calls_each / elapsed
        return results
    finally:
        await contender.aclose()


def main(argv: list[str] | None = None) -> int:
    """Measure the contender the command line names and print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key")
    parser.add_argument("backend", choices=("asyncio", "trio"))
    parser.add_argument("root")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    # Libraries that leave async generators to the collector warn on trio; not our subject.
    warnings.simplefilter("ignore")
    contender = by_key(args.key).factory(args.root, (SHORT, LONG))
    plan = QUICK if args.quick else FULL
    results = anyio.run(measure_contender, contender, plan, backend=args.backend)
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
