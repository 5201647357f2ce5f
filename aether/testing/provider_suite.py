"""One scenario suite for every provider adapter, run against its real wire format.

Each scenario is an async function taking a `ScenarioKit`: the kit builds the provider
on a `MockServer` that speaks the vendor's wire format, calls it in one mode
(``complete`` or ``stream``), and offers the checks. The same scenarios run on every
wire format, so a new adapter is held to the same behaviour. With pytest::

    import pytest
    from aether.testing.provider_suite import case_id, cases, run_scenario
    from aether.testing.wires import BUILTIN_WIRES

    pytestmark = pytest.mark.anyio

    @pytest.mark.parametrize(("scenario", "wire", "mode"), cases(BUILTIN_WIRES), ids=case_id)
    async def test_provider(scenario, wire, mode):
        await run_scenario(scenario, wire, mode)

A third-party adapter plugs in by writing its own `WireFormat` (see
`aether.testing.wire`) and adding it to the ``wire`` list. New scenarios register with
the `scenario` decorator; the scenarios themselves live in
`aether.testing._scenarios`, `aether.testing._failure_scenarios`,
`aether.testing._content_scenarios` (media parts, reasoning and its signatures) and
`aether.testing._stack_scenarios` (the default stack: tool loop, usage and cost).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from aether.errors import ProviderError
from aether.llm.contracts import LLMRequest, LLMResponse, Message, StreamChunk
from aether.llm.streaming import StreamAccumulator
from aether.testing.wire import MockServer, Mode, Script, WireFormat

__all__ = [
    "MODES",
    "SCENARIOS",
    "Outcome",
    "Scenario",
    "ScenarioKit",
    "case_id",
    "cases",
    "expect",
    "run_scenario",
    "scenario",
]

MODES: tuple[Mode, ...] = ("complete", "stream")


def expect(actual: object, expected: object, what: str) -> None:
    """Fail with a readable message unless ``actual == expected``."""
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call produced: the response (accumulated, in stream mode) and chunks."""

    response: LLMResponse
    chunks: tuple[StreamChunk, ...] = ()

    @property
    def text_deltas(self) -> list[str]:
        """The text of the stream's text chunks, in order."""
        return [chunk.text for chunk in self.chunks if chunk.kind == "text" and chunk.text]

    @property
    def reasoning_deltas(self) -> list[str]:
        """The reasoning of the stream's reasoning chunks, in order."""
        return [chunk.reasoning for chunk in self.chunks if chunk.kind == "reasoning"]


@dataclass(slots=True)
class ScenarioKit:
    """Builds providers on a scripted server and calls them in the scenario's mode."""

    wire: WireFormat
    mode: Mode
    providers: list[Any] = field(default_factory=list)

    def serve(self, *script: Script, **provider_options: Any) -> tuple[Any, MockServer]:
        """A provider talking to a new `MockServer` that answers with ``script``."""
        server = MockServer(self.wire, script)
        provider = self.wire.build_provider(server, **provider_options)
        self.providers.append(provider)
        return provider, server

    def supports(self, feature: str) -> bool:
        """Whether the wire can express ``feature`` in this mode."""
        return self.wire.supports(feature, self.mode)

    @staticmethod
    def request(*messages: Message | str, **fields: Any) -> LLMRequest:
        """An `LLMRequest` from messages (a string is a user message) and fields."""
        turns = tuple(
            Message(role="user", content=item) if isinstance(item, str) else item
            for item in messages
        )
        return LLMRequest(messages=turns, **fields)

    async def call(self, provider: Any, request: LLMRequest) -> Outcome:
        """Call ``provider`` in the kit's mode; a stream must end with one final chunk."""
        if self.mode == "complete":
            return Outcome(await provider.complete(request))
        chunks: list[StreamChunk] = []
        accumulator = StreamAccumulator()
        async with aclosing(provider.stream(request)) as stream:
            async for chunk in stream:
                chunks.append(chunk)
                accumulator.add(chunk)
        finals = [index for index, chunk in enumerate(chunks) if chunk.is_final]
        expect(finals, [len(chunks) - 1], "positions of final chunks in the stream")
        for chunk in chunks[:-1]:
            delta = chunk.text if chunk.kind == "text" else chunk.reasoning
            expect((chunk.kind in ("text", "reasoning"), bool(delta)), (True, True), "a delta")
        return Outcome(accumulator.response(), tuple(chunks))

    async def call_failing(
        self, provider: Any, request: LLMRequest, error_type: type[ProviderError]
    ) -> tuple[ProviderError, list[StreamChunk]]:
        """Call ``provider`` expecting ``error_type``; return it and any chunks before it."""
        chunks: list[StreamChunk] = []
        try:
            if self.mode == "complete":
                await provider.complete(request)
            else:
                async with aclosing(provider.stream(request)) as stream:
                    async for chunk in stream:
                        chunks.append(chunk)
        except ProviderError as error:
            if not isinstance(error, error_type):
                raise AssertionError(
                    f"expected {error_type.__name__}, got {type(error).__name__}: {error}"
                ) from error
            return error, chunks
        raise AssertionError(f"expected {error_type.__name__}, but the call succeeded")

    async def aclose(self) -> None:
        """Close every provider the kit built."""
        for provider in self.providers:
            await provider.aclose()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named check of adapter behaviour, with the modes and features it needs."""

    name: str
    run: Callable[[ScenarioKit], Awaitable[None]]
    modes: frozenset[str] = frozenset({"complete", "stream"})
    requires: frozenset[str] = frozenset()

    def applies_to(self, wire: WireFormat, mode: Mode) -> bool:
        """Whether the scenario can run on ``wire`` in ``mode``."""
        if mode not in self.modes:
            return False
        return all(wire.supports(feature, mode) for feature in self.requires)

    def __repr__(self) -> str:
        return f"Scenario({self.name})"


SCENARIOS: list[Scenario] = []
"""Every registered scenario, in registration order."""


def scenario(
    *, modes: tuple[Mode, ...] = ("complete", "stream"), requires: tuple[str, ...] = ()
) -> Callable[[Callable[[ScenarioKit], Awaitable[None]]], Scenario]:
    """Register an async function as a scenario (its name is the function's name)."""

    def decorator(function: Callable[[ScenarioKit], Awaitable[None]]) -> Scenario:
        registered = Scenario(function.__name__, function, frozenset(modes), frozenset(requires))
        SCENARIOS.append(registered)
        return registered

    return decorator


def cases(
    wires: Iterable[WireFormat], scenarios: Iterable[Scenario] | None = None
) -> list[tuple[Scenario, WireFormat, Mode]]:
    """Every applicable ``(scenario, wire, mode)``, for ``pytest.mark.parametrize``.

    Combinations a wire cannot express (a stream-only scenario in ``complete`` mode,
    cache writes on a vendor that reports none) are left out rather than skipped.
    """
    chosen = SCENARIOS if scenarios is None else list(scenarios)
    wire_list = list(wires)
    return [
        (item, wire, mode)
        for item in chosen
        for wire in wire_list
        for mode in MODES
        if item.applies_to(wire, mode)
    ]


def case_id(value: object) -> str:
    """A readable pytest id part for a scenario, a wire or a mode."""
    return str(getattr(value, "name", value))


async def run_scenario(scenario: Scenario, wire: WireFormat, mode: Mode) -> None:
    """Run ``scenario`` against ``wire`` in ``mode``, closing every provider it built."""
    kit = ScenarioKit(wire, mode)
    try:
        await scenario.run(kit)
    finally:
        await kit.aclose()


# Registers the built-in scenarios (imported last: they use the decorator above).
from aether.testing import (  # noqa: E402, F401
    _content_scenarios,
    _failure_scenarios,
    _scenarios,
    _stack_scenarios,
)
