"""Throwaway Redis servers for tests and benchmarks: loopback only, no persistence.

::

    with RedisServer() as server:
        store = RedisSessionStore(server.url)

    with LocalRedisCluster() as cluster:        # three nodes, all 16384 slots covered
        store = RedisSessionStore(cluster.url)  # redis+cluster://127.0.0.1:P1,...

They need the ``redis-server`` binary, and the cluster also ``redis-cli`` (Debian:
``apt-get install redis-server`` brings both); check `RedisServer.executable` and
`LocalRedisCluster.available` first to skip politely when they are missing.
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

__all__ = ["LocalRedisCluster", "RedisServer"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ask(port: int, *arguments: str) -> bytes:
    """One command over a raw socket; the reply's first kilobytes, or b"" on failure."""
    command = b"*%d\r\n" % len(arguments) + b"".join(
        b"$%d\r\n%s\r\n" % (len(argument), argument.encode()) for argument in arguments
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(command)
            return connection.recv(4096)
    except OSError:
        return b""


def _answers_ping(port: int) -> bool:
    return _ask(port, "PING").startswith(b"+PONG")


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


def _node_arguments() -> list[str]:
    bus_port = str(_free_port())
    return [
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-port", bus_port,
        "--cluster-node-timeout", "5000",
    ]  # fmt: skip


def _cluster_ok(port: int) -> bool:
    return b"cluster_state:ok" in _ask(port, "CLUSTER", "INFO")


class LocalRedisCluster:
    """A Redis Cluster of three primaries on 127.0.0.1, each a `RedisServer`, no replicas.

    Each node runs ``redis-server --cluster-enabled yes`` in its own temporary directory
    (its ``nodes.conf`` there); ``redis-cli --cluster create`` then splits the 16384 slots
    between them, and `start` returns once every node reports ``cluster_state:ok``.

    Args:
        nodes: How many primaries (Redis Cluster needs at least three).
        startup_timeout: Seconds to wait for the cluster to form.
    """

    def __init__(self, *, nodes: int = 3, startup_timeout: float = 30.0) -> None:
        if nodes < 3:
            raise ValueError("Redis Cluster needs at least three primaries")
        if not self.available():
            raise FileNotFoundError(
                "a local Redis Cluster needs redis-server and redis-cli; install them "
                "(apt-get install redis-server)"
            )
        self.startup_timeout = startup_timeout
        self.servers = [RedisServer(extra_arguments=_node_arguments()) for _ in range(nodes)]
        self._running = False

    @staticmethod
    def available() -> bool:
        """Whether ``redis-server`` and ``redis-cli`` are both on ``PATH``."""
        return RedisServer.executable() is not None and shutil.which("redis-cli") is not None

    @property
    def ports(self) -> list[int]:
        """The nodes' client ports."""
        return [server.port for server in self.servers]

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`` once started."""
        if not self._running:
            raise RuntimeError("the Redis Cluster is not running; call start() first")
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> str:
        """Start the nodes, join them into a cluster, wait until it serves; returns its URL.

        Raises:
            RuntimeError: If the cluster did not form in time.
        """
        try:
            for server in self.servers:
                server.start()
            create = subprocess.run(
                [
                    str(shutil.which("redis-cli")), "--cluster", "create",
                    *(f"127.0.0.1:{port}" for port in self.ports),
                    "--cluster-replicas", "0", "--cluster-yes",
                ],
                capture_output=True,
                text=True,
                timeout=self.startup_timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )  # fmt: skip
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{create.stdout[-2000:]}")
            deadline = time.monotonic() + self.startup_timeout
            while not all(_cluster_ok(port) for port in self.ports):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok in time")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self._running = True
        return self.url

    def stop(self) -> None:
        """Stop every node and remove their directories."""
        self._running = False
        for server in self.servers:
            server.stop()

    def __enter__(self) -> LocalRedisCluster:
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
        state = f"ports {self.ports}" if self._running else "stopped"
        return f"LocalRedisCluster({state})"
