"""What type checkers infer from ``output_type=``: checked by ``mypy --strict tests/typecheck``.

Not a test module (pytest does not collect it): CI runs mypy over it (see .ci/run and
``python3 dev.py check``), so an overload that stops inferring the answer's type fails
the build. ``assert_type`` is a no-op at run time.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from typing import Any, Literal, assert_type

from pydantic import BaseModel
from typing_extensions import TypedDict

from aether import Aether, LLMResponse, StreamChunk, SyncAether


class Invoice(BaseModel):
    customer: str
    total: float


@dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


async def client_calls(client: Aether) -> None:
    assert_type(await client.ask("Bill Ada", output_type=Invoice), Invoice)
    assert_type(await client.ask("x", output_type=Point), Point)
    assert_type(await client.ask("x", output_type=Movie), Movie)
    assert_type(await client.ask("x", output_type=list[str]), list[str])
    assert_type(await client.ask("x", output_type=int), int)
    assert_type(await client.ask("x", output_type=SCHEMA), dict[str, Any])
    assert_type(await client.ask("x", output_type=Literal["a", "b"]), Any)
    assert_type(await client.ask("x"), str)
    assert_type(await client.ask("x", model="m", output_type=Invoice, output_retries=1), Invoice)

    response = await client.complete("Bill Ada", output_type=Invoice, output_mode="tool")
    assert_type(response, LLMResponse[Invoice])
    assert_type(response.output, Invoice)
    plain = await client.complete("hi")
    assert_type(plain, LLMResponse[None])
    assert_type(plain.output, None)

    stream = client.stream("Bill Ada", output_type=Invoice)
    assert_type(stream, AsyncGenerator[StreamChunk[Invoice], None])
    async for chunk in stream:
        assert_type(chunk.output, Invoice)
        assert_type(chunk.partial, Any)
    assert_type(client.stream("hi"), AsyncGenerator[StreamChunk[None], None])


async def session_calls(client: Aether) -> None:
    session = client.session("s")
    assert_type(await session.ask("x", output_type=Invoice), Invoice)
    assert_type(await session.ask("x"), str)
    assert_type((await session.complete("x", output_type=Point)).output, Point)
    streamed = session.stream("x", output_type=Invoice)
    assert_type(streamed, AsyncGenerator[StreamChunk[Invoice], None])


def sync_calls(client: SyncAether) -> None:
    assert_type(client.ask("x", output_type=Invoice), Invoice)
    assert_type(client.ask("x"), str)
    assert_type(client.complete("x", output_type=Invoice).output, Invoice)
    assert_type(client.stream("x", output_type=Invoice), Iterator[StreamChunk[Invoice]])
    session = client.session("s")
    assert_type(session.ask("x", output_type=Invoice), Invoice)
    assert_type(session.complete("x", output_type=Point), LLMResponse[Point])
    assert_type(session.stream("x", output_type=Invoice), Iterator[StreamChunk[Invoice]])
