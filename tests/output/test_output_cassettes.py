"""Cassettes record structured-output calls and replay them, re-asks included."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from aether import Aether, ProviderConfig
from aether.testing.cassette import CassetteMismatchError, CassetteProvider
from aether.testing.wire import MockServer, Mode, WireFormat
from aether.testing.wires import BUILTIN_WIRES
from tests.output._models import Item, Point
from tests.output._wire_support import text_reply


async def structured(client: Aether, mode: Mode, output_type: Any = Point) -> Any:
    if mode == "complete":
        return (await client.complete("Where?", output_type=output_type)).output
    async with aclosing(client.stream("Where?", output_type=output_type)) as chunks:
        return [chunk async for chunk in chunks][-1].output


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_a_structured_call_with_a_reask_records_and_replays(
    wire: WireFormat, mode: Mode, tmp_path: Path
) -> None:
    path = tmp_path / "structured.json"
    server = MockServer(
        wire, [text_reply('{"x": "three", "y": 4}'), text_reply('{"x": 3, "y": 4}')]
    )
    recorder = CassetteProvider(path, wire.build_provider(server), mode="record")
    async with Aether(recorder) as client:
        assert await structured(client, mode) == Point(3, 4)
    assert len(server.requests) == 2

    cassette = json.loads(path.read_text())
    first, second = cassette["interactions"]
    assert first["request"]["output"]["name"] == "Point"
    assert "output_type" not in first["request"]["output"]  # the Python type is not written
    assert len(second["request"]["messages"]) == 3  # the re-ask: answer and errors sent back

    replayer = CassetteProvider(path, ProviderConfig(name=wire.name), mode="replay-only")
    async with Aether(replayer) as client:
        assert await structured(client, mode) == Point(3, 4)
        # Both attempts were replayed: the re-ask happened again, from the recording.
        with pytest.raises(CassetteMismatchError, match="all 2 were used"):
            await structured(client, mode)

    another = CassetteProvider(path, ProviderConfig(name=wire.name), mode="replay-only")
    async with Aether(another) as client:
        with pytest.raises(CassetteMismatchError, match="output"):
            await structured(client, mode, output_type=Item)
