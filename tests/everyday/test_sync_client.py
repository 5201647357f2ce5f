"""`SyncAether`: the client without await, in scripts, threads and running event loops."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import closing
from typing import Any

import pytest

from aether import Aether, LLMResponse, SyncAether
from aether.extensions.llm.fake import FakeProvider
from aether.testing.wire import ScriptedReply, StalledStream
from aether.testing.wires.openai import OPENAI_WIRE

from ._servers import threaded_server


def aether_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "aether-sync"]


def test_the_same_methods_without_await() -> None:
    with SyncAether(FakeProvider(responses=["one", "two three", "four five"])) as client:
        assert client.ask("hi") == "one"
        response = client.complete("hi")
        assert isinstance(response, LLMResponse)
        assert response.text == "two three"
        chunks = list(client.stream("hi"))
        assert "".join(chunk.text for chunk in chunks) == "four five"
        assert chunks[-1].finish_reason == "stop"
        assert client.usage.total_requests == 3
        assert repr(client.pipeline).endswith("→ fake)")
        assert client.default_model == "fake-model"
    assert aether_threads() == []


def test_takes_the_same_arguments_as_aether() -> None:
    client = SyncAether(FakeProvider(), with_retry=False, budget_usd=1.0)
    assert "Retry" not in repr(client.pipeline)
    with pytest.raises(TypeError, match=r"'retries' \(did you mean 'retry'\?\)"):
        SyncAether(FakeProvider(), retries=2)  # type: ignore[call-arg]
    client.close()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.ask("after")


def test_stream_text_is_a_plain_iterator_that_closes_early() -> None:
    fake = FakeProvider(responses=["alpha beta gamma delta"])
    with SyncAether(fake) as client:
        with closing(client.stream_text("hi")) as deltas:
            assert next(deltas) == "alpha "
        # The client's stream ended without its final chunk: no tokens were recorded.
        assert client.usage.total_requests == 0
        assert client.usage.incomplete_streams == 1


async def test_works_inside_a_running_event_loop() -> None:
    # As in Jupyter: the calling thread already runs an event loop (asyncio or trio).
    with SyncAether(FakeProvider(responses=["from a notebook", "streamed here"])) as client:
        assert client.ask("hi") == "from a notebook"
        assert "".join(client.stream_text("hi")) == "streamed here"


async def test_a_session_works_inside_a_running_event_loop() -> None:
    with SyncAether(FakeProvider(responses=["Hi Alice.", "Alice."])) as client:
        session = client.session("alice", system="Be brief.")
        assert client.session("alice") is not session  # a new view on the same Session
        assert session.ask("My name is Alice.") == "Hi Alice."
        assert "".join(session.stream_text("What's my name?")) == "Alice."
        assert [m.content for m in session.history()] == [
            "Be brief.", "My name is Alice.", "Hi Alice.", "What's my name?", "Alice."
        ]  # fmt: skip
        session.clear()
        assert session.history() == []


def test_calls_from_several_threads_run_on_one_loop() -> None:
    with SyncAether(FakeProvider(canned_response="pong")) as client:
        answers: list[str] = []
        threads = [
            threading.Thread(target=lambda: answers.append(client.ask("ping"))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == ["pong"] * 4
        assert len(aether_threads()) == 1


def test_a_real_adapter_over_a_socket() -> None:
    script = [ScriptedReply(text=("Hello", " there.")), ScriptedReply(text=("Streamed", "!"))]
    with threaded_server(OPENAI_WIRE, script) as served:
        with SyncAether(served.provider()) as client:
            assert client.ask("hi") == "Hello there."
            assert list(client.stream_text("hi")) == ["Streamed", "!"]
        served.wait_until(lambda: served.server.open_connections == 0)


def _blocked_in_a_sync_call(thread_id: int) -> bool:
    """Whether the thread waits for an answer from the client's loop (not starting it)."""
    frame: Any = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code is Future.result.__code__:
            return frame.f_back is not None and frame.f_back.f_code.co_name == "run"
        frame = frame.f_back
    return False


def _interrupt_when_blocked(
    thread_id: int, ready: Callable[[], bool] = lambda: True
) -> threading.Thread:
    """Send Ctrl-C to the thread once it waits on the client's loop and ``ready()`` holds."""

    def interrupt() -> None:
        for _ in range(5000):  # at most ~5 s
            if ready() and _blocked_in_a_sync_call(thread_id):
                signal.pthread_kill(thread_id, signal.SIGINT)
                return
            threading.Event().wait(0.001)

    helper = threading.Thread(target=interrupt)
    helper.start()
    return helper


@pytest.mark.parametrize("through", ["client", "session"])
def test_ctrl_c_stops_a_sync_stream_and_closes_the_upstream_stream(through: str) -> None:
    with threaded_server(OPENAI_WIRE, [StalledStream(text=("first ",))]) as served:
        client = SyncAether(served.provider())
        session = client.session("s")
        deltas = client.stream_text("hi") if through == "client" else session.stream_text("hi")
        assert next(deltas) == "first "
        helper = _interrupt_when_blocked(threading.get_ident())
        with pytest.raises(KeyboardInterrupt):
            next(deltas)  # the server says nothing more: only Ctrl-C ends the wait
        helper.join()
        # The upstream HTTP stream was closed: the server saw its connection end.
        served.wait_until(lambda: served.server.open_connections == 0)
        assert served.mock.open_streams == 0
        assert session.history() == []  # an interrupted turn stores nothing
        client.close()


def test_ctrl_c_cancels_a_sync_call() -> None:
    from aether.testing.wire import Hang

    script = [Hang(), ScriptedReply(text=("later",))]
    with threaded_server(OPENAI_WIRE, script) as served, SyncAether(served.provider()) as client:
        # Interrupted once the server holds the request (it never answers it).
        helper = _interrupt_when_blocked(threading.get_ident(), lambda: served.mock.requests != [])
        with pytest.raises(KeyboardInterrupt):
            client.ask("hi")
        helper.join()
        served.wait_until(lambda: served.server.open_connections == 0)
        assert client.ask("again") == "later"  # the client still works


def test_an_unclosed_client_stops_its_thread_when_collected() -> None:
    client = SyncAether(FakeProvider(canned_response="x"))
    assert client.ask("hi") == "x"
    assert len(aether_threads()) == 1
    del client
    import gc

    gc.collect()
    assert aether_threads() == []


def test_the_async_client_is_there_for_the_rest() -> None:
    with SyncAether(FakeProvider()) as client:
        assert isinstance(client.aether, Aether)
        seen: list[str] = []
        client.on("request.complete", lambda event: seen.append(event.name))
        client.ask("hi")
        assert seen == ["request.complete"]
