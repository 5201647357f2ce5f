"""The onion: order, short-circuit, transforms, re-entry, per-call middleware, modes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aether import Aether, LLMRequest, LLMResponse, MiddlewareError, StreamChunk
from aether.extensions.llm.fake import FakeProvider
from aether.pipeline import CallNext, Pipeline, StreamNext, calls_only, on_request, streams_only


def recorder(label: str, log: list[str]) -> object:
    class Recorder:
        name = label

        async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
            log.append(f"{label}:in")
            response = await call_next(request)
            log.append(f"{label}:out")
            return response

        async def stream(
            self, request: LLMRequest, call_next: StreamNext
        ) -> AsyncIterator[StreamChunk]:
            log.append(f"{label}:in")
            async for chunk in call_next(request):
                yield chunk
            log.append(f"{label}:out")

    return Recorder()


async def test_first_middleware_is_outermost_for_calls() -> None:
    log: list[str] = []
    client = Aether(FakeProvider("ok"), stack=[recorder("a", log), recorder("b", log)])
    await client.ask("hi")
    assert log == ["a:in", "b:in", "b:out", "a:out"]


async def test_first_middleware_is_outermost_for_streams() -> None:
    log: list[str] = []
    client = Aether(FakeProvider("ok"), stack=[recorder("a", log), recorder("b", log)])
    async for _ in client.stream("hi"):
        pass
    assert log == ["a:in", "b:in", "b:out", "a:out"]


async def test_user_middleware_wraps_the_default_stack() -> None:
    log: list[str] = []
    client = Aether(FakeProvider("ok"), middleware=[recorder("mine", log)])
    assert client.pipeline.names[0] == "mine"
    assert client.pipeline.names[-1] == "fake"
    await client.ask("hi")
    assert log == ["mine:in", "mine:out"]


async def test_short_circuit_skips_the_provider() -> None:
    fake = FakeProvider("from provider")

    async def cached(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return LLMResponse(text="from cache", model="none")

    client = Aether(fake, stack=[cached])
    assert await client.ask("hi") == "from cache"
    assert fake.requests == []


async def test_short_circuit_stream_skips_the_provider() -> None:
    fake = FakeProvider("from provider")

    async def cached(request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        yield StreamChunk(text="from cache")
        yield StreamChunk(finish_reason="stop")

    client = Aether(fake, stack=[cached])
    assert [delta async for delta in client.stream_text("hi")] == ["from cache"]
    assert fake.requests == []


async def test_request_transform_reaches_the_provider() -> None:
    fake = FakeProvider("ok")

    async def force_model(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return await call_next(request.model_copy(update={"model": "forced", "max_tokens": 5}))

    client = Aether(fake, stack=[force_model])
    await client.ask("hi", model="asked")
    assert fake.last_request.model == "forced"
    assert fake.last_request.max_tokens == 5


async def test_response_transform_reaches_the_caller() -> None:
    async def upper(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        response = await call_next(request)
        return response.model_copy(update={"text": response.text.upper()})

    client = Aether(FakeProvider("quiet words"), stack=[upper])
    assert await client.ask("hi") == "QUIET WORDS"


async def test_stream_transform_reaches_the_caller() -> None:
    async def upper(request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        async for chunk in call_next(request):
            yield chunk.model_copy(update={"text": chunk.text.upper()})

    client = Aether(FakeProvider("quiet words"), stack=[upper])
    assert "".join([delta async for delta in client.stream_text("hi")]) == "QUIET WORDS"


async def test_middleware_may_call_next_twice() -> None:
    fake = FakeProvider(responses=["first", "second"])

    async def twice(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        first = await call_next(request)
        second = await call_next(request)
        return second.model_copy(update={"text": f"{first.text}+{second.text}"})

    client = Aether(fake, stack=[twice])
    assert await client.ask("hi") == "first+second"
    assert len(fake.requests) == 2


async def test_context_is_shared_by_copies_of_a_request() -> None:
    seen: list[object] = []

    async def outer(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        request.context["trace"] = "t-1"
        return await call_next(request.model_copy(update={"temperature": 0.1}))

    async def inner(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        seen.append(request.context.get("trace"))
        seen.append(request.context.get("user"))
        return await call_next(request)

    client = Aether(FakeProvider("ok"), stack=[outer, inner])
    await client.ask("hi", context={"user": "alice"})
    assert seen == ["t-1", "alice"]


async def test_call_context_is_copied_not_shared_between_calls() -> None:
    async def mark(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        request.context["marked"] = True
        return await call_next(request)

    client = Aether(FakeProvider("ok"), stack=[mark])
    mine = {"user": "alice"}
    await client.ask("hi", context=mine)
    assert mine == {"user": "alice"}


async def test_per_call_middleware_wraps_only_that_call() -> None:
    log: list[str] = []
    client = Aether(FakeProvider("ok"), middleware=[recorder("client", log)])
    await client.ask("one", middleware=[recorder("call", log)])
    await client.ask("two")
    assert log == ["call:in", "client:in", "client:out", "call:out", "client:in", "client:out"]


async def test_per_call_middleware_applies_to_streams() -> None:
    log: list[str] = []
    client = Aether(FakeProvider("ok"))
    async for _ in client.stream("hi", middleware=[recorder("call", log)]):
        pass
    assert log == ["call:in", "call:out"]


async def test_call_only_middleware_refuses_to_be_skipped_in_streams() -> None:
    async def audit(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return await call_next(request)

    fake = FakeProvider("ok")
    client = Aether(fake, stack=[audit])
    with pytest.raises(MiddlewareError, match="audit handles calls only") as raised:
        async for _ in client.stream("hi"):
            pass
    assert "calls_only" in str(raised.value)
    assert fake.requests == []


async def test_stream_only_middleware_refuses_to_be_skipped_in_calls() -> None:
    async def shout(request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        async for chunk in call_next(request):
            yield chunk

    client = Aether(FakeProvider("ok"), stack=[shout])
    with pytest.raises(MiddlewareError, match="shout handles streams only"):
        await client.ask("hi")


async def test_calls_only_declares_a_deliberate_skip_in_streams() -> None:
    log: list[str] = []

    async def audit(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        log.append("audit")
        return await call_next(request)

    client = Aether(FakeProvider("ok"), stack=[calls_only(audit)])
    async for _ in client.stream("hi"):
        pass
    await client.ask("hi")
    assert log == ["audit"]


async def test_streams_only_declares_a_deliberate_skip_in_calls() -> None:
    log: list[str] = []

    async def watch(request: LLMRequest, call_next: StreamNext) -> AsyncIterator[StreamChunk]:
        log.append("watch")
        async for chunk in call_next(request):
            yield chunk

    client = Aether(FakeProvider("ok"), stack=[streams_only(watch)])
    await client.ask("hi")
    async for _ in client.stream("hi"):
        pass
    assert log == ["watch"]


async def test_on_request_transform_runs_in_both_modes() -> None:
    fake = FakeProvider("ok")

    def route(request: LLMRequest) -> LLMRequest:
        return request.model_copy(update={"model": "cheap"})

    client = Aether(fake, stack=[on_request(route)])
    await client.ask("hi")
    async for _ in client.stream("hi"):
        pass
    assert [request.model for request in fake.requests] == ["cheap", "cheap"]


async def test_async_on_request_transform_must_return_a_request() -> None:
    async def broken(request: LLMRequest) -> None:
        return None

    client = Aether(FakeProvider("ok"), stack=[on_request(broken)])
    with pytest.raises(MiddlewareError, match="returned NoneType"):
        await client.ask("hi")


def test_non_middleware_is_refused_when_composed() -> None:
    with pytest.raises(MiddlewareError, match="is not a middleware"):
        Pipeline([lambda request: request], FakeProvider("ok"))


def test_non_provider_is_refused_when_composed() -> None:
    with pytest.raises(MiddlewareError, match="is not a provider"):
        Pipeline([], object())


def test_pipeline_repr_shows_the_effective_order() -> None:
    async def audit(request: LLMRequest, call_next: CallNext) -> LLMResponse:
        return await call_next(request)

    log: list[str] = []
    client = Aether(FakeProvider("ok"), stack=[audit, recorder("both", log)])
    assert repr(client.pipeline) == "Pipeline(audit[call only] → both → fake)"


async def test_provider_without_stream_still_streams() -> None:
    class CompleteOnly:
        async def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(text="whole answer", model="m", output_tokens=2)

    client = Aether(CompleteOnly())
    chunks = [chunk async for chunk in client.stream("hi")]
    assert [chunk.text for chunk in chunks] == ["whole answer", ""]
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].output_tokens == 2


async def test_callable_object_middleware_is_a_call_middleware() -> None:
    class Tag:
        async def __call__(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
            response = await call_next(request)
            return response.model_copy(update={"text": response.text + "!"})

    client = Aether(FakeProvider("ok"), stack=[Tag()])
    assert await client.ask("hi") == "ok!"


def test_stream_method_that_returns_instead_of_yielding_is_refused() -> None:
    class Returns:
        async def stream(self, request: LLMRequest, call_next: StreamNext) -> object:
            return call_next(request)

    with pytest.raises(MiddlewareError, match=r"Returns\.stream is an `async def`"):
        Pipeline([Returns()], FakeProvider("ok"))


def test_call_method_that_yields_is_refused() -> None:
    class Yields:
        async def call(
            self, request: LLMRequest, call_next: CallNext
        ) -> AsyncIterator[LLMResponse]:
            yield await call_next(request)

    with pytest.raises(MiddlewareError, match=r"Yields\.call is an async generator"):
        Pipeline([Yields()], FakeProvider("ok"))


async def test_the_chain_is_composed_once_when_the_client_is_built() -> None:
    lookups: list[str] = []

    class Counted:
        name = "counted"

        async def _call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
            return await call_next(request)

        async def _stream(
            self, request: LLMRequest, call_next: StreamNext
        ) -> AsyncIterator[StreamChunk]:
            async for chunk in call_next(request):
                yield chunk

        @property
        def call(self) -> object:
            lookups.append("call")
            return self._call

        @property
        def stream(self) -> object:
            lookups.append("stream")
            return self._stream

    client = Aether(FakeProvider("ok"), stack=[Counted()])
    after_build = list(lookups)
    assert sorted(after_build) == ["call", "stream"]
    for _ in range(3):
        assert await client.ask("hi") == "ok"
        assert [delta async for delta in client.stream_text("hi")] == ["ok"]
    assert lookups == after_build
