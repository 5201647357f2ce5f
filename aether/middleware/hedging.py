"""Hedged requests: ask a second provider when the first is slow, keep the first success.

``HedgingMiddleware(backup, delay=0.8)`` sends the request inward as usual; if no answer
(in a stream: no first content chunk) has come after ``delay`` seconds, it sends the
same request to ``backup`` too. The first to succeed wins and the other is cancelled at
once: an anyio task group runs the race, so when the call returns no attempt is left
running and the loser's HTTP stream is closed. ``delay=LatencyPercentile(95)`` follows
the first provider's observed latency instead (its 95th percentile over the recent
calls), so only the slowest few percent of calls are hedged.

A first provider failing with an outage before the delay sends the request to the
backup at once (hedging includes fallback); a failure that is not an outage (a bad
request, a rejected key) is raised without trying the backup. If both fail, the first
provider's error is raised with a note naming the backup's.

Both attempts are paid for, and both are counted: the winner's response (or final
chunk) carries the tokens and cost of both, as the tool loop's carries those of its
iterations, so cost tracking and budgets above see what the hedged call really cost.
A loser that finished too is counted as billed; one cancelled mid-way is counted as its
prompt (a token per four characters, media parts at Aether's estimate) at its model's
input rate, which is what a
provider bills for a request it stopped early (it may bill more for one it had
finished generating); a loser that failed is counted as nothing.
``request.context["hedge"]`` says who won and what the loser was counted.

In a stream, the race ends at the first content chunk: the winner's stream is then
read in the caller's task, after the race's task group has closed, so nothing spans a
yield. Each attempt gets its own copy of ``request.context`` (the layers below keep
per-attempt state there); the winner's is copied back.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from aether.config import number_problem
from aether.errors import ConfigurationError
from aether.llm._estimate import content_tokens
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, TokenCounts
from aether.llm.streaming import aclose_stream
from aether.middleware.fallback import as_pipeline, carries_content, is_provider_outage
from aether.pipeline import CallNext, StreamNext
from aether.pricing import Pricer

__all__ = ["HedgingMiddleware", "LatencyPercentile"]

_PRIMARY, _BACKUP = "primary", "backup"


class LatencyPercentile:
    """A hedge delay that follows a percentile of the first provider's observed latency.

    Args:
        percentile: Which percentile (95: hedge the slowest 5 % of calls).
        initial: The delay until ``min_samples`` latencies have been seen.
        min_samples: Observations needed before the percentile is used.
        window: How many recent latencies are kept.
        minimum: The delay never goes below this.

    Raises:
        ConfigurationError: Listing every invalid argument.
    """

    __slots__ = ("_delay", "_samples", "initial", "min_samples", "minimum", "percentile")

    def __init__(
        self,
        percentile: float = 95.0,
        *,
        initial: float = 1.0,
        min_samples: int = 20,
        window: int = 200,
        minimum: float = 0.0,
    ) -> None:
        checks = [
            number_problem("percentile", percentile, minimum=1, maximum=99),
            number_problem("initial", initial, minimum=0, unit=" seconds"),
            number_problem("min_samples", min_samples, minimum=2, whole=True),
            number_problem("window", window, minimum=2, whole=True),
            number_problem("minimum", minimum, minimum=0, unit=" seconds"),
        ]
        problems = [problem for problem in checks if problem]
        if problems:
            raise ConfigurationError(
                "invalid LatencyPercentile: " + "; ".join(problems), problems=problems
            )
        self.percentile = percentile
        self.initial = initial
        self.min_samples = min_samples
        self.minimum = minimum
        self._samples: deque[float] = deque(maxlen=window)
        self._delay: float | None = None

    def observe(self, seconds: float) -> None:
        """Record one latency of the first provider (a lower bound if it was cancelled)."""
        self._samples.append(seconds)
        self._delay = None

    @property
    def delay(self) -> float:
        """The delay to wait now before hedging."""
        if len(self._samples) < self.min_samples:
            return self.initial
        if self._delay is None:
            cuts = statistics.quantiles(self._samples, n=100, method="inclusive")
            self._delay = max(self.minimum, cuts[round(self.percentile) - 1])
        return self._delay

    def __repr__(self) -> str:
        return f"LatencyPercentile({self.percentile:g}, samples={len(self._samples)})"


@dataclass(slots=True)
class _Race:
    winner: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)
    streams: dict[str, AsyncIterator[StreamChunk]] = field(default_factory=dict)
    held: dict[str, list[StreamChunk]] = field(default_factory=dict)
    requests: dict[str, LLMRequest] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    primary_settled: anyio.Event = field(default_factory=anyio.Event)
    primary_seconds: float | None = None


class HedgingMiddleware:
    """Races a backup against the chain inside once the chain is slow (see the module).

    Args:
        backup: A provider or a pipeline (`default_stack` gives it a breaker and retry).
        delay: Seconds to wait before hedging, or a `LatencyPercentile`.
        model: The model to ask ``backup`` for; ``None`` lets it use its default.
        hedge_on: Decides from a first-provider error whether the backup may answer
            instead (default: an outage, as for fallback).
        pricer: Prices both attempts (share the client's); a new `Pricer` by default.
        clock: Monotonic seconds, for the observed latencies.
    """

    name = "Hedging"

    __slots__ = ("_backup", "_clock", "_hedge_on", "delay", "model", "pricer")

    def __init__(
        self,
        backup: Any,
        *,
        delay: float | LatencyPercentile = 1.0,
        model: str | None = None,
        hedge_on: Callable[[BaseException], bool] = is_provider_outage,
        pricer: Pricer | None = None,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        if not isinstance(delay, LatencyPercentile):
            problem = number_problem("delay", delay, minimum=0, unit=" seconds")
            if problem:
                raise ConfigurationError(problem + "; or give delay=LatencyPercentile(95)")
        self._backup = as_pipeline(backup)
        self.delay = delay
        self.model = model
        self._hedge_on = hedge_on
        self.pricer = pricer if pricer is not None else Pricer()
        self._clock = clock

    def _wait(self) -> float:
        delay = self.delay
        return delay.delay if isinstance(delay, LatencyPercentile) else float(delay)

    def _branch_requests(self, request: LLMRequest) -> dict[str, LLMRequest]:
        return {
            _PRIMARY: request.model_copy(update={"context": dict(request.context)}),
            _BACKUP: request.model_copy(
                update={"model": self.model, "context": dict(request.context)}
            ),
        }

    def _won(self, race: _Race, name: str, group: anyio.abc.TaskGroup, started: float) -> None:
        if name == _PRIMARY:
            race.primary_seconds = self._clock() - started
            race.primary_settled.set()
        if race.winner is None:
            race.winner = name
            group.cancel_scope.cancel()

    def _failed(self, race: _Race, name: str, error: Exception) -> None:
        race.errors[name] = error
        if name == _PRIMARY:
            race.primary_settled.set()

    async def _hedge(
        self, race: _Race, group: anyio.abc.TaskGroup, attempt: Callable[[str], Any]
    ) -> None:
        """Start the first provider; after the delay (or its failure), the backup too."""
        race.started.add(_PRIMARY)
        group.start_soon(attempt, _PRIMARY)
        with anyio.move_on_after(self._wait()):
            await race.primary_settled.wait()
        error = race.errors.get(_PRIMARY)
        if race.winner is None and (error is None or self._hedge_on(error)):
            race.started.add(_BACKUP)
            group.start_soon(attempt, _BACKUP)

    def _settled(self, request: LLMRequest, race: _Race, started: float) -> str:
        """After the race: record the latency, copy the winner's context back."""
        self._observe(race, started)
        if race.winner is None:
            raise self._failure(race)
        request.context.update(race.requests[race.winner].context)
        request.context["hedge"] = {"winner": race.winner, "hedged": _BACKUP in race.started}
        return race.winner

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        """Send ``request``; race the backup against it once it is slow."""
        race = _Race(requests=self._branch_requests(request))
        started = self._clock()
        sends = {_PRIMARY: call_next, _BACKUP: self._backup.complete}

        async with anyio.create_task_group() as group:

            async def attempt(name: str) -> None:
                try:
                    race.answers[name] = await sends[name](race.requests[name])
                except Exception as error:
                    self._failed(race, name, error)
                    return
                self._won(race, name, group, started)

            await self._hedge(race, group, attempt)
        response: LLMResponse = race.answers[self._settled(request, race, started)]
        counted: LLMResponse = self._with_loser(request, race, response, final=False)
        return counted

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        """Stream ``request``; race the backup for the first content chunk once it is slow."""
        race = _Race(requests=self._branch_requests(request))
        started = self._clock()
        opens = {_PRIMARY: call_next, _BACKUP: self._backup.stream}
        try:
            async with anyio.create_task_group() as group:

                async def attempt(name: str) -> None:
                    inner = race.streams[name] = opens[name](race.requests[name])
                    held = race.held[name] = []
                    try:
                        async for chunk in inner:
                            held.append(chunk)
                            if carries_content(chunk):
                                self._won(race, name, group, started)
                                return
                    except Exception as error:
                        self._failed(race, name, error)
                        return
                    self._won(race, name, group, started)  # ended with nothing: an answer

                await self._hedge(race, group, attempt)
            winner = self._settled(request, race, started)
            for chunk in race.held[winner]:
                yield (
                    self._with_loser(request, race, chunk, final=True) if chunk.is_final else chunk
                )
            async for chunk in race.streams[winner]:
                yield (
                    self._with_loser(request, race, chunk, final=True) if chunk.is_final else chunk
                )
        finally:
            for inner in race.streams.values():
                await aclose_stream(inner)

    def _observe(self, race: _Race, started: float) -> None:
        if isinstance(self.delay, LatencyPercentile) and _PRIMARY not in race.errors:
            seconds = race.primary_seconds
            self.delay.observe(seconds if seconds is not None else self._clock() - started)

    def _failure(self, race: _Race) -> Exception:
        error = race.errors[_PRIMARY]
        backup = race.errors.get(_BACKUP)
        if backup is not None:
            error.add_note(f"the hedged backup failed too: {type(backup).__name__}: {backup}")
        return error

    def _counted(self, request: LLMRequest, race: _Race, chunk: StreamChunk) -> StreamChunk:
        if not chunk.is_final:
            return chunk
        counted: StreamChunk = self._with_loser(request, race, chunk, final=True)
        return counted

    def _loser_cost(self, race: _Race) -> tuple[int, int, float | None]:
        """The loser's input and output tokens and its price, as counted."""
        loser = _BACKUP if race.winner == _PRIMARY else _PRIMARY
        loser_request = race.requests[loser]
        if loser in race.errors:
            return 0, 0, 0.0  # a failed request is not billed
        answer = race.answers.get(loser)
        if answer is not None:  # it finished too: billed in full
            cost = answer.cost_usd
            if cost is None:
                cost = self.pricer.price_response(answer, requested_model=loser_request.model)
            return answer.input_tokens, answer.output_tokens, cost
        # Cancelled mid-way: its prompt, and whatever text it had streamed.
        prompt = sum(content_tokens(message.content) for message in loser_request.messages)
        text = sum(len(chunk.text) for chunk in race.held.get(loser, ()) if chunk.kind == "text")
        output = math.ceil(text / 4)
        cost = self.pricer.price(loser_request.model, TokenCounts(input=prompt, output=output))
        return prompt, output, cost

    def _with_loser(self, request: LLMRequest, race: _Race, answer: Any, *, final: bool) -> Any:
        """The winner's answer (or final chunk) carrying both attempts' tokens and cost."""
        if _BACKUP not in race.started:
            return answer
        input_tokens, output_tokens, loser_cost = self._loser_cost(race)
        cost = answer.cost_usd
        if cost is None:
            model = race.requests[str(race.winner)].model
            cost = (
                self.pricer.price_final_chunk(answer, requested_model=model)
                if final
                else self.pricer.price_response(answer, requested_model=model)
            )
        request.context["hedge"].update(
            loser_input_tokens=input_tokens,
            loser_output_tokens=output_tokens,
            loser_cost_usd=loser_cost,
        )
        total = cost + loser_cost if cost is not None and loser_cost is not None else cost
        loser_tokens = TokenCounts(input=input_tokens, output=output_tokens)
        tokens = answer.tokens + loser_tokens if answer.tokens is not None else loser_tokens
        return answer.model_copy(update={"tokens": tokens, "cost_usd": total})

    def __repr__(self) -> str:
        return f"HedgingMiddleware(delay={self.delay!r})"
