"""Cassettes: recorded against a loopback server through the real SDKs, replayed offline."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from aether import Aether, ModelPricing, ProviderConfig, RateLimitError
from aether.extensions.llm.fake import FakeProvider
from aether.testing.cassette import CassetteMismatchError, CassetteProvider
from aether.testing.wire import (
    MockServer,
    Mode,
    ScriptedError,
    ScriptedReply,
    ScriptedToolCall,
    WireFormat,
)
from aether.testing.wires import BUILTIN_WIRES
from tests.reliability._loopback import LoopbackServer
from tests.reliability.test_socket_faults import socket_provider

MODEL = "scripted-model-001"
PRICES = {MODEL: ModelPricing(input_per_mtok=1.0, output_per_mtok=2.0)}
ROOT = Path(__file__).parents[2]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    CALLS.append((a, b))
    return a + b


CALLS: list[tuple[int, int]] = []


async def conversation(client: Aether, mode: Mode) -> list[str]:
    """An answer, then a tool loop: what the app under test does."""
    answers = []
    for prompt, tools in (("hi", []), ("What's 17+25?", [add])):
        if mode == "complete":
            answers.append(await client.ask(prompt, tools=tools, temperature=0))
        else:
            async with aclosing(client.stream_text(prompt, tools=tools, temperature=0)) as text:
                answers.append("".join([delta async for delta in text]))
    return answers


SCRIPT = [
    ScriptedReply(text=("Hello", " there.")),
    ScriptedReply(
        tool_calls=(ScriptedToolCall("call_1", "add", ('{"a": 17,', ' "b": 25}')),),
        finish_reason="tool_calls",
    ),
    ScriptedReply(text=("It is ", "42.")),
]


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_record_against_a_server_then_replay_offline(
    wire: WireFormat, mode: Mode, tmp_path: Path
) -> None:
    path = tmp_path / "cassette.json"
    CALLS.clear()
    mock = MockServer(wire, SCRIPT)
    async with LoopbackServer(mock).running() as server:
        recorder = CassetteProvider(path, socket_provider(wire, server, timeout=30), mode="record")
        async with Aether(recorder, prices=PRICES) as client:
            recorded = await conversation(client, mode)
    assert recorded == ["Hello there.", "It is 42."]
    assert len(mock.requests) == 3
    assert CALLS == [(17, 25)]

    text = path.read_text()
    assert wire.api_key not in text  # the key never reaches the file
    cassette = json.loads(text)
    assert [item["mode"] for item in cassette["interactions"]] == [mode] * 3
    assert cassette["provider"] == wire.name
    assert text.count("\n") > 20  # indented: one field per line, for people to read

    # Offline: the server is gone, no key is set, the real provider is never built.
    replayer = CassetteProvider(path, ProviderConfig(name=wire.name), mode="replay-only")
    async with Aether(replayer, prices=PRICES) as client:
        assert await conversation(client, mode) == recorded
        assert client.usage.total_requests == 3
        assert client.usage.total_cost_usd > 0  # usage replays, so cost is counted
    assert CALLS == [(17, 25), (17, 25)]  # the tool ran for real on replay too


async def test_streams_replay_chunk_by_chunk(tmp_path: Path) -> None:
    path = tmp_path / "stream.json"
    fake = FakeProvider(responses=["one two three"])
    async with Aether(CassetteProvider(path, fake, mode="record")) as client:
        live = [chunk async for chunk in client.stream("hi")]
    async with Aether(CassetteProvider(path, mode="replay-only")) as client:
        replayed = [chunk async for chunk in client.stream("hi")]
    assert [c.text for c in replayed] == [c.text for c in live]
    assert len(replayed) > 2
    assert replayed[-1].output_tokens == live[-1].output_tokens


async def test_an_unmatched_request_fails_with_a_readable_diff(tmp_path: Path) -> None:
    path = tmp_path / "diff.json"
    async with Aether(CassetteProvider(path, FakeProvider(), mode="record")) as client:
        await client.ask("What is the capital of France?")
    async with Aether(CassetteProvider(path, mode="replay-only")) as client:
        with pytest.raises(CassetteMismatchError) as caught:
            await client.ask("What is the capital of Spain?")
    message = str(caught.value)
    assert '-      "content": "What is the capital of France?",' in message
    assert '+      "content": "What is the capital of Spain?",' in message
    assert "mode 'record'" in message


async def test_once_records_a_missing_cassette_then_replays_it(tmp_path: Path) -> None:
    path = tmp_path / "once.json"
    fake = FakeProvider(responses=["recorded answer"])
    async with Aether(CassetteProvider(path, fake)) as client:
        assert await client.ask("hi") == "recorded answer"
    silent = FakeProvider(responses=[])  # would fail if it were called
    async with Aether(CassetteProvider(path, silent)) as client:
        assert await client.ask("hi") == "recorded answer"
        with pytest.raises(CassetteMismatchError, match="all 1 were used"):
            await client.ask("hi")
    assert silent.requests == []


async def test_provider_errors_replay_as_the_same_error(tmp_path: Path) -> None:
    from aether.testing.wires.openai import OPENAI_WIRE

    path = tmp_path / "errors.json"
    script = [ScriptedError(429, "slow down", headers={"retry-after": "0"}), SCRIPT[0]]
    mock = MockServer(OPENAI_WIRE, script)
    async with LoopbackServer(mock).running() as server:
        provider = CassetteProvider(
            path, socket_provider(OPENAI_WIRE, server, timeout=30), mode="record"
        )
        async with Aether(provider, prices=PRICES, with_retry=False) as client:
            with pytest.raises(RateLimitError):
                await client.ask("hi")
    replayer = CassetteProvider(path, ProviderConfig(name="openai"), mode="replay-only")
    async with Aether(replayer, prices=PRICES, with_retry=False) as client:
        with pytest.raises(RateLimitError, match="slow down") as caught:
            await client.ask("hi")
    assert caught.value.status_code == 429


async def test_secrets_and_chosen_fields_are_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-0123456789")
    path = tmp_path / "scrubbed.json"

    def drop_user(interaction: dict[str, Any]) -> dict[str, Any]:
        interaction["request"].get("provider_options", {}).get("fake", {}).pop("user", None)
        return interaction

    options = {"fake": {"user": "u-42", "extra_headers": {"Authorization": "Bearer abc"}}}
    recorder = CassetteProvider(
        path, FakeProvider(), mode="record", redact=["alice@example.com"], scrub=drop_user
    )
    async with Aether(recorder) as client:
        prompt = "Mail alice@example.com the code tok-0123456789"
        await client.ask(prompt, provider_options=options)
    text = path.read_text()
    for secret in ("alice@example.com", "tok-0123456789", "Bearer abc", "u-42"):
        assert secret not in text
    assert "<redacted>" in text
    # The live request is cleaned the same way, so it still matches.
    async with Aether(CassetteProvider(path, mode="replay-only", redact=["alice@example.com"],
                                       scrub=drop_user)) as client:  # fmt: skip
        await client.ask(prompt, provider_options=options)


def test_replay_only_without_a_cassette_says_how_to_record(tmp_path: Path) -> None:
    from aether import ConfigurationError

    with pytest.raises(ConfigurationError, match="record it first"):
        CassetteProvider(tmp_path / "missing.json", mode="replay-only")


def test_the_pytest_fixture_records_then_replays(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["aether.testing.pytest_plugin"]\n')
    (tmp_path / "test_app.py").write_text(
        "import pytest\n"
        "from aether import Aether\n"
        "from aether.extensions.llm.fake import FakeProvider\n\n"
        "pytestmark = pytest.mark.anyio\n\n"
        "@pytest.fixture\n"
        "def anyio_backend():\n"
        "    return 'asyncio'\n\n"
        "async def test_answer(aether_cassette):\n"
        "    client = Aether(aether_cassette(FakeProvider(canned_response='recorded')))\n"
        "    assert await client.ask('hi') == 'recorded'\n"
    )

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    cassette = tmp_path / "cassettes" / "test_app" / "test_answer.json"
    assert json.loads(cassette.read_text())["interactions"][0]["response"]["text"] == "recorded"
    replayed = run("--aether-cassette-mode=replay-only")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    cassette.unlink()
    missing = run("--aether-cassette-mode=replay-only")
    assert missing.returncode == 1
    assert "record it first" in missing.stdout
