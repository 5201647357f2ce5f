"""The benchmark mock server speaks each vendor's wire format well enough for the adapters.

The server runs as a subprocess on loopback, as in the benchmarks; every answer must reach
Aether whole (the benchmarks check answer text, so a server that drifted from a vendor's
format would make them fail rather than measure less work).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from aether import Aether, ProviderConfig
from benchmarks.mock_openai_server import (
    ANTHROPIC_MODEL,
    GEMINI_MODEL,
    PROMPT_TOKENS,
    RESPONSES_MODEL,
    answer_text,
    answer_words,
    running_server,
)

PROVIDERS = ("openai", "anthropic", "gemini", "openai-responses")
MODELS = {
    "openai": "gpt-4o-mini-2024-07-18",
    "anthropic": ANTHROPIC_MODEL,
    "gemini": GEMINI_MODEL,
    "openai-responses": RESPONSES_MODEL,
}


@pytest.fixture(scope="module")
def server_root() -> Iterator[str]:
    with running_server(chunks=12) as url:
        yield url.removesuffix("/v1")


def _client(provider: str, root: str, *, prefix: str = "") -> Aether:
    openai = provider in ("openai", "openai-responses")
    base_url = f"{root}{prefix}/v1" if openai else f"{root}{prefix}"
    config = ProviderConfig(name=provider, api_key="bench-key", base_url=base_url)
    return Aether(config=config, stack=[])


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mock_server_answers_a_call_in_each_wire_format(
    provider: str, server_root: str
) -> None:
    async with _client(provider, server_root) as client:
        response = await client.complete("hi")
    assert (response.text, response.model) == (answer_text(12), MODELS[provider])
    assert (response.input_tokens, response.output_tokens) == (PROMPT_TOKENS, 12)
    assert response.finish_reason == "stop"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mock_server_streams_one_chunk_per_word_in_each_wire_format(
    provider: str, server_root: str
) -> None:
    async with _client(provider, server_root) as client:
        chunks = [chunk async for chunk in client.stream("hi")]
    texts = [chunk.text for chunk in chunks[:-1]]
    final = chunks[-1]
    assert texts == list(answer_words(12))
    assert (final.finish_reason, final.input_tokens, final.output_tokens) == (
        "stop",
        PROMPT_TOKENS,
        12,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_chunks_path_prefix_sets_the_answer_length(provider: str, server_root: str) -> None:
    async with _client(provider, server_root, prefix="/chunks/3") as client:
        assert await client.ask("hi") == answer_text(3)


def test_answer_words_never_repeat_back_to_back() -> None:
    # LiteLLM aborts a stream whose chunks repeat 100 times in a row.
    words = answer_words(250)
    assert len(words) == 250
    assert all(first != second for first, second in itertools.pairwise(words))
