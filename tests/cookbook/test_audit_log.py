"""The JSONL audit log recipe: one scrubbed line per call or stream, written off the loop."""

from __future__ import annotations

import json
import logging
import time
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from aether import (
    Aether,
    DocumentPart,
    ImagePart,
    LLMResponse,
    Message,
    ReasoningPart,
    TextPart,
    ToolCall,
)
from aether.errors import ServerError
from aether.extensions.llm.fake import FakeProvider, StreamFault
from middleware.audit_log import JsonlAuditLog, is_secret_field, scrub

OPENAI_KEY = "sk-proj-Abc123def456GHI789jkl012"
SECRETS = {
    "openai": OPENAI_KEY,
    "anthropic": "sk-ant-api03-Zyx987wvu654TSR321qpo",
    "google": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "github": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "slack": "xoxb-123456789012-abcdefghijkl",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "groq": "gsk_8f7d6e5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a",
    "huggingface": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
}


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_scrub_removes_known_key_formats(kind: str) -> None:
    cleaned = scrub(f"the {kind} key is {SECRETS[kind]} ok")
    assert SECRETS[kind] not in cleaned
    assert cleaned == f"the {kind} key is [REDACTED] ok"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "Authorization: Bearer [REDACTED]"),
        ('{"api_key": "hunter2hunter2"}', '{"api_key": "[REDACTED]"}'),
        ("password=correct-horse, next", "password=[REDACTED], next"),
        ("DB_PASSWORD: s3cr3t!!", "DB_PASSWORD: [REDACTED]"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "[REDACTED]",
        ),
        ("connect(password='s3cr3tpassw0rd')", "connect(password='[REDACTED]')"),
        ('pwd: "correct horse battery"', 'pwd: "[REDACTED]"'),
        ("export OPENAI_KEY='sk-...'", "export OPENAI_KEY='[REDACTED]'"),
        ("x-api-key=abcd1234", "x-api-key=[REDACTED]"),
        ("the token bucket refills", "the token bucket refills"),
        ("monkey: banana, max_tokens: 1", "monkey: banana, max_tokens: 1"),
        ("skip-this-word and AKIA lowercase", "skip-this-word and AKIA lowercase"),
    ],
)
def test_scrub_patterns(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "api_key",
        "api-key",
        "apiKey",
        "APIKEY",
        "OPENAI_API_KEY",
        "Authorization",
        "X-Auth-Token",
        "access_token",
        "client_secret",
        "Set-Cookie",
        "private_key",
    ],
)
def test_secret_field_names_are_recognised(name: str) -> None:
    assert is_secret_field(name)


@pytest.mark.parametrize(
    "name", ["input_tokens", "max_tokens", "user_id", "keyboard", "monkey", "author", "content"]
)
def test_ordinary_field_names_are_kept(name: str) -> None:
    assert not is_secret_field(name)


def test_scrub_replaces_the_values_of_secret_fields_at_any_depth() -> None:
    value = {
        "user": "bob",
        "password": "hunter2hunter2",
        "openai": {"extra_headers": {"api-key": "3f2b9c0d4e5a", "Accept": "text/plain"}},
        "pin_code": 1234,
        "auth": {"scheme": "basic", "pair": ["bob", "pw"]},
        "api_key": None,
        "usage": {"input_tokens": 12},
    }
    assert scrub(value) == {
        "user": "bob",
        "password": "[REDACTED]",
        "openai": {"extra_headers": {"api-key": "[REDACTED]", "Accept": "text/plain"}},
        "pin_code": 1234,
        "auth": "[REDACTED]",
        "api_key": None,
        "usage": {"input_tokens": 12},
    }


async def test_structured_secrets_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    login = ToolCall(id="c1", name="login", arguments={"user": "bob", "password": "hunter2hunter2"})
    fake = FakeProvider(responses=[LLMResponse(text="", model="m", tool_calls=(login,))])
    client = Aether(fake, stack=[JsonlAuditLog(path)])
    headers = {"extra_headers": {"api-key": "3f2b9c0d4e5a6b7c8d9e0f1a2b3c4d5e"}}
    convo = [
        Message(role="user", content="log me in"),
        Message(role="assistant", tool_calls=(login,)),
        Message(role="tool", content="ok", tool_call_id="c1", name="login"),
    ]
    await client.complete(convo, provider_options={"openai": headers})
    text = path.read_text(encoding="utf-8")
    assert "hunter2hunter2" not in text
    assert "3f2b9c0d4e5a6b7c8d9e0f1a2b3c4d5e" not in text
    [line] = read_lines(path)
    assert line["response"]["tool_calls"][0]["arguments"] == {
        "user": "bob",
        "password": "[REDACTED]",
    }
    assert line["request"]["messages"][1]["tool_calls"][0]["arguments"]["password"] == "[REDACTED]"
    assert line["request"]["provider_options"] == {
        "openai": {"extra_headers": {"api-key": "[REDACTED]"}}
    }


def test_scrub_walks_containers_and_stringifies_the_rest() -> None:
    value = {"a": [OPENAI_KEY, 1, None, True], "b": (2.5, Path("x"))}
    assert scrub(value) == {"a": ["[REDACTED]", 1, None, True], "b": [2.5, "x"]}


async def test_call_writes_one_line_with_request_and_response(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    client = Aether(FakeProvider("four"), stack=[JsonlAuditLog(path)])
    await client.ask("What is 2 + 2?", context={"user_id": "alice"}, temperature=0.1)
    [line] = read_lines(path)
    assert (line["mode"], line["outcome"], line["error"]) == ("call", "ok", None)
    assert line["request"]["messages"] == [{"role": "user", "content": "What is 2 + 2?"}]
    assert line["request"]["temperature"] == 0.1
    assert line["response"]["text"] == "four"
    assert (line["response"]["input_tokens"], line["response"]["output_tokens"]) == (5, 1)
    assert line["context"] == {"user_id": "alice"}
    assert len(line["id"]) == 32
    assert datetime.fromisoformat(line["time"]).tzinfo is not None
    assert line["duration_seconds"] >= 0


async def test_stream_writes_one_line_with_the_assembled_text(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fake = FakeProvider(responses=[LLMResponse(text="a b c d e", model="m", cost_usd=0.25)])
    client = Aether(fake, stack=[JsonlAuditLog(path)])
    deltas = [delta async for delta in client.stream_text("go")]
    assert len(deltas) == 5
    [line] = read_lines(path)
    assert (line["mode"], line["outcome"]) == ("stream", "ok")
    assert line["response"]["text"] == "a b c d e"
    assert line["response"]["cost_usd"] == 0.25
    assert line["response"]["finish_reason"] == "stop"


async def test_secrets_are_scrubbed_from_every_part_of_the_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fake = FakeProvider(
        responses=[
            LLMResponse(
                text=f"Use {SECRETS['google']} for maps.",
                model="m",
                tool_calls=(
                    ToolCall(id="c1", name="http", arguments={"header": "Bearer abcdefgh12345"}),
                ),
            )
        ]
    )
    client = Aether(fake, stack=[JsonlAuditLog(path, context_keys=("user_id", "note"))])
    convo = [
        Message(role="system", content=f"Our key: {OPENAI_KEY}"),
        Message(role="user", content="Which key should I use?"),
    ]
    await client.ask(convo, context={"user_id": "alice", "note": f"token={SECRETS['slack']}"})
    text = path.read_text(encoding="utf-8")
    for secret in (OPENAI_KEY, SECRETS["google"], SECRETS["slack"], "abcdefgh12345"):
        assert secret not in text
    [line] = read_lines(path)
    assert line["request"]["messages"][0]["content"] == "Our key: [REDACTED]"
    assert line["request"]["messages"][1]["content"] == "Which key should I use?"
    assert line["response"]["text"] == "Use [REDACTED] for maps."
    assert line["response"]["tool_calls"][0]["arguments"] == {"header": "Bearer [REDACTED]"}
    assert line["context"] == {"user_id": "alice", "note": "token=[REDACTED]"}


async def test_failed_call_is_logged_with_its_error_and_raised(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    failure = ServerError(f"upstream echoed {OPENAI_KEY}", provider="fake", status_code=503)
    client = Aether(FakeProvider(responses=[failure]), stack=[JsonlAuditLog(path)])
    with pytest.raises(ServerError):
        await client.ask("hi")
    [line] = read_lines(path)
    assert (line["outcome"], line["response"]) == ("error", None)
    assert line["error"] == {
        "type": "ServerError",
        "message": "upstream echoed [REDACTED] (provider=fake, status=503)",
    }


async def test_stream_failing_mid_way_logs_its_partial_text(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fault = StreamFault(ServerError("cut"), after_chunks=2, text="one two three")
    client = Aether(FakeProvider(responses=[fault]), stack=[JsonlAuditLog(path)])
    with pytest.raises(ServerError):
        async for _delta in client.stream_text("go"):
            pass
    [line] = read_lines(path)
    assert (line["outcome"], line["error"]["type"]) == ("error", "ServerError")
    assert line["response"]["text"] == "one two "
    assert line["response"]["finish_reason"] is None


async def test_abandoned_stream_is_logged_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fake = FakeProvider("one two three")
    client = Aether(fake, stack=[JsonlAuditLog(path)])
    async with aclosing(client.stream("go")) as chunks:
        async for _chunk in chunks:
            break
    [line] = read_lines(path)
    assert (line["outcome"], line["response"]["text"], line["error"]) == (
        "abandoned",
        "one ",
        None,
    )
    assert fake.open_streams == 0


async def test_cancelled_call_is_still_logged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    client = Aether(FakeProvider("late", delay=5), stack=[JsonlAuditLog(path)])
    with anyio.move_on_after(0.05) as scope:
        await client.ask("hi")
    assert scope.cancelled_caught
    [line] = read_lines(path)
    assert (line["outcome"], line["response"], line["error"]) == ("cancelled", None, None)


async def test_concurrent_calls_write_whole_separate_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    client = Aether(FakeProvider("x" * 5000, delay=0.01), stack=[JsonlAuditLog(path)])
    async with anyio.create_task_group() as group:
        for index in range(30):
            group.start_soon(client.ask, f"call {index}")
    lines = read_lines(path)
    assert len(lines) == 30
    assert len({line["id"] for line in lines}) == 30
    assert sorted(line["request"]["messages"][0]["content"] for line in lines) == sorted(
        f"call {index}" for index in range(30)
    )


async def test_request_id_from_the_caller_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    client = Aether(FakeProvider("ok"), stack=[JsonlAuditLog(path)])
    await client.ask("hi", context={"request_id": "req-42"})
    assert read_lines(path)[0]["id"] == "req-42"


async def test_only_the_chosen_context_keys_are_logged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    client = Aether(FakeProvider("ok"), stack=[JsonlAuditLog(path)])
    await client.ask("hi", context={"user_id": "u1", "session_cookie": "abc"})
    assert read_lines(path)[0]["context"] == {"user_id": "u1"}


async def test_writing_does_not_block_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = JsonlAuditLog._append

    def slow_append(self: JsonlAuditLog, line: str) -> None:
        time.sleep(0.3)  # a slow disk
        original(self, line)

    monkeypatch.setattr(JsonlAuditLog, "_append", slow_append)
    client = Aether(FakeProvider("ok"), stack=[JsonlAuditLog(tmp_path / "audit.jsonl")])
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        await client.ask("hi")
        group.cancel_scope.cancel()
    # Blocking the loop for 0.3 s would allow no tick at all; off the loop, about 30.
    assert ticks >= 5


async def test_failed_write_is_logged_and_the_call_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = Aether(FakeProvider("ok"), stack=[JsonlAuditLog(tmp_path)])  # a directory
    with caplog.at_level(logging.ERROR, logger="middleware.audit_log"):
        assert await client.ask("hi") == "ok"
    assert f"could not append to the audit log {tmp_path}" in caplog.text


async def test_strict_log_raises_a_failed_write(tmp_path: Path) -> None:
    client = Aether(FakeProvider("ok"), stack=[JsonlAuditLog(tmp_path, strict=True)])
    with pytest.raises(OSError):  # noqa: PT011 - any OS error of the platform
        await client.ask("hi")


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


async def test_parts_are_logged_without_their_bytes_or_signatures(tmp_path: Path) -> None:
    import base64
    import hashlib

    path = tmp_path / "audit.jsonl"
    answer = LLMResponse(
        text="A chart.",
        model="m",
        parts=(
            ReasoningPart(text="Looks like bars.", signature="U0lHTkFUVVJF", provider="anthropic"),
            TextPart(text="A chart."),
        ),
        tool_calls=(ToolCall(id="c1", name="zoom", signature="VE9PTFNJRw=="),),
    )
    client = Aether(FakeProvider(responses=[answer]), stack=[JsonlAuditLog(path)])
    prompt = [
        f"What is this? My key is {OPENAI_KEY}",
        ImagePart(data=PNG, detail="low"),
        DocumentPart(url="https://example.com/report.pdf?token=s3cr3tt0ken"),
    ]
    await client.complete(prompt)
    text = path.read_text(encoding="utf-8")
    encoded = base64.b64encode(PNG).decode()[:40]
    for leaked in (encoded, "U0lHTkFUVVJF", "VE9PTFNJRw==", OPENAI_KEY):
        assert leaked not in text
    [line] = read_lines(path)
    assert line["request"]["messages"][0]["content"] == [
        {"type": "text", "text": "What is this? My key is [REDACTED]"},
        {
            "type": "image",
            "media_type": "image/png",
            "detail": "low",
            "size": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
        },
        {
            "type": "document",
            "url": "https://example.com/report.pdf?token=[REDACTED]",
            "media_type": "application/pdf",
        },
    ]
    assert line["response"]["parts"] == [
        {"type": "reasoning", "text": "Looks like bars.", "provider": "anthropic"},
        {"type": "text", "text": "A chart."},
    ]
    assert line["response"]["tool_calls"] == [
        {"id": "c1", "name": "zoom", "arguments": {}, "raw_arguments": None}
    ]
