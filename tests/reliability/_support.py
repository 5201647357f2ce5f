"""What the reliability tests share: fast policies, event counts, task and wait helpers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import anyio

from aether import Aether, ModelPricing, RetryPolicy
from aether.events import Event
from aether.memory.session import Session
from aether.testing.wire import Mode

MODEL = "scripted-model-001"
"""The model the scripted servers report, and the one the tests ask for."""

PRICES = {MODEL: ModelPricing(input_per_mtok=1.0, output_per_mtok=2.0)}
"""A known price, so usage totals can be checked to the dollar."""

RETRY = RetryPolicy(attempts=3, base_delay=0.001, jitter=0, max_retry_after=1.0)
"""The default stack's retry, with backoff short enough for tests."""

TIMEOUT = 0.15
"""Seconds of read timeout the providers get: what a hang must outlast."""


def running_tasks() -> set[int]:
    """The ids of every task running now (asyncio or trio)."""
    return {task.id for task in anyio.get_running_tasks()}


async def wait_until(predicate: Callable[[], bool], *, within: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``within`` seconds."""
    with anyio.fail_after(within):
        while True:
            if predicate():
                return
            await anyio.sleep(0.001)


def count_events(client: Aether) -> Counter[str]:
    """A counter of every event the client emits from now on, by name."""
    seen: Counter[str] = Counter()

    def record(event: Event) -> None:
        seen[event.name] += 1

    client.on("*", record)
    return seen


async def take_turn(
    session: Session, mode: Mode, prompt: str, deltas: list[str], **options: Any
) -> str:
    """One session turn in ``mode``; streamed deltas are appended to ``deltas`` as they come."""
    if mode == "complete":
        return await session.ask(prompt, **options)
    async with aclosing(session.stream_text(prompt, **options)) as stream:
        async for delta in stream:
            deltas.append(delta)
    return "".join(deltas)


def usage_totals(client: Aether) -> tuple[Any, ...]:
    """``(requests, input tokens, output tokens, cost)`` from ``client.usage``."""
    usage = client.usage
    return (
        usage.total_requests,
        usage.total_input_tokens,
        usage.total_output_tokens,
        round(usage.total_cost_usd, 12),
    )
