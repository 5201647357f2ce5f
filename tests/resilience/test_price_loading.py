"""Issue 21: concurrent first calls load genai-prices' data once, in one worker thread.

Each test makes the library look unloaded, swaps in a loader that counts its calls and
threads and holds until every caller has arrived, then releases it: with one load for
the burst, one thread ran it; with one load per caller, anyio's limiter fills up (40
threads) and everything else that needs a thread waits.
"""

from __future__ import annotations

import threading

import anyio
import pytest

from aether import Aether, LLMResponse
from aether import _price_library as price_library
from aether.extensions.llm.fake import FakeProvider
from aether.pricing import Pricer

BURST = 50


class CountingLoader:
    """Stands in for `price_library.load`: counts, holds until released, then loads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.calls = 0
        self.threads: set[int] = set()
        self.release = threading.Event()
        self.fail = fail
        self._real = price_library.load
        monkeypatch.setattr(price_library, "_library", None)
        monkeypatch.setattr(price_library, "load", self)

    def __call__(self) -> None:
        if price_library.is_loaded():  # a lookup's call once loaded: nothing to load
            return
        self.calls += 1
        self.threads.add(threading.get_ident())
        self.release.wait(timeout=30)
        if self.fail:
            raise OSError("the price data is unreadable")
        self._real()


async def burst(work: object) -> None:
    """Run ``work`` BURST times at once; release the loader once all are waiting."""
    loader = price_library.load
    assert isinstance(loader, CountingLoader)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(BURST):
                group.start_soon(work)  # type: ignore[arg-type]
            await anyio.wait_all_tasks_blocked()
            loader.release.set()


async def test_a_burst_of_first_prepares_loads_once_in_one_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loader = CountingLoader(monkeypatch)
    pricer = Pricer()

    async def prepare() -> None:
        await pricer.prepare("gpt-4o-mini")

    await burst(prepare)
    assert (loader.calls, len(loader.threads)) == (1, 1)
    assert price_library.is_loaded()


async def test_a_burst_of_first_calls_loads_once_and_prices_every_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loader = CountingLoader(monkeypatch)
    answer = LLMResponse(text="ok", model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    client = Aether(FakeProvider(responder=lambda request: answer))
    costs: list[float | None] = []

    async def call() -> None:
        costs.append((await client.complete("hi", model="gpt-4o-mini")).cost_usd)

    await burst(call)
    assert (loader.calls, len(loader.threads)) == (1, 1)
    assert costs == [0.00045] * BURST


async def test_when_the_one_load_fails_every_waiter_fails_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loader = CountingLoader(monkeypatch, fail=True)
    pricer = Pricer()
    errors: list[BaseException] = []

    async def prepare() -> None:
        try:
            await pricer.prepare("gpt-4o-mini")
        except (OSError, RuntimeError) as error:
            errors.append(error)

    await burst(prepare)
    assert loader.calls == 1
    assert len(errors) == BURST
    assert sum(isinstance(error, OSError) for error in errors) == 1  # the loader's own
    assert all(
        isinstance(error.__cause__, OSError) for error in errors if isinstance(error, RuntimeError)
    )
    assert not price_library.is_loaded()
