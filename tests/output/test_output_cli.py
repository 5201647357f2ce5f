"""``aether ask --output-type module:Type``: a validated answer, printed as JSON."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from aether.cli import main
from aether.testing.wire import ScriptedReply
from aether.testing.wires.openai import OPENAI_WIRE
from tests.everyday._servers import threaded_server

TYPES = """
from pydantic import BaseModel

class Point(BaseModel):
    x: int
    y: int

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
NOT_A_TYPE = 3
"""


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "shapes.py").write_text(TYPES)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nothing piped
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_answer_is_printed_validated_as_json(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    assert main(["ask", "--output-type", "shapes:Point", "Where?"]) == 0
    shown = capsys.readouterr()
    assert json.loads(shown.out) == {"x": 1, "y": 1}
    assert "[native output]" in shown.err
    assert main(["ask", "--output-type", "shapes:SCHEMA", "How many?"]) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 1}


def test_json_gives_the_whole_response_with_its_output(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    assert main(["ask", "--json", "--output-type", "shapes:Point", "Where?"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["output"] == {"x": 1, "y": 1}
    assert response["output_mode"] == "native"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("shapes", "module:attribute"),
        ("shapes:Nowhere", "has no attribute 'Nowhere'"),
        ("nowhere:Point", "No module named 'nowhere'"),
        ("shapes:NOT_A_TYPE", "not a type or a JSON Schema dict"),
    ],
)
def test_a_bad_output_type_exits_2(
    spec: str,
    message: str,
    in_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    assert main(["ask", "--output-type", spec, "hi"]) == 2
    shown = capsys.readouterr()
    assert message in shown.err
    assert shown.out == ""


def test_against_an_openai_server_invalid_answers_exit_1_with_the_reason(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = [ScriptedReply(text=('{"x": 1, "y": 2}',))] + [ScriptedReply(text=("nope",))] * 3
    with threaded_server(OPENAI_WIRE, script) as served:
        monkeypatch.setenv("LLM_PROVIDER", "openai")
        monkeypatch.setenv("OPENAI_BASE_URL", served.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_WIRE.api_key)
        assert main(["ask", "--output-type", "shapes:Point", "Where?"]) == 0
        assert json.loads(capsys.readouterr().out) == {"x": 1, "y": 2}
        assert served.mock.last.body["response_format"]["json_schema"]["name"] == "Point"
        assert main(["ask", "--output-type", "shapes:Point", "Where?"]) == 1
        shown = capsys.readouterr()
        assert "3 answers failed validation" in shown.err
        assert shown.out == ""
