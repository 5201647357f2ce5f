"""Reading answers the fast way loses nothing: `loads` reads what ``json.loads`` reads,
and a coded body is still decoded when the transport's stream is read directly."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether import Aether
from aether.errors import MalformedResponseError
from aether.extensions.llm._http import body_chunks
from aether.extensions.llm._json_body import loads
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import OPENAI_WIRE

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES, st.booleans())
@settings(max_examples=200, deadline=None)
def test_loads_reads_what_json_loads_reads(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text.encode())


def test_loads_takes_what_only_the_lenient_parser_takes() -> None:
    assert loads('{"text": "\\ud83d"}') == {"text": "\ud83d"}  # a lone surrogate escape
    assert loads(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 byte-order mark


def test_loads_raises_json_decode_error_for_invalid_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads('{"cut": ')


class _Coded:
    """Serves an OpenAI answer gzip-coded, or a stream of it, through a MockServer."""

    def __init__(self) -> None:
        self.server = MockServer(OPENAI_WIRE)

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        plain = self.server(request)
        body = await plain.aread()
        headers = {**plain.headers, "content-encoding": "gzip"}
        headers.pop("content-length", None)
        return httpx2.Response(plain.status_code, headers=headers, content=gzip.compress(body))


@pytest.mark.anyio
@pytest.mark.usefixtures("openai_http_path")
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_gzip_coded_answer_is_decoded(stream: bool) -> None:
    coded = _Coded()
    coded.server.add(ScriptedReply(text=("Hello", " there")))
    provider = OPENAI_WIRE.build_provider(coded)
    async with Aether(provider, stack=[]) as client:
        if stream:
            text = "".join([piece async for piece in client.stream_text("hi")])
        else:
            text = (await client.complete("hi")).text
    assert text == "Hello there"


@pytest.mark.anyio
async def test_an_identity_body_is_read_from_the_stream_and_a_coded_one_decoded() -> None:
    plain = httpx2.Response(200, content=b"abc")
    assert b"".join([part async for part in body_chunks(plain)]) == b"abc"
    coded = httpx2.Response(
        200, headers={"content-encoding": "gzip"}, content=gzip.compress(b"abc")
    )
    assert b"".join([part async for part in body_chunks(coded)]) == b"abc"


@pytest.mark.anyio
@pytest.mark.usefixtures("openai_http_path")
async def test_invalid_json_in_a_json_answer_is_a_malformed_response() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "application/json"}, content=b'{"id": "cut'
        )

    async with Aether(OPENAI_WIRE.build_provider(handler), stack=[]) as client:
        with pytest.raises(MalformedResponseError):
            await client.complete("hi")
