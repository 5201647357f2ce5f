"""Aether over the OpenAI adapter next to the raw openai SDK, plain httpx and other frameworks.

Every contender of `benchmarks._contenders` calls the same mock OpenAI server (a separate
process on loopback, `benchmarks.mock_openai_server`). Each (contender, event loop) pair
is measured by `benchmarks._openai_worker` in a fresh process, in rounds whose order
rotates; ratios to the raw SDK are taken within a round, then the median over rounds is
reported. Peers (LiteLLM, pydantic-ai, langchain-openai) join when installed:
``pip install -e '.[bench]'``, or ``python3 dev.py bench --peers``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._contenders import CONTENDERS, ContenderSpec
from benchmarks._harness import BACKENDS, Row, cli, versions
from benchmarks._openai_worker import FULL, LONG, SHORT
from benchmarks.mock_openai_server import running_server

__all__ = ["COLUMNS", "NOTES", "TITLE", "run", "table"]

TITLE = "OpenAI-compatible server: Aether vs the raw openai SDK, plain httpx and other frameworks"
ROUNDS = 3
"""Rounds in a full run (one in a quick run)."""

NOTES = f"""
Every library calls the same mock OpenAI server, a separate process on loopback
(`benchmarks/mock_openai_server.py`, no added latency): one user message, a {SHORT}-word
answer, streamed with a usage chunk. So the numbers are the client-side cost of a call:
building the request, HTTP on loopback, reading the answer, and whatever the library
adds. Each cell is the **ratio to the raw openai SDK** (`AsyncOpenAI.chat.completions.create`,
typed models; the median over rounds, with the lowest and highest round in brackets),
then the median absolute value. Every ratio compares costs: below 1× is faster than the
SDK (for throughput, the SDK's calls per second over the library's).
The server's bodies are the tests' own wire format (`aether.testing.wires`, rendered
once per answer length with `render_answer`): benchmarks and provider tests share one
mock wire implementation.

How it is measured: each library runs in a fresh process per round and per event loop
(`benchmarks/_openai_worker.py`), {ROUNDS} rounds, the order of the libraries rotating from
round to round; a ratio is taken against the SDK of the same round, then the median over
rounds. The worker checks the text of every answer, and the garbage collector stays on.
"per call": median wall time of {FULL.calls} sequential calls. "CPU per call": median CPU time of
the client process per call (`time.process_time`: the server and other processes are
left out). "per stream chunk": the marginal wall time of one more chunk, from streams of
{SHORT} and {LONG} chunks taken alternately. "first chunk": from starting the stream to its
first text. "1 / 50 / 500 concurrent": calls per second of the sequential calls, of 50
tasks making {FULL.waves[0].calls_each} calls each (after a warm-up wave), and of 500 calls started
at once with the 50 connections of the wave before open (so about 450 are opened during
the wave: "cold"). "500 concurrent, warm": 500 tasks making {FULL.waves[2].calls_each} calls each,
after a warm-up wave of 500, so a pool that keeps 500 idle connections opens none.
Every library keeps its default connection pool: the openai SDK's opens up to 1000
connections and keeps 100 idle; Aether's OpenAI adapters send through their own
`LeanTransport` (docs/providers.md, "The lean transport"), which opens up to 1000 and keeps
up to 1000 idle for 5 s; httpx opens 100 and keeps 20, LiteLLM sends through aiohttp.
With a server that answers at once, fewer connections are cheaper; with a real model
taking seconds, they would cap the throughput.

Contenders: "httpx + json" posts the JSON with `httpx.AsyncClient` and reads it with
`response.json()` (streams: `aiter_lines` and `json.loads`), the reference for what the
HTTP stack itself costs. "Aether, default stack" is `Aether(OpenAIProvider(...))`
(`client.complete`, `client.stream_text`) with the default stack `Aether()` builds at the
time of the run (tool loop, cost tracking, circuit breaker, retry, events); "Aether,
stack=[]" is the adapter and the facade alone. Aether's adapter posts straight to its own
`LeanTransport` (the direct path: the headers the openai SDK computes, taken once; no
SDK request building, no httpx2 client) and reads the JSON and SSE itself
(docs/providers.md, "The direct path").
The two Responses API rows make the same call over `POST /v1/responses` (typed SSE
events: `response.created`, one `response.output_text.delta` per word, the item events,
`response.completed` with the usage), served from the provider suite's own Responses wire
format: "openai SDK, Responses API" is `AsyncOpenAI.responses.create` (typed events),
"Aether, Responses API" is `Aether(OpenAIResponsesProvider(...))` with the default stack;
their ratios are to the same chat-completions SDK base, so compare the two with each
other. LiteLLM is `litellm.acompletion(model="openai/gpt-4o-mini", api_base=...)`, run with
`LITELLM_LOCAL_MODEL_COST_MAP=True` and `LITELLM_OFFLINE_MODE=true` (by default it fetches
its price list over the network when imported); pydantic-ai is an `Agent` over
`OpenAIChatModel` (`agent.run`; `run_stream` with `stream_text(delta=True,
debounce_by=None)`, so each delta arrives as it is read); langchain-openai is
`ChatOpenAI(stream_usage=True)` (`ainvoke`, `astream`).

The peers do not run on trio (each is tried once; the table shows its error): LiteLLM's
`acompletion` awaits `loop.run_in_executor`, pydantic-ai's `Agent` starts its run with
`asyncio.create_task`, and langchain-core's `agenerate` awaits `asyncio.gather`.

Reading the numbers: the mock server shares the machine's two cores with the client and,
on a shared machine, with whatever else runs, so absolute times are pessimistic and move
by tens of per cent from round to round (the brackets show how much). Compare rows within
a column through their ratios, and read a difference as real only where the brackets of
two rows do not overlap: the two Aether rows, for one, differ by less than the noise
(the default stack's own cost is tens of µs per call, see the stack section). "CPU per
call" close to "per call" says the client was busy all along, not waiting on the server.

Where Aether's time goes (issue 20). Full runs of this benchmark in one session, asyncio,
default stack, ratio to the SDK (per call / per stream chunk / first chunk / 500
concurrent), each step on top of the one before:
- the SDK building each request over `LeanTransport` with h11 (the start): 0.67× / 0.11× /
  0.51× / 0.55×;
- the direct path (`aether/extensions/llm/_direct_post.py`: the SDK's request machinery,
  about 36% of a call, and httpx2's client around the transport, about 10%, out of the
  path): 0.37× / 0.11× / 0.29× / 0.35×;
- HTTP/1.1 written and read by the transport itself (`_http11.py`: h11's event machinery
  and header validation were about 45% of the transport's time), the request head
  written once per provider with only its length added per call, a body without a
  content coding read straight from the transport: 0.16× / 0.11× / 0.14× / 0.26×;
- stream events and answers parsed with pydantic-core (0.8 µs against `json.loads`'s 2.2
  for one event's 200 bytes) and stream bodies read without httpx2's decoder layers:
  0.16-0.18× / 0.09× / 0.14-0.17× / 0.21-0.22× in two runs;
- the fixes of a review of the transport (connections given back once, expired idle ones
  closed, bare-LF heads read, credentials checked on every request): two more runs, the
  table being the second, 0.19-0.22× / 0.09× / 0.17× / 0.21-0.22×.
In process (5,000 sequential calls, `stack=[]`, wall time per call): 308 µs with h11,
235 µs with `_http11`, 188 µs with the head written once.

What is left per call (py-spy, asyncio, `stack=[]`, shares of the call's CPU): the socket
send about 42% (the `send` system call: on loopback the kernel runs the whole TCP path
and wakes the server inside it), waiting for and reading the answer's head 17% (anyio's
`receive` and its timeout scope; `parse_head` 3%), reading the body and its JSON 9%,
building the `LLMResponse` 6%, preparing the request 3%, the facade 4%, the rest the event
loop. Per stream chunk (7 µs, the plain httpx reference 11 µs): the SSE parser, the
event's JSON, the `StreamChunk` and the generators of the stack.

500 concurrent against 50 concurrent (the goal: no worse), in the last two runs: warm,
6,656-7,338/s against 7,517-7,835/s (0.85-0.98×; trio 0.83-0.90×); cold, 2,539-2,645/s.
Warm, the client's CPU per call rises by 15-20% with 500 tasks (py-spy, same number of
calls), and the extra samples fall in anyio's asyncio socket stream: resuming and pausing reading
around each wait (two `epoll_ctl` calls) and the shielded checkpoint of each send.
Cold, about 450 connections are opened during the wave: `anyio.connect_tcp` costs about
200 µs of client CPU per connection (450 at once: 75-120 ms; a bare non-blocking connect
wrapped with `SocketStream.from_socket` took 25-40 ms but slowed the 50-task wave after
it by a third, unexplained, so it was not kept), and the server, on the same two cores,
accepts them. Every library here is slower at 500 than at
50, the SDK and plain httpx included, and so is a minimal client written on anyio alone
(a deque of connections, a prebuilt request, the answer's length read from its head; no
Aether, same server): 50 tasks x 20 calls against 500 x 2 after a warm-up, three times
per loop, 16,900-17,400/s against 8,700-10,500/s on asyncio (its CPU per call 30 µs
against 62-81) and 17,500-24,900/s against 10,800-17,500/s on trio. The event loop,
anyio's socket streams and the kernel lose 30-50% from 50 to 500 sockets in flight
before any library code runs; Aether, with more fixed work per call, loses 2-17%.

The origin guard (a response hook that refuses redirects to another origin, about 1 µs
a response) and the SSE loop that yields each event's text before reading the next were
checked by an A/B in one session against the tree before them, two rounds each without
the peers: per stream chunk 0.15-0.18× the SDK before and 0.16-0.17× after, per call
0.64-0.70× before and 0.65-0.79× after, within the noise of the rounds.
"""

WORKER_TIMEOUT = 900.0
"""Seconds one worker may take before the run fails."""

OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
"""Keeps the peers off the network: LiteLLM fetches its price list when imported."""


@dataclass(frozen=True, slots=True)
class Column:
    """One measurement of the worker, as a column of the results table."""

    key: str
    title: str
    unit: str
    higher_is_better: bool = False

    def ratio(self, value: float, base: float) -> float:
        """The cost ratio to the base: below 1 is better, whichever way the unit runs."""
        return base / value if self.higher_is_better else value / base


COLUMNS = (
    Column("call_s", "per call", "s"),
    Column("call_cpu_s", "CPU per call", "s"),
    Column("chunk_s", "per stream chunk", "s"),
    Column("first_chunk_s", "first chunk", "s"),
    Column("throughput_1", "1 at a time", "calls/s", higher_is_better=True),
    Column("throughput_50", "50 concurrent", "calls/s", higher_is_better=True),
    Column("throughput_500", "500 concurrent", "calls/s", higher_is_better=True),
    Column("throughput_500_warm", "500 concurrent, warm", "calls/s", higher_is_better=True),
)
BASE = "openai"
"""The contender every ratio is taken against."""


def installed(specs: Sequence[ContenderSpec] = CONTENDERS) -> list[ContenderSpec]:
    """The contenders whose library can be imported here."""
    return [spec for spec in specs if importlib.util.find_spec(spec.module)]


def rotated(items: Sequence[ContenderSpec], offset: int) -> list[ContenderSpec]:
    """``items`` starting at ``offset`` (modulo its length), wrapping around."""
    shift = offset % len(items)
    return [*items[shift:], *items[:shift]]


def _measure(spec: ContenderSpec, backend: str, root: str, *, quick: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks._openai_worker", spec.key, backend, root]
    if quick:
        command.append("--quick")
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=WORKER_TIMEOUT,
        env={**os.environ, **OFFLINE_ENV},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{spec.key} on {backend} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


Round = dict[tuple[str, str], dict[str, float]]
"""One round's measurements by (contender key, backend)."""


def summarise(
    rounds: Sequence[Round], specs: Sequence[ContenderSpec], backends: Sequence[str]
) -> list[Row]:
    """Median absolute values and median within-round ratios to the `BASE` contender."""
    rows = []
    for backend in backends:
        for spec in specs:
            measured = [one for one in rounds if (spec.key, backend) in one]
            if not measured:
                continue
            for column in COLUMNS:
                values = [one[spec.key, backend][column.key] for one in measured]
                ratios = [
                    column.ratio(one[spec.key, backend][column.key], one[BASE, backend][column.key])
                    for one in measured
                    if (BASE, backend) in one
                ]
                spread = f"{min(ratios):.2f}–{max(ratios):.2f}" if len(ratios) > 1 else ""
                rows.append(
                    Row(
                        spec.label,
                        backend,
                        statistics.median(values),
                        column.unit,
                        "" if spec.key == BASE else spread,
                        statistics.median(ratios) if ratios else None,
                        column=column.key,
                    )
                )
    return rows


def run(quick: bool) -> list[Row]:
    specs = installed()
    if not any(spec.key == BASE for spec in specs):
        raise RuntimeError("the openai package is needed: pip install -e '.[openai]'")
    rounds: list[Round] = []
    refused: dict[tuple[str, str], str] = {}
    with running_server() as url:
        root = url.removesuffix("/v1")
        for number in range(1 if quick else ROUNDS):
            measured: Round = {}
            for backend in BACKENDS:
                for spec in rotated(specs, number):
                    if (spec.key, backend) in refused:
                        continue
                    started = time.perf_counter()
                    result = _measure(spec, backend, root, quick=quick)
                    elapsed = time.perf_counter() - started
                    print(f"round {number}: {spec.key} on {backend} ({elapsed:.0f} s): {result}",
                          file=sys.stderr, flush=True)  # fmt: skip
                    error = result.get("error")
                    if isinstance(error, str):
                        if not spec.peer:
                            raise RuntimeError(f"{spec.key} on {backend}: {error}")
                        refused[spec.key, backend] = error
                        continue
                    measured[spec.key, backend] = {key: float(v) for key, v in result.items()}
            rounds.append(measured)
    rows = summarise(rounds, specs, BACKENDS)
    rows += [Row(spec.label, backend, 0.0, "", error, column="refused")
             for (key, backend), error in refused.items()
             for spec in specs if spec.key == key]  # fmt: skip
    packages = sorted({spec.package for spec in specs})
    rows.append(Row("versions", "", 0.0, "", versions(*packages), column="versions"))
    return rows


# -- the results table ----------------------------------------------------------------------


def _absolute(value: float, unit: str) -> str:
    if unit == "calls/s":
        return f"{value:,.0f}/s"
    magnitude = abs(value)
    if magnitude < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if magnitude < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def _cell(row: dict[str, Any]) -> str:
    text = _absolute(float(row["value"]), str(row["unit"]))
    ratio = row.get("ratio")
    if ratio is None:
        return text
    spread = f" ({row['note']})" if row.get("note") else ""
    return f"**{float(ratio):.2f}×**{spread} {text}"


def _refusal(error: str, limit: int = 140) -> str:
    """The error, up to the first object repr, short enough for a table cell."""
    text = error.split(" <", 1)[0].replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(rows: list[dict[str, Any]]) -> str:
    """One wide table per event loop: libraries down, measurements across."""
    titles = {column.key: column.title for column in COLUMNS}
    lines: list[str] = []
    backends = [backend for backend in BACKENDS if any(row["backend"] == backend for row in rows)]
    for backend in backends:
        cases: dict[str, dict[str, str]] = {}
        for row in rows:
            if row["backend"] == backend and row["column"] in titles:
                cases.setdefault(str(row["case"]), {})[str(row["column"])] = _cell(row)
        lines += [
            f"**{backend}**",
            "",
            "| library | " + " | ".join(titles.values()) + " |",
            "|---|" + "---:|" * len(titles),
        ]
        for case, cells in cases.items():
            values = [cells.get(key, "") for key in titles]
            lines.append(f"| {case} | " + " | ".join(values) + " |")
        for row in rows:
            if row["backend"] == backend and row["column"] == "refused":
                refusal = f"does not run: {_refusal(str(row['note']))}"
                lines.append(f"| {row['case']} | {refusal} |" + " |" * (len(titles) - 1))
        lines.append("")
    for row in rows:
        if row["column"] == "versions":
            lines.append(f"Versions: {row['note']}.")
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    cli(run)
