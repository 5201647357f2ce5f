"""Structured output: validating a 2 KB answer, and partial objects per streamed chunk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from pydantic_core import from_json

from aether import LLMRequest, LLMResponse, Message, Pipeline, StreamChunk
from aether.llm._output_answers import validate_output
from aether.llm._partial_json import PartialJSON
from aether.llm.output import OutputSchema
from aether.middleware.structured_output import StructuredOutputMiddleware
from benchmarks._harness import BACKENDS, CPU_CLOCK, Row, cli, measure, overhead

__all__ = ["NOTES", "TITLE", "run"]

TITLE = "Structured output: validation per call, partial objects per chunk"
NOTES = """
A 2 KB answer: an `Invoice` of 12 line items (a pydantic model with a nested model, lists
and defaults), as JSON text. "bare" is a call or stream of the same text
with no ``output_type``, through a pipeline with nothing but a provider that answers at
once (a 2 KB text answer, or the same text in chunks of 4 characters, about a token
each: 507 chunks and a final one). "structured" is the same through
`StructuredOutputMiddleware` with ``output_type=Invoice``; its row is the overhead over
bare (median of differences between alternating runs), and the ratio is overhead / bare:
large, because this bare provider does nothing. Against a real call (about 4 ms through
the openai SDK, 280 µs per streamed chunk: the OpenAI section) the call overhead is
under 1 % and the chunk overhead about 1 %.
A call's overhead is validating the text (one `TypeAdapter.validate_json`) and a copy of
the response carrying the output. A chunk's is the partial object: the incremental parser
reads the chunk's characters once (`aether.llm._partial_json`) and copies the containers
still open, then a new chunk carries it. The parser rows time that parsing alone, per
chunk, against re-parsing the whole text received so far at every chunk, as
`pydantic_core.from_json(..., allow_partial="trailing-strings")` or
`jiter.from_json(..., partial_mode="trailing-strings")` would have to (neither keeps a
state between calls): at 2 KB all three are cheap, at 20 KB re-parsing costs ten times
more per chunk while the incremental parser stays flat. Target: under 20 µs per chunk for
a 2 KB object. The fields structured output adds to every `StreamChunk` and `LLMResponse`
(`partial`, `output`, `output_mode`) cost about 0.06 µs per chunk built and 0.13 µs per
response (timeit, against main: 1.05 → 1.11 µs and 1.24 → 1.37 µs), within this
machine's noise in the stack section. CPU time, median of 5 runs after a warm-up.
"""

CHUNK = 4


class Item(BaseModel):
    sku: str
    description: str
    quantity: int
    unit_price: float
    tags: list[str] = []


class Invoice(BaseModel):
    invoice_id: str
    customer: dict[str, str]
    items: list[Item]
    total: float
    paid: bool = False
    notes: str | None = None


def invoice_text(items: int) -> str:
    lines = [
        {
            "sku": f"SKU-{index:04d}",
            "description": f"Widget number {index}, with a longer description",
            "quantity": index + 1,
            "unit_price": 9.99 + index,
            "tags": ["hardware", "blue"],
        }
        for index in range(items)
    ]
    return json.dumps(
        {
            "invoice_id": "INV-2026-0001",
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "items": lines,
            "total": 1234.56,
            "paid": False,
            "notes": "Thank you for your business.",
        }
    )


class AnswerProvider:
    """Answers the same text at once: whole, or in ``CHUNK``-character chunks."""

    structured_output = True

    def __init__(self, text: str) -> None:
        self.response = LLMResponse(text=text, model="m", output_mode="native")
        pieces = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
        self.chunks = [StreamChunk(text=piece) for piece in pieces]
        self.final = StreamChunk(finish_reason="stop", model="m", output_mode="native")

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return self.response

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        for chunk in self.chunks:
            yield chunk
        yield self.final


Body = Callable[[int], Awaitable[None]]


def _requests() -> tuple[LLMRequest, LLMRequest]:
    bare = LLMRequest(messages=(Message(role="user", content="Bill Ada"),), model="m")
    return bare, bare.model_copy(update={"output": OutputSchema.of(Invoice)})


def _call(pipeline: Pipeline, request: LLMRequest) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            await pipeline.complete(request)

    return body


def _stream(pipeline: Pipeline, request: LLMRequest) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            async for _chunk in pipeline.stream(request):
                pass

    return body


def _sync(operation: Callable[[], object]) -> Body:
    async def body(n: int) -> None:
        for _ in range(n):
            operation()

    return body


def _incremental(chunks: list[str]) -> Callable[[], object]:
    def parse() -> None:
        parser = PartialJSON()
        for chunk in chunks:
            if parser.feed(chunk):
                parser.value  # noqa: B018 - the copy handed to the chunk is the cost

    return parse


def _reparse(chunks: list[str], parse: Callable[[str], Any]) -> Callable[[], object]:
    def run() -> None:
        received = ""
        for chunk in chunks:
            received += chunk
            parse(received)

    return run


def _parser_rows(label: str, text: str, quick: bool) -> list[Row]:
    chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    contenders: list[tuple[str, Callable[[], object]]] = [
        ("incremental (Aether)", _incremental(chunks)),
        (
            "re-parse: pydantic_core.from_json",
            _reparse(
                chunks, lambda received: from_json(received, allow_partial="trailing-strings")
            ),
        ),
    ]
    try:
        import jiter

        contenders.append(
            (
                "re-parse: jiter.from_json",
                _reparse(
                    chunks,
                    lambda received: jiter.from_json(
                        received.encode(), partial_mode="trailing-strings"
                    ),
                ),
            )
        )
    except ImportError:  # jiter comes with the openai extra
        pass
    rows = []
    for name, operation in contenders:
        per_stream = measure(_sync(operation), iterations=3 if quick else 20, clock=CPU_CLOCK)
        note = f"{len(text):,} B in {len(chunks)} chunks"
        rows.append(
            Row(
                f"partial object per chunk, {label}: {name}",
                "-",
                per_stream / len(chunks),
                "s",
                note,
            )
        )
    return rows


def run(quick: bool) -> list[Row]:
    text = invoice_text(12)
    schema = OutputSchema.of(Invoice)
    rows = [
        Row(
            "validate a 2 KB answer (validate_json)",
            "-",
            measure(
                _sync(lambda: validate_output(schema, text)),
                iterations=200 if quick else 5_000,
                clock=CPU_CLOCK,
            ),
            "s",
            f"{len(text):,} B",
        )
    ]
    bare_request, structured_request = _requests()
    provider = AnswerProvider(text)
    plain = Pipeline([], provider)
    layered = Pipeline([StructuredOutputMiddleware()], provider)
    calls = 500 if quick else 5_000
    streams = 5 if quick else 40
    repeats = 3 if quick else 7
    chunk_count = len(provider.chunks) + 1
    for backend in BACKENDS:
        bare_call = _call(plain, bare_request)
        bare = measure(bare_call, iterations=calls, backend=backend, clock=CPU_CLOCK)
        rows.append(Row("call, bare (no output_type)", backend, bare, "s"))
        value = overhead(
            _call(layered, structured_request),
            bare_call,
            iterations=calls,
            repeats=repeats,
            backend=backend,
        )
        rows.append(
            Row(
                "call, structured overhead (Invoice, 2 KB)", backend, value, "s", ratio=value / bare
            )
        )
        bare_stream = _stream(plain, bare_request)
        bare = (
            measure(bare_stream, iterations=streams, backend=backend, clock=CPU_CLOCK) / chunk_count
        )
        rows.append(
            Row("stream chunk, bare (no output_type)", backend, bare, "s", f"{chunk_count} chunks")
        )
        value = (
            overhead(
                _stream(layered, structured_request),
                bare_stream,
                iterations=streams,
                repeats=repeats,
                backend=backend,
            )
            / chunk_count
        )
        rows.append(
            Row(
                "stream chunk, structured overhead (partial objects)",
                backend,
                value,
                "s",
                ratio=value / bare,
            )
        )
    rows += _parser_rows("2 KB", text, quick)
    rows += _parser_rows("20 KB", invoice_text(130), quick)
    return rows


if __name__ == "__main__":
    cli(run)
