"""One toolset's connection to its server: started, watched, reconnected, stopped.

The connection lives in a supervisor task inside a task group that the toolset's
``async with`` enters in the caller's task, so the `mcp` SDK's transport and session
(which hold task groups of their own) are entered and left in that one supervisor task,
and nothing outlives the ``async with``. Tool calls from any task borrow the live
session. When the connection ends (the server process exits, a call finds it closed),
the supervisor tears it down at once (a stdio server is stopped and reaped) and connects
again only when a call asks for it, so a server that keeps crashing is not restarted in
a loop.

Every wait is bounded: connecting (spawn, handshake, first listing) by
``connect_timeout``, each request by the session's read timeout, closing by the SDK's
own shutdown bounds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from aether.errors import ToolError
from aether.mcp._transports import TransportSpec, watched

if TYPE_CHECKING:
    import mcp_types
    from mcp import Client

__all__ = ["MCPConnectionError", "ServerLink"]

logger = logging.getLogger("aether.mcp")

_CLOSE_TIMEOUT = 10.0
"""Seconds a graceful close may take (the SDK stops a stdio server within about 6.5)."""

_RELISTEN_DELAY = 1.0
"""Seconds before opening a list-change stream again after the server ended it."""

_MAX_PAGES = 100
"""Listing pages read at most: a server whose cursor never ends cannot hang a listing."""


class MCPConnectionError(ToolError):
    """An MCP server could not be started or reached, or the connection broke."""


@dataclass(slots=True, eq=False)
class _Attempt:
    """One connection, from the request for it to its end."""

    settled: anyio.Event = field(default_factory=anyio.Event)  # connected, or failed
    ended: anyio.Event = field(default_factory=anyio.Event)  # over, or asked to end
    client: Client | None = None
    error: BaseException | None = None
    finished: bool = False


def _describe_error(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        return _describe_error(error.exceptions[0])
    text = str(error) or type(error).__name__
    if type(error).__name__ == "MCPError" and getattr(error, "code", None) == -32000:
        return f"{text} (the server exited or closed the connection; its stderr says why)"
    return text


class ServerLink:
    """Keeps one MCP session to a server for as long as its ``async with`` lasts.

    Args:
        transport: How to reach the server.
        connect_timeout: Seconds to connect and list the tools; also each request's
            bound while listing.
        on_listing: Called with the server's tools after each (re)connection and each
            refresh.
    """

    def __init__(
        self,
        transport: TransportSpec,
        *,
        connect_timeout: float,
        on_listing: Callable[[list[mcp_types.Tool]], None],
    ) -> None:
        self.transport = transport
        self.connect_timeout = connect_timeout
        self._on_listing = on_listing
        self._group: anyio.abc.TaskGroup | None = None
        self._attempt: _Attempt | None = None
        self._wanted = anyio.Event()
        self._stale = anyio.Event()
        self._done = anyio.Event()
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the link is started (between ``async with`` entry and exit)."""
        return self._group is not None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervisor and connect once; raise if that connection fails."""
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        self._stopping = False
        self._wanted = anyio.Event()
        self._done = anyio.Event()
        try:
            group.start_soon(self._supervise)
            await self.client()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """End the connection (gracefully, bounded) and the supervisor.

        The caller's own exception, if any, is not handed to the task group: it goes on
        propagating as it was, never wrapped in an exception group.
        """
        group = self._group
        if group is None:
            return
        self._stopping = True
        if self._attempt is not None:
            self._attempt.ended.set()
        self._wanted.set()
        # Shielded and bounded: a cancelled caller still stops the server cleanly.
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
            await self._done.wait()
        group.cancel_scope.cancel()
        self._group = None
        self._attempt = None
        await group.__aexit__(None, None, None)

    # -- the session, for calls ------------------------------------------------------------

    async def client(self) -> Client:
        """The live session, connecting again first if the last one ended.

        Raises:
            MCPConnectionError: If the link is not started, or connecting failed.
        """
        if self._group is None or self._stopping:
            raise MCPConnectionError(f"the connection to the {self.transport.describe()} is closed")
        attempt = self._attempt
        if attempt is None or attempt.ended.is_set() or attempt.finished:
            attempt = self._attempt = _Attempt()
            self._wanted.set()
        # The supervisor bounds connecting; this bound also covers closing the last one.
        with anyio.move_on_after(self.connect_timeout + _CLOSE_TIMEOUT):
            await attempt.settled.wait()
        if attempt.client is not None and not attempt.ended.is_set():
            return attempt.client
        reason = _describe_error(attempt.error) if attempt.error else "it did not answer in time"
        raise MCPConnectionError(
            f"could not connect to the {self.transport.describe()}: {self.transport.scrub(reason)}"
        )

    def lost(self, client: Client) -> None:
        """Report that ``client``'s connection broke, so the next call reconnects."""
        attempt = self._attempt
        if attempt is not None and attempt.client is client:
            attempt.ended.set()

    async def refresh(self) -> None:
        """List the server's tools again now."""
        client = await self.client()
        self._on_listing(await self._list(client))

    # -- the supervisor ------------------------------------------------------------------

    async def _supervise(self) -> None:
        try:
            while True:
                await self._wanted.wait()
                self._wanted = anyio.Event()
                attempt = self._attempt
                if self._stopping or attempt is None:
                    return
                try:
                    await self._serve(attempt)
                except Exception as error:
                    attempt.error = error
                    logger.debug(
                        "MCP connection to the %s ended", self.transport.describe(), exc_info=True
                    )
                finally:
                    attempt.finished = True
                    attempt.ended.set()
                    attempt.settled.set()
                if self._stopping:
                    return
        finally:
            self._done.set()

    async def _serve(self, attempt: _Attempt) -> None:
        from mcp import Client
        from mcp_types import Implementation
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        from aether import __version__

        client = Client(
            watched(self.transport.open(), attempt.ended),
            mode="auto",
            message_handler=self._on_message,
            cache=None,
            read_timeout_seconds=self.connect_timeout,
            client_info=Implementation(name="aether", version=__version__),
        )
        connecting = anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout)
        with connecting:
            async with client, anyio.create_task_group() as group:
                announces = client.server_capabilities.tools
                modern = client.protocol_version in MODERN_PROTOCOL_VERSIONS
                if modern and announces is not None and announces.list_changed:
                    await group.start(self._listen, client)
                self._on_listing(await self._list(client))
                connecting.deadline = math.inf
                attempt.client = client
                attempt.settled.set()
                group.start_soon(self._refresh_when_stale, client)
                await attempt.ended.wait()
                group.cancel_scope.cancel()
        if connecting.cancelled_caught and attempt.client is None:
            raise TimeoutError(f"no answer within {self.connect_timeout:g} seconds")

    async def _list(self, client: Client) -> list[mcp_types.Tool]:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    # -- list changes ------------------------------------------------------------------

    async def _on_message(self, message: Any) -> None:
        # Runs in the session's receive loop: only flag it, the refresher does the work.
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._stale.set()

    async def _refresh_when_stale(self, client: Client) -> None:
        while True:
            await self._stale.wait()
            self._stale = anyio.Event()
            try:
                listing = await self._list(client)
            except Exception:
                logger.warning(
                    "could not list the tools of the %s again after it announced a change",
                    self.transport.describe(),
                    exc_info=True,
                )
                continue
            self._on_listing(listing)

    async def _listen(
        self, client: Client, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        # 2026-07-28 servers announce list changes only on a subscriptions/listen stream;
        # its events also reach _on_message. Entered before the first listing, so no
        # change between the two is missed; a stream the server ends is opened again.
        started = False
        while True:
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    if started:
                        self._stale.set()  # changes while no stream was open are unknown
                    else:
                        task_status.started()
                        started = True
                    async for _event in subscription:
                        pass
            except Exception:
                logger.debug(
                    "the list-change stream of the %s ended",
                    self.transport.describe(),
                    exc_info=True,
                )
            if not started:
                task_status.started()
                return
            await anyio.sleep(_RELISTEN_DELAY)
