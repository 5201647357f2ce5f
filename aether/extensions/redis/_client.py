"""coredis clients for Aether: made from a URL, never re-sending a command silently.

coredis retries a command after a connection error by default (twice, for single nodes
and clusters alike). A command that reached the server before the connection broke
would then run twice: a session turn stored twice, a counter bumped twice. Clients made
here retry only what cannot have run (a cluster that answered ``CLUSTERDOWN``); what
is safe to repeat is repeated by the caller that knows it (`RedisSessionStore.append`
carries a turn id for that).
"""

from __future__ import annotations

import ssl
from contextlib import AbstractContextManager, AsyncExitStack
from typing import TypeAlias

import coredis
import coredis.exceptions
from coredis.connection import TCPLocation
from coredis.retry import ConstantRetryPolicy, NoRetryPolicy, RetryPolicy

from aether.errors import ConfigurationError
from aether.extensions.redis._connections import ClosingClusterPool, ClosingPool
from aether.extensions.redis._errors import RedisNotOpenError, redis_errors
from aether.extensions.redis._settings import parse_redis_url

__all__ = [
    "CoredisClient",
    "RedisHandle",
    "create_redis_client",
    "describe_redis",
    "release_cluster_layout",
]

CoredisClient: TypeAlias = coredis.Redis[bytes] | coredis.RedisCluster[bytes]
"""A coredis client, single node or cluster, answering ``bytes`` (no ``decode_responses``)."""


def _retry_policy(cluster: bool) -> RetryPolicy:
    if cluster:
        # CLUSTERDOWN means the node refused the command: nothing ran, so retrying is safe.
        return ConstantRetryPolicy((coredis.exceptions.ClusterDownError,), retries=2, delay=0.1)
    return NoRetryPolicy()


def create_redis_client(
    url: str,
    *,
    connect_timeout: float = 5.0,
    timeout: float | None = 10.0,
    max_connections: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> CoredisClient:
    """A coredis client for ``url``; open it with ``async with client:`` before use.

    ::

        redis = create_redis_client("redis://127.0.0.1:6379/0")
        async with redis:
            await redis.set("greeting", "hello")

    ``redis+cluster://host:port[,host:port...]`` (``rediss+cluster://`` with TLS) makes
    a `coredis.RedisCluster` that learns the other nodes from these. The client never
    re-sends a command after a connection error (coredis's default does).

    Args:
        url: See `parse_redis_url`.
        connect_timeout: Seconds to connect (and authenticate) before giving up.
        timeout: Seconds a reply may take; ``None`` waits forever.
        max_connections: The most connections open at once (per node for a cluster);
            coredis's default when ``None``. Commands that do not block share them.
        ssl_context: The TLS context for ``rediss://`` (the system default otherwise).

    Raises:
        ConfigurationError: On a malformed URL or a pool size below 1.
    """
    settings = parse_redis_url(url)
    if max_connections is not None and max_connections < 1:
        raise ConfigurationError(f"max_connections must be at least 1, not {max_connections}")
    tls_context = ssl_context or (ssl.create_default_context() if settings.tls else None)
    if settings.cluster:
        return coredis.RedisCluster(
            startup_nodes=[TCPLocation(host, port) for host, port in settings.nodes],
            username=settings.username,
            password=settings.password,
            connect_timeout=connect_timeout,
            stream_timeout=timeout,
            ssl_context=tls_context,
            max_connections=max_connections or 32,
            decode_responses=False,
            connection_pool_cls=ClosingClusterPool,
            retry_policy=_retry_policy(cluster=True),
        )
    return coredis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.database,
        unix_socket_path=settings.unix_path,
        username=settings.username,
        password=settings.password,
        connect_timeout=connect_timeout,
        stream_timeout=timeout,
        ssl_context=tls_context,
        max_connections=max_connections,
        decode_responses=False,
        connection_pool_cls=ClosingPool,
        retry_policy=_retry_policy(cluster=False),
    )


def describe_redis(client: CoredisClient) -> str:
    """Where ``client`` connects, without credentials."""
    pool = client.connection_pool
    if isinstance(client, coredis.RedisCluster):
        startup = getattr(pool, "startup_nodes", None) or []
        hosts = ",".join(f"{node.host}:{node.port}" for node in startup) or "?"
        return f"redis+cluster://{hosts}"
    location = getattr(pool, "location", None)
    host, port, path = (getattr(location, name, None) for name in ("host", "port", "path"))
    database = pool.connection_kwargs.get("db") or 0
    if path is not None:
        return f"unix://{path}?db={database}"
    return f"redis://{host}:{port}/{database}"


def release_cluster_layout(client: CoredisClient) -> None:
    """Close what coredis 6.9's cluster layout leaves open after the client is closed.

    Its error queue (an anyio memory stream) is never closed, so a closed cluster client
    warns (``ResourceWarning: Unclosed <MemoryObject...>``) when collected. Harmless for a
    single-node client, and for a coredis release that closes the queue itself.
    """
    layout = getattr(client.connection_pool, "cluster_layout", None)
    for stream in getattr(layout, "_error_stream", ()):
        stream.close()


class RedisHandle:
    """A coredis client, and whether its owner made it: what Redis-backed parts share.

    Given a URL, the handle makes the client when its owner is opened (``async with
    store:``) and closes it with the owner. Given a client, it leaves opening and closing
    that client to you.

    Args:
        redis: A URL for `create_redis_client`, or a coredis client to share.
        what: The owner's name, for the message when it is used before it is opened.

    Raises:
        ConfigurationError: On a malformed URL, or something that is not a coredis client.
    """

    __slots__ = ("_client", "_stack", "_url", "description", "owns_client", "what")

    def __init__(self, redis: str | CoredisClient, *, what: str) -> None:
        self._client: CoredisClient | None
        if isinstance(redis, str):
            self.description = parse_redis_url(redis).describe()
            self._url: str | None = redis
            self._client = None  # made on open: coredis objects warn if never opened
            self.owns_client = True
        elif isinstance(redis, coredis.Redis | coredis.RedisCluster):
            self.description = describe_redis(redis)
            self._url = None
            self._client = redis
            self.owns_client = False
        else:
            raise ConfigurationError(
                f"{what} takes a Redis URL or a coredis.Redis / coredis.RedisCluster "
                f"client, not {type(redis).__name__}"
            )
        self.what = what
        self._stack: AsyncExitStack | None = None

    def _opener(self) -> str:
        return f"async with {self.what}:" if self.owns_client else "async with client:"

    @property
    def client(self) -> CoredisClient:
        """The coredis client.

        Raises:
            RedisNotOpenError: If the handle made it from a URL and is not open.
        """
        if self._client is None:
            raise RedisNotOpenError(
                f"the {self.what} for {self.description} is not open: open it once around "
                f"its use ({self._opener()} ..., e.g. in your app's lifespan); coredis "
                f"keeps its connections inside that block"
            )
        return self._client

    def errors(self) -> AbstractContextManager[None]:
        """Map coredis's errors onto Aether's, with the right advice if not open."""
        return redis_errors(self.description, opener=self._opener())

    async def open(self) -> None:
        """Make and open the client if the handle has a URL; a no-op for a shared one."""
        if self._url is None or self._stack is not None:
            return
        client = create_redis_client(self._url)
        stack = AsyncExitStack()
        with self.errors():
            await stack.enter_async_context(client)
        self._client, self._stack = client, stack

    async def aclose(self) -> None:
        """Close the client if this handle made and opened it."""
        stack, self._stack = self._stack, None
        if stack is not None:
            client, self._client = self._client, None
            try:
                await stack.aclose()
            finally:
                if client is not None:
                    release_cluster_layout(client)
