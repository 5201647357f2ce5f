"""The first hour's sharp edges: README examples as a new user runs them, and clear errors."""

from __future__ import annotations

import inspect
import pydoc
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from aether import Aether, LLMRequest, ProviderConfig, ProviderError
from aether.client import CallOptions
from aether.extensions.llm.fake import FakeProvider

README = (Path(__file__).parents[2] / "README.md").read_text()


def readme_block(heading: str, index: int = 0) -> str:
    """The ``index``-th python code block under ``heading`` in README.md."""
    section = README.split(f"\n{heading}\n", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.S)[index]


def test_readme_pipeline_repr_is_what_its_client_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "fake")
    namespace: dict[str, object] = {}
    exec(readme_block("## Middleware: the onion"), namespace)
    client = namespace["client"]
    assert isinstance(client, Aether)
    shown = repr(client.pipeline)
    assert shown.startswith("Pipeline(log_calls[call only] → Both → StructuredOutput → ToolLoop")
    assert f"`{shown}`" in README


def test_readme_lists_every_call_option() -> None:
    sentence = README.split("Every call accepts, by keyword:", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`(\w+)`", sentence))
    assert set(CallOptions.__annotations__) <= listed


def test_readme_testing_example_passes_under_plain_pytest(tmp_path: Path) -> None:
    # A fresh project: no conftest, no pytest settings, just the README's test file.
    (tmp_path / "test_example.py").write_text(readme_block("## Testing without API calls"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[12] passed", done.stdout)  # asyncio, and trio where installed


def test_stream_docstring_recommends_aclosing() -> None:
    doc = inspect.getdoc(Aether.stream) or ""
    assert "contextlib.aclosing" in doc
    assert "or break out of the loop" not in doc


def test_help_shows_the_client_attributes() -> None:
    text = pydoc.render_doc(Aether, renderer=pydoc.plaintext)
    for name in ("usage:", "pipeline:", "cache:", "circuit_breaker:"):
        assert name in text
    assert "config: 'ProviderConfig | None' = None" in text  # __init__'s arguments


def test_a_misspelt_client_argument_names_the_likely_one() -> None:
    with pytest.raises(TypeError, match=r"'retries' \(did you mean 'retry'\?\)"):
        Aether(retries=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"'budget' \(did you mean 'budget_usd'\?\)"):
        Aether(budget=5)  # type: ignore[call-arg]


def test_a_subclass_with_arguments_of_its_own_still_builds() -> None:
    class Named(Aether):
        def __init__(self, label: str, **options: Any) -> None:
            super().__init__(FakeProvider(), **options)
            self.label = label

    assert Named(label="x", with_retry=False).label == "x"


def test_a_misspelt_provider_config_field_names_the_likely_one() -> None:
    key = "sk-misspelt-0a1b2c3d"
    with pytest.raises(ValidationError) as caught:
        ProviderConfig(name="openai", apikey=key)  # type: ignore[call-arg]
    assert "'apikey' (did you mean 'api_key'?)" in str(caught.value)
    assert key not in str(caught.value)


class _ForgetfulProvider:
    name = "forgetful"

    async def complete(self, request: LLMRequest) -> None:
        return None  # forgot the return statement's value


async def test_a_provider_returning_none_fails_naming_the_provider() -> None:
    client = Aether(_ForgetfulProvider())
    with pytest.raises(ProviderError, match=r"forgetful provider's complete\(\) returned NoneType"):
        await client.ask("hi")
    with pytest.raises(ProviderError, match=r"forgetful provider's complete\(\) returned NoneType"):
        async for _ in client.stream_text("hi"):
            pass
    assert client.usage.total_requests == 0
