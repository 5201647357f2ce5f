"""The fault → outcome table: what each wire-level fault must end in, per mode.

docs/reliability.md shows the same table; ``test_docs_table_matches`` keeps the two in
step, so the documented outcome is the tested one.
"""

from __future__ import annotations

from dataclasses import dataclass

from aether.errors import (
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from aether.testing.wire import (
    BrokenStream,
    ConnectionFailure,
    ConnectionReset,
    Hang,
    MalformedBody,
    Mode,
    Script,
    ScriptedError,
    StreamErrorEvent,
    TruncatedBody,
)

from ._support import RETRY, TIMEOUT

__all__ = ["FAULTS", "Answered", "CutMidStream", "Failed", "Fault", "Outcome", "markdown_rows"]

PARTIAL = ("Once upon", " a time")
"""Text a stream delivers before the fault cuts it."""


@dataclass(frozen=True)
class Answered:
    """Retried until the server answered: the caller sees only the answer."""

    attempts: int
    waits_at_least: float = 0.0

    def describe(self) -> str:
        wait = f", after waiting {self.waits_at_least:g} s" if self.waits_at_least else ""
        return f"retried: answered on attempt {self.attempts}{wait}"


@dataclass(frozen=True)
class Failed:
    """Failed with ``error`` after ``attempts`` requests; nothing reached the caller."""

    error: type[ProviderError]
    attempts: int
    counts_against_breaker: bool

    def describe(self) -> str:
        tries = "not retried" if self.attempts == 1 else f"after {self.attempts} attempts"
        breaker = "counts" if self.counts_against_breaker else "does not count"
        return f"`{self.error.__name__}`, {tries}; {breaker} against the breaker"


@dataclass(frozen=True)
class CutMidStream:
    """The text before the fault reached the caller once, then ``error`` propagated."""

    error: type[ProviderError]
    attempts: int = 1
    counts_against_breaker: bool = True

    def describe(self) -> str:
        return f"text so far, then `{self.error.__name__}`; not retried; counts against the breaker"


Outcome = Answered | Failed | CutMidStream


@dataclass(frozen=True)
class Fault:
    """A fault the server injects, and the outcome it must end in, per mode.

    ``script`` is what the server answers first; a normal answer follows it. An outcome
    of ``None`` means the fault cannot happen in that mode.
    """

    name: str
    what: str
    script: tuple[Script, ...]
    complete: Outcome | None
    stream: Outcome

    def outcome(self, mode: Mode) -> Outcome | None:
        return self.complete if mode == "complete" else self.stream


def _both(outcome: Outcome) -> dict[str, Outcome]:
    return {"complete": outcome, "stream": outcome}


MAX_RETRY_AFTER = RETRY.max_retry_after

FAULTS: tuple[Fault, ...] = (
    Fault(
        "rate_limited_with_retry_after",
        "429 with `Retry-After: 0.2`",
        (ScriptedError(429, "Rate limit reached", {"retry-after": "0.2"}),),
        **_both(Answered(2, waits_at_least=0.2)),
    ),
    Fault(
        "retry_after_beyond_the_cap",
        f"429 with `Retry-After: 30` (over `max_retry_after={MAX_RETRY_AFTER:g}`)",
        (ScriptedError(429, "Rate limit reached", {"retry-after": "30"}),),
        **_both(Failed(RateLimitError, 1, counts_against_breaker=True)),
    ),
    Fault(
        "server_error",
        "500",
        (ScriptedError(500, "The server had an error"),),
        **_both(Answered(2)),
    ),
    Fault(
        "unavailable_twice",
        "503, then 503 again",
        (ScriptedError(503, "Overloaded"), ScriptedError(503, "Overloaded")),
        **_both(Answered(3)),
    ),
    Fault(
        "server_error_on_every_attempt",
        f"500 on all {RETRY.attempts} attempts",
        (ScriptedError(500, "down"),) * RETRY.attempts,
        **_both(Failed(ServerError, RETRY.attempts, counts_against_breaker=True)),
    ),
    Fault(
        "connection_refused",
        "the connection fails",
        (ConnectionFailure(),),
        **_both(Answered(2)),
    ),
    Fault(
        "hang_past_the_timeout",
        "no answer at all, past the read timeout",
        (Hang(),),
        **_both(Answered(2, waits_at_least=TIMEOUT)),
    ),
    Fault(
        "hang_mid_stream",
        "silence past the read timeout (in a stream, after some text)",
        (Hang(text=PARTIAL),),
        complete=Answered(2, waits_at_least=TIMEOUT),
        stream=CutMidStream(RequestTimeoutError),
    ),
    Fault(
        "reset_before_content",
        "the headers, then a connection reset",
        (ConnectionReset(),),
        **_both(Answered(2)),
    ),
    Fault(
        "reset_mid_answer",
        "a connection reset after some text (in a call, half the body)",
        (ConnectionReset(text=PARTIAL),),
        complete=Answered(2),
        stream=CutMidStream(ProviderConnectionError),
    ),
    Fault(
        "malformed_json",
        "200 with JSON (or an SSE event) Aether cannot read",
        (MalformedBody(),),
        **_both(Answered(2)),
    ),
    Fault(
        "truncated_before_content",
        "half an event and the end, before any text (in a call, half the body)",
        (TruncatedBody(),),
        **_both(Answered(2)),
    ),
    Fault(
        "truncated_sse_event",
        "half an event and the end, after some text (in a call, half the body)",
        (TruncatedBody(text=PARTIAL),),
        complete=Answered(2),
        stream=CutMidStream(MalformedResponseError),
    ),
    Fault(
        "stream_cut_before_its_end",
        "some text, then the end without the final event",
        (BrokenStream(text=PARTIAL),),
        complete=None,
        stream=CutMidStream(MalformedResponseError),
    ),
    Fault(
        "error_event_before_content",
        "200, then an error event before any text",
        (StreamErrorEvent(message="Overloaded"),),
        complete=None,
        stream=Answered(2),
    ),
    Fault(
        "error_event_mid_stream",
        "200, some text, then an error event",
        (StreamErrorEvent(text=PARTIAL, message="Overloaded"),),
        complete=None,
        stream=CutMidStream(ServerError),
    ),
    Fault(
        "unauthorized",
        "401",
        (ScriptedError(401, "Invalid API key"),),
        **_both(Failed(AuthenticationError, 1, counts_against_breaker=False)),
    ),
    Fault(
        "bad_request",
        "400",
        (ScriptedError(400, "Unknown parameter"),),
        **_both(Failed(BadRequestError, 1, counts_against_breaker=False)),
    ),
)


def markdown_rows() -> list[str]:
    """The table's rows as docs/reliability.md shows them."""
    rows = []
    for fault in FAULTS:
        complete = fault.complete.describe() if fault.complete else "(streams only)"
        rows.append(f"| {fault.what} | {complete} | {fault.stream.describe()} |")
    return rows
