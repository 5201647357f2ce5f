"""The API key never shows: not in a repr, a log record, an event or an exception text.

One run per provider, with a known fake key, captures everything a user could print or
ship to a log: every log record of every logger at DEBUG (formatted, tracebacks
included), every event (a ``"*"`` subscriber), the full text of every exception raised
(``str``, ``repr`` and the whole traceback with its chained causes and notes), and the
reprs of the client, the provider, the config and the pipeline. The run goes through
successes and failures: a 401 whose body echoes the key, rate limits, server errors, an
error event in a stream and a malformed body that both echo it, a tool call, a session.
Then the key must appear nowhere.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from aether import Aether, CircuitBreakerPolicy, ProviderConfig, RetryPolicy
from aether.errors import AuthenticationError, ProviderError
from aether.events import Event
from aether.testing.wire import (
    ConnectionFailure,
    MalformedBody,
    MockServer,
    ScriptedError,
    ScriptedReply,
    ScriptedToolCall,
    StreamErrorEvent,
    WireFormat,
)
from aether.testing.wires import BUILTIN_WIRES
from aether.testing.wires._http import mock_transport

pytestmark = pytest.mark.anyio


class Capture(logging.Handler):
    """Keeps every record, formatted as a log file would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def every_log_record() -> Iterator[Capture]:
    """Every logger at DEBUG, into one handler on the root (restored afterwards)."""
    capture = Capture()
    root = logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    root.addHandler(capture)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.propagate = True
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for logger, level, propagate in saved:
            logger.setLevel(level)
            logger.propagate = propagate


def exception_text(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def broken_subscriber(event: Event) -> None:
    raise RuntimeError(f"this subscriber fails on {event!r}")


async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_the_api_key_appears_nowhere(wire: WireFormat) -> None:
    key = f"sk-reliability-{wire.name}-7f3a9c1e5b2d8f4a"
    echo = f"Incorrect API key provided: {key}."
    call = ScriptedToolCall("call_1", "add", ('{"a": 17, "b": 25}',))
    server = MockServer(
        wire,
        [
            ScriptedReply(text=("Hello",)),  # a plain call
            ScriptedReply(tool_calls=(call,), finish_reason="tool_calls"),  # a tool round
            ScriptedReply(text=("42",)),
            ScriptedError(401, echo),  # refused, with the key echoed back
            ScriptedError(429, echo, {"retry-after": "0"}),  # rate limited, then answered
            ScriptedReply(text=("ok",)),
            ConnectionFailure(),  # retried
            ScriptedReply(text=("ok",)),
            ScriptedError(500, echo),  # fails on both attempts
            ScriptedError(500, echo),
            MalformedBody(body=f'{{"unexpected": "{key}"}}'.encode()),  # both attempts
            MalformedBody(body=f'{{"unexpected": "{key}"}}'.encode()),
            StreamErrorEvent(text=("Hel",), message=echo),  # mid-stream, key echoed
            ScriptedReply(text=("Hi ", "there")),  # a session stream
        ],
    )
    config = ProviderConfig(
        name=wire.name,
        api_key=SecretStr(key),
        model="scripted-model-001",  # no known price: the cost logger warns about it
        options={"transport": mock_transport(server)},
    )
    texts: dict[str, str] = {}
    seen: list[str] = []

    def record(event: Event) -> None:
        seen.append(f"{event!r} {event!s} {getattr(event, 'error', '')!r}")

    with every_log_record() as logs:
        client = Aether(
            config=config,
            retry=RetryPolicy(attempts=2, base_delay=0, jitter=0),
            # Opens on each failure and probes at once: the breaker logs every change.
            circuit_breaker=CircuitBreakerPolicy(failure_threshold=1, cooldown=0),
        )
        client.on("*", record)
        client.on("request.error", broken_subscriber)  # logged by aether.events
        session = client.session("secret", system="Be brief.")
        errors: list[BaseException] = []
        outcomes: list[Any] = [
            await client.ask("hi"),
            await client.ask("What's 17+25?", tools=[add]),
        ]
        # The 401; the 429 then an answer; the connection failure then an answer; the
        # 500 twice; the malformed body twice (in a stream); the error event mid-stream.
        for mode in ("complete", "complete", "complete", "complete", "stream", "session"):
            try:
                if mode == "complete":
                    outcomes.append(await client.ask("hi"))
                    continue
                stream = client.stream("hi") if mode == "stream" else session.stream("hi")
                async with aclosing(stream) as chunks:
                    outcomes += [chunk async for chunk in chunks]
            except Exception as error:
                errors.append(error)
        async with aclosing(session.stream_text("hi")) as deltas:
            outcomes += [delta async for delta in deltas]
        texts["reprs"] = " ".join(
            repr(thing)
            for thing in (client, client.provider, config, client.pipeline, session, *outcomes)
        )
        texts["str(config)"] = str(config)
        await client.aclose()

    assert [type(error).__name__ for error in errors] == [
        "AuthenticationError",
        "ServerError",
        "MalformedResponseError",
        "ServerError",
    ]
    assert outcomes[:4] == ["Hello", "42", "ok", "ok"]
    assert outcomes[-2:] == ["Hi ", "there"]
    texts["exceptions"] = "\n".join(exception_text(error) for error in errors)
    texts["events"] = "\n".join(seen)
    texts["logs"] = "\n".join(logs.lines)
    assert len(seen) > 20  # the capture did capture
    loggers = {line.split()[0] for line in logs.lines}
    assert {"aether.circuit_breaker", "aether.cost", "aether.events"} <= loggers
    leaks = {
        source: [line for line in text.splitlines() if key in line]
        for source, text in texts.items()
        if key in text
    }
    assert leaks == {}


def test_scrubbing_reaches_arguments_attributes_and_causes() -> None:
    from aether.extensions.llm._errors import scrub_secrets

    key = "sk-scrub-0123456789"

    class VendorError(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message
            self.body = {"error": {"message": message, "echo": [key]}}

    transport = ConnectionError(f"refused for {key}")
    vendor = VendorError(f"Incorrect API key provided: {key}")
    vendor.__cause__ = transport
    scrub_secrets(vendor, [key, None])
    assert key not in "".join(traceback.format_exception(vendor))
    assert (vendor.message, vendor.body) == (
        "Incorrect API key provided: ***",
        {"error": {"message": "Incorrect API key provided: ***", "echo": ["***"]}},
    )
    assert str(transport) == "refused for ***"


def _echo_key(request: Any) -> str:
    """The key as the request carried it, whichever header the vendor uses."""
    headers = request.headers
    return str(
        headers.get("authorization") or headers.get("x-api-key") or headers.get("x-goog-api-key")
    )


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_errors_built_from_text_that_echoes_the_key_do_not_repeat_it(
    wire: WireFormat,
) -> None:
    import httpx2

    key = f"sk-echoed-{wire.name}-5e2b7d9c1a3f"

    def refused_by_proxy(request: Any) -> Any:
        raise httpx2.ConnectError(f"proxy refused {_echo_key(request)}", request=request)

    def unreadable(request: Any) -> Any:
        # A body the vendor's SDK (Gemini's typed models) or the adapter cannot read, whose
        # text repeats the key: validation errors print the input they refused.
        echo = _echo_key(request)
        return httpx2.Response(200, json={"modelVersion": {"echo": echo}, "choices": echo})

    errors = []
    for handler in (refused_by_proxy, unreadable):
        config = ProviderConfig(
            name=wire.name, api_key=SecretStr(key), options={"transport": mock_transport(handler)}
        )
        async with Aether(config=config, with_retry=False) as client:
            with pytest.raises(ProviderError) as caught:
                await client.ask("hi")
            errors.append(caught.value)
    assert [type(error).__name__ for error in errors] == [
        "ProviderConnectionError",
        "MalformedResponseError",
    ]
    assert "refused" in str(errors[0])
    leaks = [text for text in map(exception_text, errors) if key in text]
    assert leaks == []


async def test_typed_error_details_are_scrubbed() -> None:
    import httpx2

    from aether.extensions.llm.anthropic import AnthropicProvider

    key = "sk-ant-details-4c8e1f6a2b9d"
    body = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "no", "details": {"echo": key}},
    }
    provider = AnthropicProvider(
        api_key=key, transport=mock_transport(lambda request: httpx2.Response(401, json=body))
    )
    async with Aether(provider, with_retry=False) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.ask("hi")
    cause = caught.value.__cause__
    assert cause is not None
    assert key not in repr(vars(cause)) + exception_text(caught.value)


def test_provider_config_shows_option_names_only_and_hides_misspelt_values() -> None:
    key = "sk-config-9d1e3b5f7a2c"
    config = ProviderConfig(name="openai", options={"api_key": key, "timeout": 30})
    assert key not in repr(config) + str(config)
    assert "'api_key': '***'" in repr(config)
    with pytest.raises(ValidationError) as caught:
        ProviderConfig(name="openai", apikey=key)  # type: ignore[call-arg]
    assert "apikey" in str(caught.value)
    assert key not in str(caught.value)
