"""The peer benchmark's machinery: contenders, the worker, ratios and the results table.

Only the contenders every install has (httpx, the openai SDK, Aether) run here; the peers
of the ``bench`` extra are never needed by the test suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from benchmarks._contenders import CONTENDERS, Contender, by_key
from benchmarks._openai_worker import LONG, SHORT, Plan, Wave, WrongAnswer, measure_contender
from benchmarks.bench_openai import COLUMNS, Round, rotated, summarise, table
from benchmarks.mock_openai_server import answer_text, running_server

CORE = ("httpx", "openai", "aether", "aether-empty", "openai-responses", "aether-responses")
TINY = Plan(calls=2, streams=1, waves=(Wave(3, 2, warm_up=True),))


@pytest.fixture(scope="module")
def server_root() -> Iterator[str]:
    with running_server() as url:
        yield url.removesuffix("/v1")


@pytest.mark.parametrize("key", CORE)
async def test_core_contender_reads_a_whole_call(key: str, server_root: str) -> None:
    contender = by_key(key).factory(server_root, (SHORT,))
    await contender.open()
    try:
        assert await contender.call(SHORT) == answer_text(SHORT)
    finally:
        await contender.aclose()


@pytest.mark.parametrize(
    "key", ["httpx", "aether", "aether-empty", "openai-responses", "aether-responses"]
)
async def test_core_contender_streams_every_word(key: str, server_root: str) -> None:
    contender = by_key(key).factory(server_root, (LONG,))
    await contender.open()
    try:
        texts = [text async for text in contender.stream(LONG)]
    finally:
        await contender.aclose()
    assert "".join(texts) == answer_text(LONG)
    assert len(texts) == LONG


@pytest.mark.parametrize("key", ["aether", "httpx"])
async def test_worker_measures_every_column(key: str, server_root: str) -> None:
    contender = by_key(key).factory(server_root, (SHORT, LONG))
    results = await measure_contender(contender, TINY)
    assert set(results) >= {"call_s", "call_cpu_s", "chunk_s", "first_chunk_s", "throughput_1"}
    assert "throughput_3" in results
    assert all(isinstance(value, float) for value in results.values())
    assert results["call_s"] > 0
    assert results["throughput_3"] > 0


class _Scripted(Contender):
    """Answers with a fixed text, or fails on its first call."""

    def __init__(self, text: str | None) -> None:
        super().__init__("http://unused", ())
        self.text = text

    def build(self, base_url: str) -> object:
        return None

    async def call(self, length: int) -> str:
        if self.text is None:
            raise RuntimeError("no running event loop\nsecond line")
        return self.text

    async def stream(self, length: int) -> AsyncIterator[str]:
        yield answer_text(length)


async def test_worker_refuses_a_contender_that_loses_words() -> None:
    with pytest.raises(WrongAnswer, match="expected 50 words"):
        await measure_contender(_Scripted(answer_text(SHORT - 1)), TINY)


async def test_worker_reports_a_first_call_failure_as_its_first_line() -> None:
    results = await measure_contender(_Scripted(None), TINY)
    assert results == {"error": "RuntimeError: no running event loop"}


def test_rotated_starts_each_round_one_contender_later() -> None:
    specs = list(CONTENDERS[:3])
    assert [spec.key for spec in rotated(specs, 0)] == ["httpx", "openai", "aether"]
    assert [spec.key for spec in rotated(specs, 1)] == ["openai", "aether", "httpx"]
    assert [spec.key for spec in rotated(specs, 4)] == ["openai", "aether", "httpx"]


def _measurements(call: float, throughput: float) -> dict[str, float]:
    values = {column.key: call for column in COLUMNS}
    values.update({key: throughput for key in values if key.startswith("throughput")})
    return values


def test_summarise_takes_ratios_within_rounds_then_their_median() -> None:
    # Round by round Aether takes half the SDK's time; across rounds the machine's speed
    # changes, so a ratio of medians (3/4) would be wrong.
    rounds: list[Round] = [
        {
            ("openai", "asyncio"): _measurements(sdk_time, 200.0 / sdk_time),
            ("aether", "asyncio"): _measurements(sdk_time / 2, 400.0 / sdk_time),
        }
        for sdk_time in (2.0, 4.0, 8.0)
    ]
    specs = [by_key("openai"), by_key("aether")]
    rows = summarise(rounds, specs, ["asyncio"])
    aether = {row.column: row for row in rows if row.case == by_key("aether").label}
    assert aether["call_s"].value == 2.0
    assert aether["call_s"].ratio == 0.5
    assert aether["throughput_50"].value == 100.0
    assert aether["throughput_50"].ratio == 0.5  # twice the calls per second: half the cost


def test_table_shows_one_line_per_library_and_why_a_peer_did_not_run() -> None:
    rows = [
        {"case": "openai SDK (ratio base)", "backend": "trio", "value": 0.004, "unit": "s",
         "note": "", "ratio": 1.0, "column": "call_s"},
        {"case": "LiteLLM acompletion", "backend": "trio", "value": 0.0, "unit": "",
         "note": "TypeError: trio | asyncio", "ratio": None, "column": "refused"},
        {"case": "versions", "backend": "", "value": 0.0, "unit": "", "note": "openai 3.0",
         "ratio": None, "column": "versions"},
    ]  # fmt: skip
    lines = table(rows).splitlines()
    assert lines[0] == "**trio**"
    assert lines[4].startswith("| openai SDK (ratio base) | **1.00×** 4.00 ms |")
    assert lines[5].startswith(
        "| LiteLLM acompletion | does not run: TypeError: trio \\| asyncio |"
    )
    assert lines[-1] == "Versions: openai 3.0."
