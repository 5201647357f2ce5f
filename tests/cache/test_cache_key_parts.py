"""The key of a request with content parts: media by a hash of their bytes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from _cache_helpers import cached_pipeline, provider, request

from aether import ImagePart, LLMRequest, Message, ProviderPart, ReasoningPart, ToolCall
from aether.middleware import _cache_key
from aether.middleware.cache import CacheBackend, CacheMiddleware

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def asking(*parts: Any, history: tuple[Message, ...] = ()) -> LLMRequest:
    return request(messages=(*history, Message(role="user", content=["What is it?", *parts])))


def key(sent: LLMRequest) -> str:
    return CacheMiddleware(provider="anthropic").key(sent, stream=False)


def test_two_images_that_differ_in_one_byte_give_two_keys() -> None:
    other = bytearray(PNG)
    other[-1] ^= 1
    assert key(asking(ImagePart(data=PNG))) != key(asking(ImagePart(data=bytes(other))))


def test_the_same_bytes_in_two_part_objects_give_one_key() -> None:
    assert key(asking(ImagePart(data=PNG))) == key(asking(ImagePart(data=bytes(PNG))))


@pytest.mark.parametrize(
    "changed",
    [
        ImagePart(data=PNG, detail="low"),
        ImagePart(url="https://example.com/a.png"),
        ImagePart(data=PNG[:-1]),
    ],
    ids=["detail", "url", "size"],
)
def test_what_else_a_media_part_says_changes_the_key(changed: ImagePart) -> None:
    assert key(asking(changed)) != key(asking(ImagePart(data=PNG)))


def test_a_reasoning_signature_and_a_call_signature_change_the_key() -> None:
    def turn(signature: str, call_signature: str) -> Message:
        return Message(
            role="assistant",
            content=[ReasoningPart(text="hmm", signature=signature, provider="anthropic"), "ok"],
            tool_calls=[ToolCall(id="c1", name="t", signature=call_signature)],
        )

    keys = {key(asking(history=(turn(a, b),))) for a in ("s1", "s2") for b in ("g1", "g2")}
    assert len(keys) == 4


def test_key_order_inside_a_provider_part_does_not_matter() -> None:
    first = ProviderPart(provider="anthropic", kind="server_tool_use", data={"a": 1, "b": [2]})
    second = ProviderPart(provider="anthropic", kind="server_tool_use", data={"b": [2], "a": 1})
    assert key(asking(first)) == key(asking(second))


def test_a_five_megabyte_image_adds_its_hash_not_its_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = ImagePart(data=PNG + bytes(5_000_000))
    documents: list[bytes] = []
    original = _cache_key.to_json

    def recording(value: Any, **options: Any) -> bytes:
        documents.append(original(value, **options))
        return documents[-1]

    monkeypatch.setattr(_cache_key, "to_json", recording)
    key(asking(big))
    assert len(documents) == 1
    assert len(documents[0]) < 2_000
    assert hashlib.sha256(big.data or b"").hexdigest().encode() in documents[0]


async def test_a_request_with_the_same_image_hits(cache_backend: CacheBackend) -> None:
    fake = provider()
    pipeline, cache = cached_pipeline(cache_backend, fake)
    await pipeline.complete(asking(ImagePart(data=PNG)))
    await pipeline.complete(asking(ImagePart(data=bytes(PNG))))
    assert (cache.stats.hits, cache.stats.misses, len(fake.requests)) == (1, 1, 1)
