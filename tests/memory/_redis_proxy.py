"""A loopback TCP proxy in front of Redis that can lose a reply on purpose.

Armed with ``drop_reply_to(b"EVALSHA")``, it forwards the next command containing those
bytes to Redis (which runs it), then closes the client's connection instead of passing
the reply on: the client cannot know whether its command ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketStream


class RedisProxy:
    """Forwards 127.0.0.1:``port`` to Redis at ``target_port``, one task pair per client."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.forwarded: list[bytes] = []  # every chunk sent on to Redis
        self.dropped = 0
        self._marker: bytes | None = None
        self._drops_left = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def drop_reply_to(self, marker: bytes, *, times: int = 1) -> None:
        """Lose the reply to the next ``times`` commands containing ``marker``."""
        self._marker, self._drops_left = marker, times

    def count(self, marker: bytes) -> int:
        """How many chunks sent on to Redis contained ``marker``."""
        return sum(marker in chunk for chunk in self.forwarded)

    async def _serve(self, client: SocketStream) -> None:
        async with client, await anyio.connect_tcp("127.0.0.1", self.target_port) as server:
            armed = anyio.Event()

            async def upstream() -> None:
                async for chunk in client:
                    self.forwarded.append(chunk)
                    if self._marker is not None and self._drops_left and self._marker in chunk:
                        self._drops_left -= 1
                        armed.set()
                    await server.send(chunk)

            async def downstream() -> None:
                async for chunk in server:
                    if armed.is_set():
                        self.dropped += 1
                        break  # the command ran; its reply is lost with the connection
                    await client.send(chunk)

            async with anyio.create_task_group() as group:
                group.start_soon(upstream)
                await downstream()
                group.cancel_scope.cancel()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RedisProxy]:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self._serve)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()
