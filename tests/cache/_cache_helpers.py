"""Shared helpers for the cache tests: a counting provider and requests to send it."""

from __future__ import annotations

from typing import Any

from aether import LLMRequest, LLMResponse, Message, Pipeline
from aether.extensions.llm.fake import FakeProvider
from aether.middleware.cache import CacheBackend, CacheMiddleware

MODEL = "gpt-4o-mini"


def answer(text: str = "Paris is the capital of France.", **fields: Any) -> LLMResponse:
    """A priced-looking answer: gpt-4o-mini tokens, from "openai"."""
    values: dict[str, Any] = {
        "text": text,
        "model": MODEL,
        "provider": "openai",
        "input_tokens": 1000,
        "output_tokens": 500,
        "cost_usd": 0.00045,
    }
    values.update(fields)
    return LLMResponse(**values)


def provider(text: str = "Paris is the capital of France.", **options: Any) -> FakeProvider:
    """A Fake provider that answers every request with ``answer(text)``."""
    response = answer(text)
    return FakeProvider(responder=lambda request: response, **options)


def request(prompt: str = "What is the capital of France?", **fields: Any) -> LLMRequest:
    values: dict[str, Any] = {"messages": (Message(role="user", content=prompt),), "model": MODEL}
    values.update(fields)
    return LLMRequest(**values)


def cached_pipeline(
    backend: CacheBackend, fake: FakeProvider, **options: Any
) -> tuple[Pipeline, CacheMiddleware]:
    """The cache alone in front of ``fake``."""
    cache = CacheMiddleware(backend, provider="fake", **options)
    return Pipeline([cache], fake), cache
