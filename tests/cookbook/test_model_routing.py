"""The model routing recipe: cheap model for short prompts, strong one otherwise, both modes."""

from __future__ import annotations

import pytest

from aether import Aether, ImagePart, LLMRequest, Message
from aether.extensions.llm.fake import FakeProvider
from aether.pipeline import on_request
from middleware.model_routing import ModelRouter

SHORT = "What is 2 + 2?"
LONG = "Summarise this report. " + "The quarter went well. " * 100


def routed(fake: FakeProvider, *, limit: int = 200) -> Aether:
    router = ModelRouter(cheap_model="small", strong_model="large", max_cheap_characters=limit)
    return Aether(fake, stack=[on_request(router)])


async def test_short_prompt_goes_to_the_cheap_model_in_calls() -> None:
    fake = FakeProvider("4")
    await routed(fake).ask(SHORT)
    assert fake.last_request.model == "small"


async def test_long_prompt_goes_to_the_strong_model_in_calls() -> None:
    fake = FakeProvider("ok")
    await routed(fake).ask(LONG)
    assert fake.last_request.model == "large"


async def test_short_prompt_goes_to_the_cheap_model_in_streams() -> None:
    fake = FakeProvider("4")
    async for _delta in routed(fake).stream_text(SHORT):
        pass
    assert fake.last_request.model == "small"


async def test_long_prompt_goes_to_the_strong_model_in_streams() -> None:
    fake = FakeProvider("ok")
    async for _delta in routed(fake).stream_text(LONG):
        pass
    assert fake.last_request.model == "large"


async def test_whole_conversation_counts_toward_the_length() -> None:
    fake = FakeProvider("ok")
    convo = [
        Message(role="system", content="x" * 150),
        Message(role="user", content="y" * 51),
    ]
    await routed(fake, limit=200).ask(convo)
    assert fake.last_request.model == "large"


async def test_limit_is_inclusive() -> None:
    fake = FakeProvider("ok")
    await routed(fake, limit=len(SHORT)).ask(SHORT)
    assert fake.last_request.model == "small"


async def test_route_is_written_to_the_context() -> None:
    fake = FakeProvider("ok")
    await routed(fake).ask(LONG)
    assert fake.last_request.context["model_route"] == "strong"


async def test_pinned_call_keeps_its_model() -> None:
    fake = FakeProvider("ok")
    await routed(fake).ask(SHORT, model="exact-model", context={"pin_model": True})
    assert fake.last_request.model == "exact-model"
    assert "model_route" not in fake.last_request.context


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_cheap_characters"):
        ModelRouter(cheap_model="a", strong_model="b", max_cheap_characters=-1)


def test_router_is_named_in_the_pipeline_repr() -> None:
    router = ModelRouter(cheap_model="small", strong_model="large")
    client = Aether(FakeProvider("ok"), stack=[on_request(router)])
    assert repr(client.pipeline) == "Pipeline(ModelRouter → fake)"


def test_a_conversation_with_an_image_goes_to_the_strong_model() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(8)
    router = ModelRouter(cheap_model="small", strong_model="large")
    short = LLMRequest(messages=(Message(role="user", content="What is this?"),))
    with_image = LLMRequest(
        messages=(Message(role="user", content=["What is this?", ImagePart(data=png)]),)
    )
    assert (router.route(short), router.route(with_image)) == ("cheap", "strong")
