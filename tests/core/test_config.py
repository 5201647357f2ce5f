"""Environment-driven settings: call-time reads, precedence, warnings on bad values."""

from __future__ import annotations

import logging

import pytest

from aether import config


def test_defaults_when_unset() -> None:
    assert config.provider_name() == "openai"
    assert config.default_temperature() == 0.7
    assert config.max_tool_iterations() == 10
    assert config.http_tool_timeout() == 10.0
    assert config.http_tool_max_bytes() == 100_000
    assert config.file_tool_max_bytes() == 200_000


def test_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_MAX_TOOL_ITERATIONS", "3")
    assert config.max_tool_iterations() == 3
    monkeypatch.setenv("AETHER_MAX_TOOL_ITERATIONS", "4")
    assert config.max_tool_iterations() == 4


def test_per_call_value_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_HTTP_TOOL_TIMEOUT", "2.5")
    assert config.http_tool_timeout() == 2.5
    assert config.http_tool_timeout(7.0) == 7.0


def test_provider_name_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "  Gemini ")
    assert config.provider_name() == "gemini"


@pytest.mark.parametrize(
    ("variable", "bad", "read", "default"),
    [
        ("AETHER_DEFAULT_TEMPERATURE", "hot", config.default_temperature, 0.7),
        ("AETHER_DEFAULT_TEMPERATURE", "9", config.default_temperature, 0.7),
        ("AETHER_MAX_TOOL_ITERATIONS", "0", config.max_tool_iterations, 10),
        ("AETHER_MAX_TOOL_ITERATIONS", "2.5", config.max_tool_iterations, 10),
        ("AETHER_DEFAULT_TEMPERATURE", "nan", config.default_temperature, 0.7),
        ("AETHER_HTTP_TOOL_TIMEOUT", "-1", config.http_tool_timeout, 10.0),
        ("AETHER_HTTP_TOOL_TIMEOUT", "inf", config.http_tool_timeout, 10.0),
        ("AETHER_HTTP_TOOL_MAX_BYTES", "lots", config.http_tool_max_bytes, 100_000),
        ("AETHER_FILE_TOOL_MAX_BYTES", "0", config.file_tool_max_bytes, 200_000),
    ],
)
def test_invalid_value_falls_back_and_warns_once(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    bad: str,
    read: object,
    default: object,
) -> None:
    monkeypatch.setattr(config, "_warned", set())
    monkeypatch.setattr(config, "_parsed", {})
    monkeypatch.setenv(variable, bad)
    with caplog.at_level(logging.WARNING, logger="aether.config"):
        assert read() == default  # type: ignore[operator]
        assert read() == default  # type: ignore[operator]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert variable in warnings[0]
    assert repr(bad) in warnings[0]


def test_temperature_none_sends_no_temperature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_DEFAULT_TEMPERATURE", "none")
    assert config.default_temperature() is None
    assert config.default_temperature(0.4) == 0.4
