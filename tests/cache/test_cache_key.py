"""The key: everything that changes the answer, nothing volatile."""

from __future__ import annotations

from typing import Any

import pytest
from _cache_helpers import cached_pipeline, provider, request

from aether import LLMRequest, Message, Tool, ToolCall
from aether.middleware.cache import CacheBackend, CacheMiddleware

WEATHER = Tool(
    name="weather",
    description="The weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


async def handler(arguments: dict[str, Any]) -> str:
    return "sunny"


def base(**fields: Any) -> LLMRequest:
    values: dict[str, Any] = {
        "temperature": 0.2,
        "max_tokens": 100,
        "top_p": 0.9,
        "stop": ("END",),
        "tools": (WEATHER,),
        "tool_choice": "auto",
        "provider_options": {"openai": {"seed": 7, "response_format": {"type": "json_object"}}},
    }
    values.update(fields)
    return request(**values)


def key(sent: LLMRequest, *, provider: str | None = "openai", stream: bool = False) -> str:
    return CacheMiddleware(provider=provider).key(sent, stream=stream)


CHANGES: dict[str, dict[str, Any]] = {
    "model": {"model": "gpt-4o"},
    "temperature": {"temperature": 0.3},
    "no-temperature": {"temperature": None},
    "max_tokens": {"max_tokens": 101},
    "top_p": {"top_p": 1.0},
    "stop": {"stop": ("STOP",)},
    "tool_choice": {"tool_choice": "required"},
    "tool-schema": {
        "tools": (
            WEATHER.model_copy(
                update={
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                    }
                }
            ),
        )
    },
    "tool-description": {"tools": (WEATHER.model_copy(update={"description": "Weather"}),)},
    "tool-name": {"tools": (WEATHER.model_copy(update={"name": "forecast"}),)},
    "no-tools": {"tools": ()},
    "provider_options": {"provider_options": {"openai": {"seed": 8}}},
    "response-format": {
        "provider_options": {"openai": {"seed": 7, "response_format": {"type": "text"}}}
    },
    "prompt": {"messages": (Message(role="user", content="What is the capital of Spain?"),)},
    "system": {
        "messages": (
            Message(role="system", content="Be terse."),
            Message(role="user", content="What is the capital of France?"),
        )
    },
    "tool-call-arguments": {
        "messages": (
            Message(role="user", content="What is the capital of France?"),
            Message(
                role="assistant",
                tool_calls=(ToolCall(id="c1", name="weather", arguments={"city": "Paris"}),),
            ),
            Message(role="tool", content="sunny", tool_call_id="c1", name="weather"),
        )
    },
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_field_that_changes_the_answer_changes_the_key(change: str) -> None:
    assert key(base(**CHANGES[change])) != key(base())


def test_the_provider_name_and_the_mode_change_the_key() -> None:
    assert key(base(), provider="gemini") != key(base())
    assert key(base(), stream=True) != key(base())


def test_context_is_not_part_of_the_key() -> None:
    assert key(base(context={"user": "alice", "trace": 1})) == key(base())


def test_a_tool_handler_is_not_part_of_the_key() -> None:
    with_handler = WEATHER.model_copy(update={"handler": handler})
    assert key(base(tools=(with_handler,))) == key(base())


def test_key_order_inside_json_objects_does_not_matter() -> None:
    reordered = {"openai": {"response_format": {"type": "json_object"}, "seed": 7}}
    schema = {"properties": {"city": {"type": "string"}}, "type": "object"}
    tool = WEATHER.model_copy(update={"parameters": schema})
    assert key(base(provider_options=reordered, tools=(tool,))) == key(base())


def test_infinities_nan_and_null_in_options_give_different_keys() -> None:
    values = (float("inf"), float("-inf"), float("nan"), None)
    keys = {key(base(provider_options={"openai": {"x": value}})) for value in values}
    assert len(keys) == len(values)


def test_the_key_is_a_stable_sha256_hex_digest() -> None:
    digest = key(base())
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert key(base()) == digest


async def test_a_different_temperature_misses(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, _ = cached_pipeline(cache_backend, fake)
    await pipeline.complete(base())
    await pipeline.complete(base(temperature=0.9))
    await pipeline.complete(base())
    assert len(fake.requests) == 2


async def test_a_different_tool_schema_misses(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, _ = cached_pipeline(cache_backend, fake)
    await pipeline.complete(base())
    await pipeline.complete(base(**CHANGES["tool-schema"]))
    assert len(fake.requests) == 2


async def test_a_different_context_hits(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, _ = cached_pipeline(cache_backend, fake)
    await pipeline.complete(base(context={"user": "alice"}))
    await pipeline.complete(base(context={"user": "bob"}))
    assert len(fake.requests) == 1
