"""FallbackMiddleware: a chain of backups, only while nothing has reached the caller."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aether import Aether, CircuitBreakerPolicy, LLMRequest, LLMResponse, default_stack
from aether.errors import (
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    RateLimitError,
    ServerError,
)
from aether.events import REQUEST_COMPLETE
from aether.extensions.llm.fake import FakeProvider, StreamFault
from aether.middleware.fallback import FallbackMiddleware
from tests.cookbook._doubles import ChunkedProvider

pytestmark = pytest.mark.anyio


def with_fallback(primary: object, *backups: object, **options: object) -> Aether:
    return Aether(primary, stack=[FallbackMiddleware(backups, **options)])  # type: ignore[arg-type]


async def texts(client: Aether) -> list[str]:
    return [delta async for delta in client.stream_text("hi")]


async def test_call_falls_back_when_the_first_provider_fails() -> None:
    primary = FakeProvider(responses=[ServerError("down", status_code=503)])
    backup = FakeProvider("from backup")
    assert await with_fallback(primary, backup).ask("hi") == "from backup"
    assert (len(primary.requests), len(backup.requests)) == (1, 1)


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down"),
        ServerError("down"),
        CircuitOpenError("open", key="fake", retry_at=1.0, retry_after=1.0),
    ],
    ids=["rate-limit", "server", "circuit-open"],
)
async def test_outages_fall_back(error: Exception, anyio_backend: str) -> None:
    backup = FakeProvider("from backup")
    assert await with_fallback(FakeProvider(responses=[error]), backup).ask("hi") == "from backup"


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad"), AuthenticationError("wrong key")],
    ids=["bad-request", "authentication"],
)
async def test_caller_errors_do_not_fall_back(error: Exception, anyio_backend: str) -> None:
    backup = FakeProvider("from backup")
    with pytest.raises(type(error)):
        await with_fallback(FakeProvider(responses=[error]), backup).ask("hi")
    assert backup.requests == []


async def test_custom_rule_decides_what_falls_back() -> None:
    backup = FakeProvider("from backup")
    client = with_fallback(
        FakeProvider(responses=[BadRequestError("too long")]), backup, fallback_on=lambda e: True
    )
    assert await client.ask("hi") == "from backup"


async def test_backup_is_asked_for_its_own_model() -> None:
    backup = FakeProvider("ok")
    await with_fallback(FakeProvider(responses=[ServerError("x")]), backup, models=["b-1"]).ask(
        "hi", model="primary-model"
    )
    assert backup.last_request.model == "b-1"


async def test_backup_uses_its_default_model_unless_told() -> None:
    backup = FakeProvider("ok", default_model="backup-default")
    response = await with_fallback(FakeProvider(responses=[ServerError("x")]), backup).complete(
        "hi", model="primary-model"
    )
    assert backup.last_request.model is None
    assert response.model == "backup-default"


async def test_context_names_the_first_error() -> None:
    backup = FakeProvider("ok")
    await with_fallback(FakeProvider(responses=[ServerError("x")]), backup).ask("hi")
    assert backup.last_request.context["fallback_from"] == ["ServerError"]


async def test_backup_failure_propagates_noting_the_first_error() -> None:
    primary = FakeProvider(responses=[ServerError("primary down")])
    backup = FakeProvider(responses=[RateLimitError("backup busy")])
    with pytest.raises(RateLimitError) as caught:
        await with_fallback(primary, backup).ask("hi")
    assert caught.value.__notes__ == ["raised by fallback 1, after: ServerError: primary down"]


async def test_cancellation_is_not_a_reason_to_fall_back() -> None:
    backup = FakeProvider("from backup")
    client = with_fallback(FakeProvider("slow", delay=5), backup)
    with anyio.move_on_after(0.05) as scope:
        await client.ask("hi")
    assert scope.cancelled_caught
    assert backup.requests == []


async def test_stream_falls_back_when_the_first_fails_before_any_chunk() -> None:
    primary = FakeProvider(responses=[StreamFault(ServerError("down"), after_chunks=0)])
    backup = FakeProvider("backup says hi")
    assert await texts(with_fallback(primary, backup)) == ["backup ", "says ", "hi"]
    assert (primary.open_streams, backup.open_streams) == (0, 0)


async def test_stream_falls_back_after_empty_leading_chunks() -> None:
    primary = ChunkedProvider(["", ""], error=ServerError("down after a role delta"))
    backup = FakeProvider("backup")
    chunks = [chunk async for chunk in with_fallback(primary, backup).stream("hi")]
    assert [chunk.text for chunk in chunks] == ["backup", ""]
    assert chunks[-1].is_final
    assert primary.open_streams == 0


async def test_stream_error_after_content_propagates_without_fallback() -> None:
    primary = FakeProvider(responses=[StreamFault(ServerError("cut"), after_chunks=2)])
    backup = FakeProvider("backup")
    received: list[str] = []
    with pytest.raises(ServerError):
        async for delta in with_fallback(primary, backup).stream_text("hi"):
            received.append(delta)
    assert received == ["partial ", "output "]
    assert backup.requests == []
    assert primary.open_streams == 0


async def test_stream_does_not_fall_back_on_a_caller_error() -> None:
    backup = FakeProvider("backup")
    primary = FakeProvider(responses=[BadRequestError("bad")])
    with pytest.raises(BadRequestError):
        await texts(with_fallback(primary, backup))
    assert backup.requests == []


async def test_backup_stream_failure_propagates_noting_the_first_error() -> None:
    primary = FakeProvider(responses=[ServerError("primary down")])
    backup = FakeProvider(responses=[StreamFault(ServerError("backup cut"), after_chunks=1)])
    received: list[str] = []
    with pytest.raises(ServerError, match="backup cut") as caught:
        async for delta in with_fallback(primary, backup).stream_text("hi"):
            received.append(delta)
    assert received == ["partial "]
    assert "ServerError: primary down" in caught.value.__notes__[0]


async def test_backup_with_only_complete_still_streams() -> None:
    class CompleteOnly:
        async def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(text="whole answer", model="plain")

    primary = FakeProvider(responses=[ServerError("down")])
    assert await texts(with_fallback(primary, CompleteOnly())) == ["whole answer"]


async def test_backup_client_brings_its_own_stack_and_usage() -> None:
    backup_client = Aether(FakeProvider("from backup"))
    completed: list[str] = []
    backup_client.on(REQUEST_COMPLETE, lambda event: completed.append(event.response.text))
    primary = FakeProvider(responses=[ServerError("down")])
    client = Aether(
        primary, with_retry=False, middleware=[FallbackMiddleware([backup_client.pipeline])]
    )
    assert await client.ask("hi") == "from backup"
    assert completed == ["from backup"]


async def test_another_client_can_be_the_backup() -> None:
    primary = FakeProvider(responses=[ServerError("down"), ServerError("down")])
    client = with_fallback(primary, Aether(FakeProvider("from backup client")))
    assert await client.ask("hi") == "from backup client"
    assert "".join(await texts(client)) == "from backup client"


async def test_the_chain_is_tried_in_order_until_one_answers() -> None:
    first = FakeProvider(responses=[RateLimitError("busy")])
    second = FakeProvider("second backup")
    third = FakeProvider("third backup")
    client = with_fallback(FakeProvider(responses=[ServerError("down")]), first, second, third)
    assert await client.ask("hi") == "second backup"
    assert second.last_request.context["fallback_from"] == ["ServerError", "RateLimitError"]
    assert (len(first.requests), len(second.requests), third.requests) == (1, 1, [])


async def test_streams_walk_the_chain_too() -> None:
    first = FakeProvider(responses=[StreamFault(ServerError("cut"), after_chunks=0)])
    client = with_fallback(
        FakeProvider(responses=[ServerError("down")]), first, FakeProvider("third")
    )
    assert await texts(client) == ["third"]


async def test_an_open_circuit_is_skipped_without_calling_its_provider() -> None:
    primary = FakeProvider(responses=[ServerError("a"), ServerError("b")])
    backup = FakeProvider("from backup")
    stack = default_stack(
        provider="fake",
        retry=False,
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=2),
        fallback=[backup],
    )
    client = Aether(primary, stack=stack)
    for _ in range(3):
        assert await client.ask("hi") == "from backup"
    assert len(primary.requests) == 2  # the third call met the open circuit: not sent
    assert backup.last_request.context["fallback_from"] == ["CircuitOpenError"]


async def test_default_stack_gives_each_backup_its_own_breaker() -> None:
    backup = FakeProvider(responses=[ServerError("x"), ServerError("y"), "late"])
    stack = default_stack(
        provider="fake",
        retry=False,
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=2),
        fallback=[backup],
    )
    client = Aether(FakeProvider(responses=[ServerError("p")] * 5), stack=stack)
    for _ in range(2):
        with pytest.raises(ServerError):
            await client.ask("hi")
    with pytest.raises(CircuitOpenError):  # both circuits open: nothing is sent anywhere
        await client.ask("hi")
    assert len(backup.requests) == 2


async def test_a_circuit_opened_by_another_process_is_skipped_at_once(
    shared_redis: Any, namespace: str
) -> None:
    def process(primary: FakeProvider, backup: FakeProvider) -> Aether:
        stack = default_stack(
            provider="fake",
            retry=False,
            circuit_breaker=CircuitBreakerPolicy(failure_threshold=2),
            fallback=[backup],
            shared=shared_redis,
            shared_namespace=namespace,
        )
        return Aether(primary, stack=stack)

    first = process(
        FakeProvider(responses=[ServerError("a"), ServerError("b")]), FakeProvider("b1")
    )
    for _ in range(2):
        assert await first.ask("hi") == "b1"  # failures seen by this process only
    primary, backup = FakeProvider("never"), FakeProvider("from backup")
    second = process(primary, backup)
    for mode in ("call", "stream"):
        if mode == "call":
            assert await second.ask("hi") == "from backup"
        else:
            assert "".join([delta async for delta in second.stream_text("hi")]) == "from backup"
    assert primary.requests == []  # the open circuit was seen in Redis: never called
    assert backup.last_request.context["fallback_from"] == ["CircuitOpenError"]
