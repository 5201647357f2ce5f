"""Aether's Redis errors, and `redis_errors`, which maps coredis's onto them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import coredis.exceptions

from aether.errors import AetherError

__all__ = [
    "RedisConnectionError",
    "RedisError",
    "RedisNotOpenError",
    "RedisReplyError",
    "RedisTimeoutError",
    "redis_errors",
]


class RedisError(AetherError):
    """Talking to Redis failed."""


class RedisConnectionError(RedisError):
    """The connection to Redis could not be made, or broke during a command.

    A command that was sent may or may not have run: Aether never re-sends one silently
    unless it is idempotent (see docs/sessions.md).
    """

    retryable = True


class RedisTimeoutError(RedisConnectionError):
    """Redis did not answer within the client's timeout."""


class RedisReplyError(RedisError):
    """Redis answered a command with an error reply, such as ``WRONGTYPE``.

    Attributes:
        code: The first word of the error, such as ``"WRONGTYPE"``.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or message.split(" ", 1)[0]


class RedisNotOpenError(RedisError):
    """The coredis client is not open: its connections live inside ``async with``."""


_NOT_OPEN_HINT = "not initialized or has exited"
_CODES: dict[type[Exception], str] = {
    coredis.exceptions.WrongTypeError: "WRONGTYPE",
    coredis.exceptions.NoScriptError: "NOSCRIPT",
    coredis.exceptions.ReadOnlyError: "READONLY",
    coredis.exceptions.ClusterCrossSlotError: "CROSSSLOT",
    coredis.exceptions.AuthenticationError: "WRONGPASS",
    coredis.exceptions.AuthorizationError: "NOPERM",
}


@contextmanager
def redis_errors(where: str, *, opener: str = "async with client:") -> Iterator[None]:
    """Raise Aether's Redis errors for coredis's inside the block.

    Args:
        where: The server, as `RedisSettings.describe` gives it (no password).
        opener: How the user opens the client, for the not-open message.

    Raises:
        RedisNotOpenError: The client was used outside its ``async with`` block.
        RedisTimeoutError: No answer in time.
        RedisConnectionError: Could not connect, or the connection broke.
        RedisReplyError: Redis answered with an error.
    """
    try:
        yield
    except coredis.exceptions.ConnectionError as error:
        raise RedisConnectionError(
            f"the connection to Redis at {where} failed ({error}); check that the server "
            f"is up and reachable"
        ) from error
    except TimeoutError as error:
        raise RedisTimeoutError(
            f"Redis at {where} did not answer in time ({error or 'timed out'})"
        ) from error
    except coredis.exceptions.ResponseError as error:
        code = next((c for kind, c in _CODES.items() if isinstance(error, kind)), "ERR")
        raise RedisReplyError(f"Redis at {where} answered {code}: {error}", code=code) from error
    except coredis.exceptions.RedisError as error:
        raise RedisError(f"Redis at {where} failed: {type(error).__name__}: {error}") from error
    except RuntimeError as error:
        if _NOT_OPEN_HINT not in str(error):
            raise
        raise RedisNotOpenError(
            f"the Redis client for {where} is not open: coredis keeps its connections "
            f"inside a task group, so open it once around its use ({opener} ..., e.g. in "
            f"your app's lifespan) before the first command"
        ) from None
