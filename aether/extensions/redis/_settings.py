"""Where and how to reach Redis: `RedisSettings`, parsed from a URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from aether.errors import ConfigurationError

__all__ = ["RedisSettings", "parse_redis_url"]

_CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    """Where and how to connect, parsed from a URL. The password never appears in a repr.

    Attributes:
        nodes: For a cluster, the startup nodes (``host``/``port`` is the first of them).
    """

    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str | None = None
    database: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    nodes: tuple[tuple[str, int], ...] = ()

    @property
    def cluster(self) -> bool:
        """Whether the URL names a Redis Cluster (``redis+cluster://``)."""
        return bool(self.nodes)

    def describe(self) -> str:
        """The address without credentials, for messages and reprs."""
        user = f"{self.username or ''}:***@" if self.password else ""
        if self.cluster:
            scheme = "rediss+cluster" if self.tls else "redis+cluster"
            hosts = ",".join(f"{host}:{port}" for host, port in self.nodes)
            return f"{scheme}://{user}{hosts}"
        if self.unix_path is not None:
            return f"unix://{self.unix_path}?db={self.database}"
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{user}{self.host}:{self.port}/{self.database}"

    def __repr__(self) -> str:
        return f"RedisSettings({self.describe()!r})"


def _cluster_nodes(netloc: str, problems: list[str]) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    nodes: list[tuple[str, int]] = []
    for part in filter(None, hosts.split(",")):
        host, _, port_text = part.rpartition(":") if ":" in part else (part, "", "6379")
        try:
            nodes.append((host.strip("[]") or "127.0.0.1", int(port_text)))
        except ValueError:
            problems.append(f"the port of the cluster node {part!r} is not a number")
    if not nodes and not problems:
        problems.append("a redis+cluster:// URL needs at least one host:port")
    return tuple(nodes)


def parse_redis_url(url: str) -> RedisSettings:
    """Parse a Redis URL.

    ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS),
    ``unix:///path/to/socket?db=0&password=...``, or for a Redis Cluster
    ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://``
    with TLS): the startup nodes, from which the client learns the others.

    Raises:
        ConfigurationError: If the URL has another scheme or a bad port or database.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    problems: list[str] = []
    database_text = (parts.path.lstrip("/") if parts.scheme != "unix" else "") or (
        query.get("db", ["0"])[0]
    )
    try:
        database = int(database_text)
    except ValueError:
        problems.append(f"the database {database_text!r} is not a number")
        database = 0
    userinfo = parts.netloc.rpartition("@")[0]
    username = unquote(userinfo.partition(":")[0]) or None if userinfo else None
    password_text = userinfo.partition(":")[2] if ":" in userinfo else ""
    password = unquote(password_text) if password_text else query.get("password", [None])[0]
    if parts.scheme == "unix":
        if not parts.path:
            problems.append("a unix:// URL needs a socket path, as in unix:///run/redis.sock")
        settings = RedisSettings(
            unix_path=parts.path, database=database, username=username, password=password
        )
    elif parts.scheme in _CLUSTER_SCHEMES:
        nodes = _cluster_nodes(parts.netloc, problems)
        if database:
            problems.append("a Redis Cluster has only database 0")
        host, port = nodes[0] if nodes else ("127.0.0.1", 6379)
        settings = RedisSettings(
            host=host,
            port=port,
            username=username,
            password=password,
            tls=_CLUSTER_SCHEMES[parts.scheme],
            nodes=nodes or ((host, port),),
        )
    elif parts.scheme in ("redis", "rediss"):
        try:
            port = parts.port or 6379
        except ValueError:
            problems.append("the port is not a number")
            port = 6379
        settings = RedisSettings(
            host=parts.hostname or "127.0.0.1",
            port=port,
            database=database,
            username=username,
            password=password,
            tls=parts.scheme == "rediss",
        )
    else:
        problems.append(
            f"the scheme {parts.scheme!r} is not redis://, rediss://, unix:// or redis+cluster://"
        )
        settings = RedisSettings()
    if problems:
        raise ConfigurationError(
            f"invalid Redis URL {settings.describe()!r}: {'; '.join(problems)}",
            problems=problems,
        )
    return settings
