"""Every name telemetry writes is the semantic-conventions package's own (or Aether's)."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import (
    error_attributes,
    exception_attributes,
    server_attributes,
)

from aether.middleware import _telemetry_names as names

_ATTRIBUTE_MODULES = (gen_ai, server_attributes, error_attributes, exception_attributes)


def _convention_values(modules: tuple[object, ...]) -> set[str]:
    return {
        value
        for module in modules
        for key, value in vars(module).items()
        if key.isupper() and isinstance(value, str)
    }


def _our_names(prefixes: tuple[str, ...]) -> dict[str, str]:
    return {
        key: value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and value.startswith(prefixes)
    }


def test_every_attribute_name_is_in_the_conventions() -> None:
    ours = _our_names(("gen_ai.", "server.", "error.", "exception."))
    ours = {key: value for key, value in ours.items() if not value.startswith("gen_ai.client.")}
    assert len(ours) >= 30
    known = _convention_values(_ATTRIBUTE_MODULES)
    assert {key: value for key, value in ours.items() if value not in known} == {}


def test_no_deprecated_attribute_is_used() -> None:
    deprecated = {gen_ai.GEN_AI_SYSTEM, gen_ai.GEN_AI_USAGE_PROMPT_TOKENS,
                  gen_ai.GEN_AI_USAGE_COMPLETION_TOKENS, gen_ai.GEN_AI_PROMPT,
                  gen_ai.GEN_AI_COMPLETION}  # fmt: skip
    assert deprecated.isdisjoint(_our_names(("gen_ai.",)).values())


def test_metric_names_are_the_conventions() -> None:
    assert names.TOKEN_USAGE == gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
    assert names.OPERATION_DURATION == gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
    assert names.TIME_TO_FIRST_CHUNK == gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
    assert names.COST.startswith("aether.")


def test_enumerated_values_are_the_conventions() -> None:
    operations = {item.value for item in gen_ai.GenAiOperationNameValues}
    assert {names.CHAT, names.INVOKE_AGENT, names.EXECUTE_TOOL} <= operations
    tokens = {item.value for item in gen_ai.GenAiTokenTypeValues}
    assert {names.TOKEN_INPUT, names.TOKEN_OUTPUT} <= tokens
    providers = {item.value for item in gen_ai.GenAiProviderNameValues}
    assert set(names.PROVIDERS.values()) <= providers
    assert {name for _, name in names.HOSTS} <= providers
    assert names.TOOL_TYPE_FUNCTION == "function"  # the conventions' example value
