"""The same faults over a real loopback socket, through the real HTTP transport.

`MockTransport` stands in for the network in the rest of the suite. Here the scripted
server sits behind a TCP socket on 127.0.0.1 (`_loopback.LoopbackServer`), so the read
timeout is the transport's own, a reset is a real RST, and the server counts the
connections the client leaves open.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
import httpx2
import pytest

from aether import Aether, LLMRequest, Message
from aether.errors import ProviderConnectionError, RequestTimeoutError
from aether.events import REQUEST_ERROR
from aether.testing.wire import (
    ConnectionReset,
    Hang,
    MockServer,
    Mode,
    Script,
    ScriptedReply,
    StalledStream,
    WireFormat,
)
from aether.testing.wires import BUILTIN_WIRES

from ._fault_table import PARTIAL
from ._loopback import LoopbackServer
from ._support import MODEL, PRICES, RETRY, TIMEOUT, running_tasks, take_turn, wait_until

pytestmark = pytest.mark.anyio

ANSWER = ScriptedReply(text=("Hello", " there."))
BASE_PATHS = {"openai": "/v1", "gemini": "", "anthropic": "", "openai-responses": "/v1"}
TIMEOUTS = httpx2.Timeout(10.0, read=TIMEOUT)
"""The read timeout is what a hang must outlast. Connecting gets far longer: on a loaded
machine a connect can take more than 0.15 s to be scheduled, and a connect that timed out
was retried on a second connection, which the server then counted."""


TRANSPORTS = ["httpcore", "lean", "sdk"]
"""Each test runs on httpx2's own transport (httpcore2), on Aether's `LeanTransport` (the
default of the OpenAI adapters' own clients), and on `LeanTransport` with the OpenAI
adapters sending through the SDK and httpx2's client (``AETHER_LEAN_HTTP=0``) rather than
posting straight to the transport (their default; see `_direct_post`)."""


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "sdk":
        monkeypatch.setenv("AETHER_LEAN_HTTP", "0")
    return str(request.param)


def socket_provider(
    wire: WireFormat, server: LoopbackServer, timeout: Any = None, *, transport: str = "lean"
) -> Any:
    """``wire``'s provider on a real transport (``"httpcore"`` or ``"lean"``) at ``server``.

    Its read timeout is the short one a hang must outlast unless ``timeout`` is given
    (tests that never hang give a long one, so a loaded machine cannot time them out).
    """
    from aether.extensions.llm._lean_transport import LeanTransport
    from aether.extensions.llm.anthropic import AnthropicProvider
    from aether.extensions.llm.gemini import GeminiProvider
    from aether.extensions.llm.openai import OpenAIProvider
    from aether.extensions.llm.openai_responses import OpenAIResponsesProvider

    classes = {
        "openai": OpenAIProvider,
        "gemini": GeminiProvider,
        "anthropic": AnthropicProvider,
        "openai-responses": OpenAIResponsesProvider,
    }
    return classes[wire.name](
        api_key=wire.api_key,
        base_url=server.url + BASE_PATHS[wire.name],
        transport=(
            httpx2.AsyncHTTPTransport(retries=0) if transport == "httpcore" else LeanTransport()
        ),
        timeout=TIMEOUTS if timeout is None else timeout,
        default_model=MODEL,
    )


LONG = 30.0
"""The timeout of a test whose server never hangs: no read may time out on a loaded machine."""


def _timeout(fault: Script) -> float | None:
    """The short read timeout where the fault is a hang it must outlast, else a long one."""
    return None if isinstance(fault, Hang) else LONG


RECOVERED = [
    pytest.param(Hang(), "complete", id="hang_past_the_timeout-complete"),
    pytest.param(Hang(), "stream", id="hang_past_the_timeout-stream"),
    pytest.param(ConnectionReset(), "complete", id="reset_before_content-complete"),
    pytest.param(ConnectionReset(), "stream", id="reset_before_content-stream"),
    pytest.param(ConnectionReset(text=PARTIAL), "complete", id="reset_mid_body-complete"),
]


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@pytest.mark.parametrize(("fault", "mode"), RECOVERED)
async def test_socket_fault_is_retried_on_a_fresh_connection(
    fault: Script, mode: Mode, wire: WireFormat, transport: str
) -> None:
    mock = MockServer(wire, [fault, ANSWER])
    async with LoopbackServer(mock).running() as server:
        client = Aether(
            socket_provider(wire, server, _timeout(fault), transport=transport),
            retry=RETRY,
            prices=PRICES,
        )
        failures: list[BaseException] = []
        client.on(REQUEST_ERROR, lambda event: failures.append(event.error))
        session = client.session("socket")
        assert await take_turn(session, mode, "hi", []) == "Hello there."
        # The first attempt ended as the fault says: the transport's own read timeout for
        # a hang, the peer's reset for a reset.
        expected = RequestTimeoutError if isinstance(fault, Hang) else ProviderConnectionError
        assert [type(failure) for failure in failures] == [expected]
        assert len(mock.requests) == 2
        # The broken connection is gone; only the one that answered is kept for reuse.
        await wait_until(lambda: (server.open_connections, server.closed_connections) == (1, 1))
        assert server.resets == int(isinstance(fault, ConnectionReset))
        assert client.usage.total_requests == 1
        await client.aclose()
        await wait_until(lambda: server.open_connections == 0)


CUT = [
    pytest.param(ConnectionReset(text=PARTIAL), ProviderConnectionError, id="reset_mid_stream"),
    pytest.param(Hang(text=PARTIAL), RequestTimeoutError, id="hang_mid_stream"),
]


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
@pytest.mark.parametrize(("fault", "error"), CUT)
async def test_socket_fault_mid_stream_propagates_after_the_text(
    fault: Script, error: type[Exception], wire: WireFormat, transport: str
) -> None:
    mock = MockServer(wire, [fault, ANSWER])
    async with LoopbackServer(mock).running() as server:
        async with Aether(
            socket_provider(wire, server, _timeout(fault), transport=transport), retry=RETRY
        ) as client:
            session = client.session("socket")
            deltas: list[str] = []
            with pytest.raises(error):
                await take_turn(session, "stream", "hi", deltas)
            assert deltas == list(PARTIAL)
            assert len(mock.requests) == 1
            assert await session.history() == []
            await wait_until(lambda: server.open_connections == 0)
        assert server.closed_connections == 1


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_cancelled_stream_closes_its_socket(wire: WireFormat, transport: str) -> None:
    tasks_before = running_tasks()
    mock = MockServer(wire, [StalledStream(text=("first ",))])
    async with LoopbackServer(mock).running() as server:
        provider = socket_provider(wire, server, LONG, transport=transport)
        async with Aether(provider, retry=RETRY) as client:
            received: list[str] = []
            with anyio.fail_after(10), anyio.CancelScope() as scope:
                async with aclosing(client.stream_text("hi")) as stream:
                    async for delta in stream:
                        received.append(delta)
                        scope.cancel()  # the next read waits on a server that stalls
            assert received == ["first "]
            # A response abandoned mid-body cannot go back to the pool: it is closed now,
            # not when the client is.
            await wait_until(lambda: server.open_connections == 0)
            assert server.closed_connections == 1
    assert running_tasks() == tasks_before


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_consumer_breaking_out_closes_its_socket(wire: WireFormat, transport: str) -> None:
    mock = MockServer(wire, [ScriptedReply(text=("one ", "two ", "three"))])
    async with (
        LoopbackServer(mock).running() as server,
        Aether(socket_provider(wire, server, LONG, transport=transport), retry=RETRY) as client,
    ):
        async with aclosing(client.stream_text("count")) as stream:
            async for delta in stream:
                assert delta == "one "
                break
        await wait_until(lambda: server.open_connections == 0)
        assert server.closed_connections == 1


@pytest.mark.parametrize("wire", BUILTIN_WIRES, ids=lambda wire: wire.name)
async def test_a_reset_says_the_peer_reset_the_connection(wire: WireFormat, transport: str) -> None:
    # On asyncio, httpx's ReadError for a reset has no message of its own: the words
    # are on the OSError underneath it.
    mock = MockServer(wire, [ConnectionReset()])
    async with LoopbackServer(mock).running() as server:
        provider = socket_provider(wire, server, LONG, transport=transport)
        request = LLMRequest(messages=(Message(role="user", content="hi"),))
        with pytest.raises(ProviderConnectionError, match="Connection reset by peer"):
            await provider.complete(request)
        await provider.aclose()
