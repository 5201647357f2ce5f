"""Scripted vendor servers on loopback sockets, served from a thread of their own.

The tests here run their own event loops one after another (``anyio.run`` on asyncio,
then on trio, ...) or from several threads, so the server cannot live in any of them:
`threaded_server` runs a `LoopbackServer` in a blocking portal's event loop for the
whole test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal

from aether.testing.wire import MockServer, Script, WireFormat
from tests.reliability._loopback import LoopbackServer
from tests.reliability._support import wait_until

MODEL = "scripted-model-001"
BASE_PATHS = {"openai": "/v1", "gemini": "", "anthropic": "", "openai-responses": "/v1"}


@dataclass
class ThreadedServer:
    """A loopback server running in another thread, and its script."""

    server: LoopbackServer
    mock: MockServer
    portal: BlockingPortal

    @property
    def url(self) -> str:
        return self.server.url

    def wait_until(self, predicate: Callable[[], bool], *, within: float = 5.0) -> None:
        """Wait, in the server's thread, until ``predicate`` holds (fail after ``within``)."""

        self.portal.call(lambda: wait_until(predicate, within=within))

    def provider(self, **options: Any) -> Any:
        """The wire's real provider on a real ``httpx2`` transport, talking to this server."""
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
        wire = self.mock.wire
        options.setdefault("transport", httpx2.AsyncHTTPTransport(retries=0))
        return classes[wire.name](
            api_key=wire.api_key,
            base_url=self.url + BASE_PATHS[wire.name],
            default_model=MODEL,
            **options,
        )


@contextmanager
def threaded_server(wire: WireFormat, script: list[Script]) -> Iterator[ThreadedServer]:
    """Serve ``script`` in ``wire``'s format on loopback, from a thread of its own."""
    with start_blocking_portal() as portal:
        mock = MockServer(wire, script)
        server = LoopbackServer(mock)
        with portal.wrap_async_context_manager(server.running()):
            yield ThreadedServer(server, mock, portal)
