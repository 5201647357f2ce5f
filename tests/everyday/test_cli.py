"""The ``aether`` command, end to end in a subprocess: the Fake provider and a loopback server."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from aether.cli import build_parser, main, use_color
from aether.testing.wire import ScriptedError, ScriptedReply, StalledStream
from aether.testing.wires.openai import OPENAI_WIRE

from ._servers import threaded_server

ROOT = Path(__file__).parents[2]


def aether(
    *arguments: str, stdin: str = "", cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aether ...`` with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "aether", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for arguments in (["--help"], ["ask", "--help"], ["chat", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(arguments)
        assert exited.value.code == 0
    shown = capsys.readouterr().out
    for text in ("ask", "chat", "demo", "Exit codes", "--provider", "--json", "--history"):
        assert text in shown


def test_no_arguments_prints_the_help() -> None:
    done = aether()
    assert done.returncode == 0
    assert "usage: aether" in done.stdout
    assert "{ask,chat,demo}" not in done.stdout  # the COMMAND metavar, then the list


def test_the_console_script_is_declared_and_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"aether": "aether.cli:main"}
    assert "platformdirs>=4" in project["project"]["optional-dependencies"]["cli"]
    # dev.py installs the project into .venv, console script included.
    script = Path(sys.executable).parent / "aether"
    done = subprocess.run([str(script), "ask", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "usage: aether ask" in done.stdout


def test_ask_streams_the_answer_to_stdout_and_usage_to_stderr() -> None:
    done = aether("ask", "What is the meaning of life?", LLM_PROVIDER="fake")
    assert done.returncode == 0, done.stderr
    assert "'What is the meaning of life?'" in done.stdout
    assert "[fake-model: " in done.stderr
    assert "tokens, $0.000000]" in done.stderr
    assert "fake-model" not in done.stdout


def test_ask_reads_piped_stdin_before_the_prompt_and_prints_json() -> None:
    done = aether("ask", "--json", "Summarise it.", stdin="Some text.\n", LLM_PROVIDER="fake")
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)
    assert repr("Some text.\n\nSummarise it.") in response["text"]  # the Fake quotes it
    assert response["model"] == "fake-model"
    assert response["cost_usd"] == 0.0


def test_ask_with_tools_from_your_own_module(tmp_path: Path) -> None:
    (tmp_path / "mytools.py").write_text(
        "def add(a: int, b: int) -> int:\n    '''Add two numbers.'''\n    return a + b\n"
    )
    arguments = ("ask", "What's 17+25?", "--tools", "mytools:add")
    done = aether(*arguments, cwd=tmp_path, LLM_PROVIDER="fake")
    assert done.returncode == 0, done.stderr
    assert '[calling add({"a": 17, "b": 25})]' in done.stderr
    assert "The add tool returned 42." in done.stdout


@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        (["ask", "hi"], {"LLM_PROVIDER": "openai"}, "set OPENAI_API_KEY"),
        (["ask", "hi", "--provider", "opnai"], {}, "did you mean 'openai'"),
        (["ask", "hi", "--tools", "nowhere:thing"], {"LLM_PROVIDER": "fake"}, "nowhere"),
        (["ask", "hi", "--tools", "justamodule"], {"LLM_PROVIDER": "fake"}, "module:attribute"),
        (["ask"], {"LLM_PROVIDER": "fake"}, "no prompt"),
        (["ask", "--temperature", "2"], {}, "unrecognized arguments"),
    ],
    ids=["missing-key", "unknown-provider", "bad-tools", "tools-spec", "no-prompt", "bad-option"],
)
def test_bad_usage_or_configuration_exits_2(
    arguments: list[str], env: dict[str, str], message: str
) -> None:
    done = aether(*arguments, **env)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_against_an_openai_compatible_server() -> None:
    script = [ScriptedReply(text=("Hello", " there.")), ScriptedError(400, "no such model")]
    with threaded_server(OPENAI_WIRE, script) as served:
        env = {
            "LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": served.url + "/v1",
            "OPENAI_API_KEY": OPENAI_WIRE.api_key,
        }
        done = aether("ask", "--model", "scripted-model-001", "hi", **env)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Hello there.\n"
        assert "[scripted-model-001: 12 in + 7 out tokens, cost unknown]" in done.stderr
        assert served.mock.last.model == "scripted-model-001"
        assert served.mock.last.stream is True

        failed = aether("ask", "--system", "Be brief.", "hi", **env)
        assert failed.returncode == 1
        assert "no such model" in failed.stderr
        assert served.mock.last.system == "Be brief."
        assert OPENAI_WIRE.api_key not in failed.stderr


def test_chat_keeps_history_in_a_sqlite_session(tmp_path: Path) -> None:
    env = {"LLM_PROVIDER": "fake", "XDG_DATA_HOME": str(tmp_path)}
    first = aether("chat", stdin="My name is Alice.\n/cost\n/model other-model\n/exit\n", **env)
    assert first.returncode == 0, first.stderr
    assert "'My name is Alice.'" in first.stdout
    assert "1 requests, " in first.stderr
    assert "[model: other-model]" in first.stderr
    history = tmp_path / "aether" / "chat.sqlite3"  # the user's data directory
    assert history.exists()
    assert str(history) in first.stderr

    second = aether("chat", stdin="Still there?\n", **env)  # Ctrl-D (end of input) leaves
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("you> ") == 2  # one turn, then end of input

    again = aether("chat", "--history", str(history), stdin="/reset\n/exit\n", **env)
    assert "[session 'default' forgotten]" in again.stderr
    import sqlite3

    with sqlite3.connect(history) as database:
        assert database.execute("SELECT COUNT(*) FROM aether_session_messages").fetchone() == (0,)


def test_ctrl_c_in_chat_cancels_the_answer_not_the_program(tmp_path: Path) -> None:
    script = [StalledStream(text=("first ",)), ScriptedReply(text=("second answer",))]
    with threaded_server(OPENAI_WIRE, script) as served:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": served.url + "/v1",
            "OPENAI_API_KEY": OPENAI_WIRE.api_key,
        }
        history = tmp_path / "chat.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "aether", "chat", "--history", str(history)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        stdin: Any = process.stdin
        stdout: Any = process.stdout
        try:
            stdin.write(b"hello\n")
            stdin.flush()
            assert stdout.read(len(b"you> first ")) == b"you> first "  # then the server stalls
            process.send_signal(signal.SIGINT)
            served.wait_until(lambda: served.server.open_connections == 0)  # stream closed
            out, err = process.communicate(b"again\n/exit\n", timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 0, err
        assert b"[cancelled]" in err
        assert b"second answer" in out
        # The cancelled turn was not stored; the second one was, on its own.
        assert [m.content for m in served.mock.last.messages] == ["again"]


def test_no_color_is_respected() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_color(Terminal(), {}) is True
    assert use_color(Terminal(), {"NO_COLOR": "1"}) is False
    assert use_color(io.StringIO(), {}) is False


def test_demo_runs() -> None:
    done = aether("demo")
    assert done.returncode == 0, done.stderr
    assert "stream with tools" in done.stdout
    assert build_parser().prog == "aether"
