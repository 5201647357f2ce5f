"""A throwaway ``redis-server`` for tests and benchmarks: loopback only, no persistence.

::

    with RedisServer() as server:
        store = RedisSessionStore(server.url)

It needs the ``redis-server`` binary (Debian: ``apt-get install redis-server``); check
`RedisServer.executable` first to skip politely when it is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """Starts ``redis-server`` on a free port of 127.0.0.1 in a temporary directory.

    Args:
        executable: The server binary; ``redis-server`` on ``PATH`` by default.
        startup_timeout: Seconds to wait for the server to answer ``PING``.
        extra_arguments: More ``redis-server`` options, such as ``["--tls-port", "7000",
            ...]``; the plain port stays open on loopback for the readiness check.
    """

    def __init__(
        self,
        *,
        executable: str | None = None,
        startup_timeout: float = 10.0,
        extra_arguments: Sequence[str] = (),
    ) -> None:
        found = executable or self.executable()
        if found is None:
            raise FileNotFoundError(
                "redis-server is not installed; install it (apt-get install redis-server)"
            )
        self.binary = found
        self.startup_timeout = startup_timeout
        self.extra_arguments = list(extra_arguments)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @staticmethod
    def free_port() -> int:
        """A TCP port of 127.0.0.1 that nothing listens on right now."""
        return _free_port()

    @staticmethod
    def executable() -> str | None:
        """The path of ``redis-server`` on ``PATH``, or ``None``."""
        return shutil.which("redis-server")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` once started."""
        if self._process is None:
            raise RuntimeError("the Redis server is not running; call start() first")
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its URL.

        Raises:
            RuntimeError: If it did not answer in time (the message holds its log).
        """
        self._directory = tempfile.TemporaryDirectory(prefix="aether-redis-")
        log = Path(self._directory.name) / "redis.log"
        for _attempt in range(3):
            self.port = _free_port()
            with log.open("wb") as output:
                self._process = subprocess.Popen(
                    [
                        self.binary,
                        "--port", str(self.port),
                        "--bind", "127.0.0.1",
                        "--save", "",
                        "--appendonly", "no",
                        "--dir", self._directory.name,
                        "--daemonize", "no",
                        *self.extra_arguments,
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline and self._process.poll() is None:
                if _answers_ping(self.port):
                    return self.url
                time.sleep(0.02)
            self._terminate()
        text = log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"redis-server did not start; its log ends with:\n{text}")

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server and remove its directory. Calling it twice does nothing more."""
        self._terminate()
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port {self.port}" if self._process is not None else "stopped"
        return f"RedisServer({state})"
