"""Four processes × 25 concurrent tasks against one Redis: one set of limits for all.

Two workers run on asyncio and two on trio. Rate limits run on virtual time (each task
keeps its own clock; a booking moves it on), so the schedule the fleet keeps is checked
exactly, whatever the machine's load; the breaker runs on a clock the test sets. Nothing
here measures wall time.
"""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("asyncio", "trio", "asyncio", "trio")
WORKER = "tests.fleet._fleet_worker"


class Fleet:
    """Four worker processes, started once and moved from server to server."""

    def __init__(self) -> None:
        self.errors = [tempfile.TemporaryFile("w+") for _ in BACKENDS]  # noqa: SIM115
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", WORKER, backend],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            for backend, errors in zip(BACKENDS, self.errors, strict=True)
        ]
        for process in self.processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"

    def connect(self, url: str) -> None:
        """Point every worker at ``url``, under a fresh namespace."""
        self.send({"op": "connect", "url": url, "namespace": f"fleet-{uuid.uuid4().hex}"})

    def send(self, command: dict[str, Any], workers: range | None = None) -> list[Any]:
        """Send ``command`` to the workers at once; their replies, in order."""
        chosen = [self.processes[index] for index in workers or range(len(self.processes))]
        for process in chosen:
            assert process.stdin is not None
            process.stdin.write(json.dumps(command) + "\n")
            process.stdin.flush()
        replies = []
        for process in chosen:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                errors = self.errors[self.processes.index(process)]
                errors.seek(0)
                pytest.fail(f"a fleet worker died ({process.wait()}):\n{errors.read()[-3000:]}")
            replies.append(json.loads(line))
        return replies

    def close(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            process.wait(timeout=30)
            assert process.stdout is not None
            process.stdout.close()
        for errors in self.errors:
            errors.close()


@pytest.fixture(scope="module")
def workers() -> Iterator[Fleet]:
    started = Fleet()
    yield started
    started.close()


@pytest.fixture(params=["node", "cluster"])
def fleet(workers: Fleet, request: pytest.FixtureRequest) -> Fleet:
    """The workers, connected to a single Redis or to a Redis Cluster of three nodes."""
    workers.connect(
        request.getfixturevalue("redis_url" if request.param == "node" else "redis_cluster_url")
    )
    return workers


def test_the_rpm_limit_holds_fleet_wide(fleet: Fleet) -> None:
    rpm = 120  # one every 0.5 s (a burst of 2); 4 × 25 tasks × 4 calls = 400 calls
    replies = fleet.send({"op": "rate", "rpm": rpm, "calls": 4})
    arrivals = sorted(time for reply in replies for time in reply["arrivals"])
    assert len(arrivals) == 400
    busiest = max(
        bisect.bisect_left(arrivals, start + 60.0) - index for index, start in enumerate(arrivals)
    )
    assert busiest <= rpm * 1.05  # no minute anywhere saw more than the limit and 5 %
    achieved = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) * 60
    assert rpm * 0.95 <= achieved <= rpm * 1.05  # and the fleet kept up the limit


def test_a_budget_is_never_overshot_by_more_than_one_reservation(fleet: Fleet) -> None:
    replies = fleet.send({"op": "budget", "budget_usd": 0.5})
    spent = sum(reply["spent_usd"] for reply in replies)
    reservation = replies[0]["reservation_usd"]
    assert 0.5 <= spent <= 0.5 + reservation
    assert sum(reply["refused"] for reply in replies) == 100  # every task stopped, refused
    calls = sum(reply["calls"] for reply in replies)
    assert spent == pytest.approx(calls * 0.006)  # each call charged once, fleet-wide


def test_the_breaker_opens_in_every_process_after_failures_seen_by_one(fleet: Fleet) -> None:
    fleet.send({"op": "clock", "now": 1000.0})
    assert [reply["ok"] for reply in fleet.send({"op": "breaker", "fail": False})] == [25] * 4
    failing = fleet.send({"op": "breaker", "fail": True}, workers=range(1))[0]
    assert failing["failed"] == 25  # its calls were all in flight when it opened
    fleet.send({"op": "clock", "now": 1001.0})  # the views' refresh (1 s) has passed
    replies = fleet.send({"op": "breaker", "fail": False})
    assert [(reply["refused"], reply["provider_calls"]) for reply in replies] == [(25, 0)] * 4
    # Cooldown over: 100 callers in four processes, one probe. It fails and reopens.
    fleet.send({"op": "clock", "now": 1011.0})
    replies = fleet.send({"op": "breaker", "fail": True})
    assert sum(reply["provider_calls"] for reply in replies) == 1
    assert sum(reply["refused"] for reply in replies) == 99
