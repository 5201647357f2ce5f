"""Where and how to reach Redis: `RedisSettings`, parsed from a URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from aether.errors import ConfigurationError

__all__ = ["RedisSettings", "parse_redis_url"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    """Where and how to connect, parsed from a URL. The password never appears in a repr."""

    host: str = "127.0.0.1"
    port: int = 6379
    unix_path: str | None = None
    database: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def describe(self) -> str:
        """The address without credentials, for messages and reprs."""
        scheme = "rediss" if self.tls else "redis"
        if self.unix_path is not None:
            return f"unix://{self.unix_path}?db={self.database}"
        user = f"{self.username or ''}:***@" if self.password else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.database}"

    def __repr__(self) -> str:
        return f"RedisSettings({self.describe()!r})"


def parse_redis_url(url: str) -> RedisSettings:
    """Parse ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS) or
    ``unix:///path/to/socket?db=0&password=...``.

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
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else query.get("password", [None])[0]
    if parts.scheme == "unix":
        if not parts.path:
            problems.append("a unix:// URL needs a socket path, as in unix:///run/redis.sock")
        settings = RedisSettings(
            unix_path=parts.path, database=database, username=username, password=password
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
        problems.append(f"the scheme {parts.scheme!r} is not redis://, rediss:// or unix://")
        settings = RedisSettings()
    if problems:
        raise ConfigurationError(
            f"invalid Redis URL {settings.describe()!r}: {'; '.join(problems)}",
            problems=problems,
        )
    return settings
