"""Wire-level faults through the real adapters and the default stack, in both modes.

Each row of the fault table (`_fault_table.FAULTS`) runs on every built-in wire format
(OpenAI, Gemini, Anthropic, through their real SDKs) and in both modes, as a session
turn through ``Aether()``'s default stack. After the fault, and after one more turn
that succeeds, everything must add up: the requests sent, what the caller saw, the
events, ``client.usage``, the session's history, the circuit breaker's transitions, and
no stream, held request or task left behind.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from aether import Aether, CircuitBreakerPolicy
from aether.llm.contracts import Message
from aether.middleware import CircuitState, CircuitStateChange
from aether.testing.wire import MockServer, Mode, ScriptedReply, WireFormat
from aether.testing.wires import BUILTIN_WIRES

from ._fault_table import FAULTS, PARTIAL, Answered, CutMidStream, Failed, Fault, markdown_rows
from ._support import (
    MODEL,
    PRICES,
    RETRY,
    TIMEOUT,
    count_events,
    running_tasks,
    take_turn,
    usage_totals,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

ANSWER = ScriptedReply(text=("Hello", " there."))
ONE_ANSWER = (1, 12, 7, 26e-6)  # requests, input and output tokens, dollars at PRICES
SYSTEM = Message(role="system", content="Be brief.")

CASES = [
    pytest.param(fault, wire, mode, id=f"{fault.name}-{wire.name}-{mode}")
    for fault in FAULTS
    for wire in BUILTIN_WIRES
    for mode in ("complete", "stream")
    if fault.outcome(mode) is not None
]


def turn(prompt: str) -> list[Message]:
    return [
        Message(role="user", content=prompt),
        Message(role="assistant", content="Hello there."),
    ]


def expected_events(outcome: Answered | Failed | CutMidStream, mode: Mode) -> dict[str, int]:
    """request.* once per attempt in both modes; stream.* once per logical stream."""
    answered = int(isinstance(outcome, Answered))
    counts = {
        "request.start": outcome.attempts,
        "request.complete": answered,
        "request.error": outcome.attempts - answered,
    }
    if mode == "stream":
        chunks = 2 if answered else len(PARTIAL) if isinstance(outcome, CutMidStream) else 0
        counts |= {
            "stream.start": 1,
            "stream.chunk": chunks,
            "stream.complete": answered,
            "stream.error": 1 - answered,
        }
    return {name: count for name, count in counts.items() if count}


@pytest.mark.parametrize(("fault", "wire", "mode"), CASES)
async def test_fault_ends_in_its_documented_outcome(
    fault: Fault, wire: WireFormat, mode: Mode
) -> None:
    outcome = fault.outcome(mode)
    assert outcome is not None
    tasks_before = running_tasks()
    server = MockServer(wire, [*fault.script, ANSWER, ANSWER])
    provider = wire.build_provider(server, default_model=MODEL, timeout=TIMEOUT)
    changes: list[CircuitStateChange] = []
    breaker = CircuitBreakerPolicy(failure_threshold=1, cooldown=0, on_state_change=changes.append)
    async with Aether(provider, retry=RETRY, circuit_breaker=breaker, prices=PRICES) as client:
        events = count_events(client)
        session = client.session("faults", system=SYSTEM.content)
        deltas: list[str] = []
        started = anyio.current_time()

        if isinstance(outcome, Answered):
            assert await take_turn(session, mode, "hi", deltas) == "Hello there."
            # Timers may fire a clock tick early; the wait itself is what is checked.
            assert anyio.current_time() - started >= outcome.waits_at_least - 0.005
            assert deltas == (["Hello", " there."] if mode == "stream" else [])
            assert usage_totals(client) == ONE_ANSWER
            assert await session.history() == [SYSTEM, *turn("hi")]
        else:
            with pytest.raises(outcome.error):
                await take_turn(session, mode, "hi", deltas)
            # A stream cut mid-way delivered its text once; nothing was retried after it.
            assert deltas == (list(PARTIAL) if isinstance(outcome, CutMidStream) else [])
            assert usage_totals(client) == (0, 0, 0, 0)
            assert await session.history() == []
        assert len(server.requests) == outcome.attempts
        assert dict(events) == expected_events(outcome, mode)
        counted = not isinstance(outcome, Answered) and outcome.counts_against_breaker
        assert [(change.old, change.new) for change in changes] == (
            [(CircuitState.CLOSED, CircuitState.OPEN)] if counted else []
        )

        # The next turn starts clean: the circuit (cooldown 0) lets its probe through.
        assert await take_turn(session, mode, "again", []) == "Hello there."
        assert len(server.requests) == outcome.attempts + 1
        first = turn("hi") if isinstance(outcome, Answered) else []
        assert await session.history() == [SYSTEM, *first, *turn("again")]
        answers = 2 if isinstance(outcome, Answered) else 1
        assert usage_totals(client) == tuple(answers * value for value in ONE_ANSWER)
        assert client.circuit_breaker is not None
        assert set(client.circuit_breaker.states().values()) == {CircuitState.CLOSED}
        assert len(changes) == (3 if counted else 0)

    assert (server.open_streams, server.held_requests) == (0, 0)
    assert server.transport_closed
    assert running_tasks() == tasks_before


def test_docs_table_matches_the_tested_table() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text()
    missing = [row for row in markdown_rows() if row not in docs]
    assert missing == []
