"""coredis connections that close their buffers however they end.

coredis 6.9 gives each connection six anyio memory streams (its write queue, push and
streamed messages) and closes them when a connection that was established ends. One
that never connected (server down, refused, timed out) leaves them open, and anyio warns
(``ResourceWarning: Unclosed <MemoryObject...>``) when they are collected: once per
attempt while Redis is down. The pools that `create_redis_client` gives its clients make
these subclasses instead, which close whatever is left open when ``run`` returns.
"""

from __future__ import annotations

from typing import Any

from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from coredis.connection import (
    BaseConnection,
    ClusterConnection,
    TCPConnection,
    UnixDomainSocketConnection,
)
from coredis.pool import ClusterConnectionPool, ConnectionPool

__all__ = ["ClosingClusterPool", "ClosingPool"]


def _close_buffers(connection: BaseConnection) -> None:
    for value in vars(connection).values():
        if isinstance(value, MemoryObjectSendStream | MemoryObjectReceiveStream):
            value.close()


class _TCPConnection(TCPConnection):
    async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            _close_buffers(self)


class _UnixConnection(UnixDomainSocketConnection):
    async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            _close_buffers(self)


class _ClusterConnection(ClusterConnection):
    async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            _close_buffers(self)


_REPLACEMENTS: dict[type[BaseConnection], type[BaseConnection]] = {
    TCPConnection: _TCPConnection,
    UnixDomainSocketConnection: _UnixConnection,
}


class ClosingPool(ConnectionPool[Any]):
    """coredis's single-node pool, making connections that close their buffers."""

    def __init__(self, *, connection_class: type[Any] | None = None, **options: Any) -> None:
        replacement = _REPLACEMENTS.get(connection_class, connection_class)  # type: ignore[arg-type]
        super().__init__(connection_class=replacement, **options)


class ClosingClusterPool(ClusterConnectionPool):
    """coredis's cluster pool, making connections that close their buffers."""

    def __init__(self, *arguments: Any, **options: Any) -> None:
        options["connection_class"] = _ClusterConnection
        super().__init__(*arguments, **options)
