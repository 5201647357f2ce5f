"""The shared harness: timing, medians, machine notes and the JSON each module prints.

A benchmark module ``benchmarks/bench_<name>.py`` defines::

    TITLE = "What it measures"
    NOTES = "How to read the table (markdown, optional)."

    def run(quick: bool) -> list[Row]: ...

and ends with ``if __name__ == "__main__": cli(run)``. The runner starts each module in a
fresh process, collects its rows and rewrites that module's section of
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import anyio

from aether.llm.contracts import LLMRequest, LLMResponse

BACKENDS = ("asyncio", "trio")


@dataclass(slots=True)
class Row:
    """One line of a results table: a measurement, its unit and a free-form note.

    ``column`` names the measurement when a module lays its rows out as a wide table
    (cases down, columns across) with a ``table(rows)`` function of its own.
    """

    case: str
    backend: str
    value: float
    unit: str
    note: str = ""
    ratio: float | None = None
    column: str = ""


def measure(
    body: Callable[[int], Awaitable[None]],
    *,
    iterations: int,
    repeats: int = 5,
    backend: str = "asyncio",
    setup: Callable[[], Awaitable[Any]] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median seconds per operation over ``repeats`` runs of ``body(iterations)``.

    ``body(n)`` performs ``n`` operations; one warm-up run is discarded. Each run happens
    in a fresh event loop of ``backend``; the garbage collector is paused while timing.
    ``clock=time.process_time`` times CPU work only, which on a virtual machine whose
    wall-clock speed drifts (time stolen by the host) is far steadier for CPU-bound bodies.
    """
    samples: list[float] = []

    async def one_run() -> float:
        if setup is not None:
            await setup()
        gc.collect()
        gc.disable()
        try:
            started = clock()
            await body(iterations)
            return (clock() - started) / iterations
        finally:
            gc.enable()

    anyio.run(one_run, backend=backend)  # warm-up
    for _ in range(repeats):
        samples.append(anyio.run(one_run, backend=backend))
    return statistics.median(samples)


def versions(*packages: str) -> str:
    """``name version`` for each installed package, comma separated."""
    found = []
    for package in packages:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def machine() -> str:
    """A one-line description of this machine and interpreter."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def cli(run: Callable[[bool], list[Row]]) -> None:
    """Run a module's benchmarks and print its rows as JSON on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    rows = run(args.quick)
    json.dump([asdict(row) for row in rows], sys.stdout)
    sys.stdout.write("\n")


CPU_CLOCK = time.process_time
"""CPU time: on a shared virtual machine wall-clock speed drifts by 2× between runs."""


def overhead(
    case: Callable[[int], Awaitable[None]],
    base: Callable[[int], Awaitable[None]],
    *,
    iterations: int,
    repeats: int,
    backend: str,
    clock: Callable[[], float] = CPU_CLOCK,
) -> float:
    """Median of (case − base) seconds per operation over runs alternating the two, so
    drift between runs cancels out."""
    differences = []
    for _ in range(repeats):
        base_time = measure(base, iterations=iterations, repeats=1, backend=backend, clock=clock)
        case_time = measure(case, iterations=iterations, repeats=1, backend=backend, clock=clock)
        differences.append(case_time - base_time)
    return statistics.median(differences)


class ConstantProvider:
    """A provider that answers one fixed response and keeps nothing.

    The Fake provider records every request it receives; a benchmark that builds a fresh
    request per call (as the facade does) would time that record's growth too.
    """

    name = "openai"

    def __init__(self, response: LLMResponse) -> None:
        self.response = response
        self.default_model = response.model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return self.response
