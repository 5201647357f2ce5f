"""What the sampling-default tests share: a client on a mock wire, and both call modes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aether import Aether
from aether.testing.wire import MockServer, Script, ScriptedError, WireFormat

Call = Callable[..., Awaitable[str]]


def client_for(wire: WireFormat, *script: Script, **options: Any) -> tuple[Aether, MockServer]:
    """``Aether(provider)`` (the default stack) on a `MockServer` serving ``script``."""
    server = MockServer(wire, script)
    return Aether(wire.build_provider(server, **options)), server


async def ask(client: Aether, **options: Any) -> str:
    return await client.ask("hi", **options)


async def stream(client: Aether, **options: Any) -> str:
    return "".join([delta async for delta in client.stream_text("hi", **options)])


BOTH_MODES = pytest.mark.parametrize("call", [ask, stream], ids=["complete", "stream"])


def openai_refusal(param: str = "temperature", value: float = 0.7) -> ScriptedError:
    """The 400 OpenAI answers for a parameter a reasoning model refuses."""
    if param == "max_tokens":
        return ScriptedError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            code="unsupported_parameter",
            param="max_tokens",
        )
    return ScriptedError(
        400,
        f"Unsupported value: '{param}' does not support {value} with this model. Only the "
        f"default (1) value is supported.",
        code="unsupported_value",
        param=param,
    )
