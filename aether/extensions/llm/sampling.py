"""Which models take sampling parameters, so that Aether's defaults never break a call.

Aether fills in a temperature when a call sets none (``AETHER_DEFAULT_TEMPERATURE``,
0.7), but reasoning models refuse one: OpenAI's o-series and GPT-5 family answer 400
to any temperature or top_p but their default, Claude Opus 4.7 and later to any at
all, and Google documents that Gemini 3 loops or degrades below its default of 1.0.
Each model name gets one of three answers:

``"defaults"``
    The model takes sampling parameters: Aether's defaults are sent.
``"no_defaults"``
    Aether's defaults are left out (the model uses its own); values a call sets are
    sent as given, for the server to judge.
``"refuses"``
    Aether's defaults are left out, and a temperature or top_p a call sets, other than
    1, is refused before anything is sent, with a `BadRequestError` naming the fix.

No maintained source holds this: genai-prices (Aether's price data) has prices and
context windows, OpenAI's models endpoint ids and owners, Anthropic's thinking support
but nothing on sampling, Gemini's default temperatures but not the advice. So the answer
comes from the small table `BUILTIN_RULES` of model-name patterns, and a provider takes
rules of your own first: ``OpenAIProvider(sampling={"my-reasoner-*": "refuses"})`` (or
``ProviderConfig(options={"sampling": {...}})``). A model no rule names is
``"defaults"``; if it then refuses a default Aether added, the adapter resends the call
once without it and remembers that for the model (see the README).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Literal, cast, get_args

from aether.errors import ConfigurationError

__all__ = ["BUILTIN_RULES", "SamplingSupport", "check_rules", "sampling_support"]

SamplingSupport = Literal["defaults", "no_defaults", "refuses"]
"""What Aether does with sampling parameters for a model (see the module docstring)."""

_SUPPORTS: tuple[str, ...] = get_args(SamplingSupport)

BUILTIN_RULES: Mapping[str, tuple[tuple[str, SamplingSupport], ...]] = {
    "openai": (
        # GPT-5 Chat is the non-reasoning GPT-5 and takes sampling parameters.
        ("gpt-5-chat*", "defaults"),
        ("o1*", "refuses"),
        ("o3*", "refuses"),
        ("o4*", "refuses"),
        ("codex-mini*", "refuses"),
        # gpt-5.1 and later take temperature only with reasoning_effort "none".
        ("gpt-5.*", "no_defaults"),
        ("gpt-5", "refuses"),
        ("gpt-5-*", "refuses"),
    ),
    "anthropic": (
        # Opus 4.7 removed temperature, top_p and top_k.
        ("*claude-opus-4-7*", "refuses"),
        ("*claude-opus-4-8*", "refuses"),
    ),
    "gemini": (
        # Google: keep Gemini 3 at its default temperature of 1.0.
        ("gemini-3*", "no_defaults"),
    ),
}
"""Built-in rules by provider: (model-name pattern, support), the first match wins.

Patterns are shell-style (``fnmatch``), matched case-insensitively against the whole
model name and against its last ``/`` segment (``openai/o3`` on a gateway is ``o3``).
"""

_SAME_MODELS = {"openai-responses": "openai"}
"""Providers that serve another's models, and so share its rules."""


def check_rules(rules: Mapping[str, str] | None) -> dict[str, SamplingSupport]:
    """``rules`` as a validated dict, patterns lower-cased.

    Raises:
        ConfigurationError: Naming every rule whose pattern is not a string or whose
            support is not one of ``defaults``, ``no_defaults``, ``refuses``.
    """
    if not rules:
        return {}
    if not isinstance(rules, Mapping):
        raise ConfigurationError(
            f"sampling= takes a dict of model-name pattern to support, not "
            f"{type(rules).__name__}: write sampling={{'my-model-*': 'no_defaults'}}"
        )
    checked: dict[str, SamplingSupport] = {}
    problems = []
    for pattern, support in rules.items():
        if isinstance(pattern, str) and support in _SUPPORTS:
            checked[pattern.lower()] = cast(SamplingSupport, support)
        else:
            problems.append(
                f"sampling[{pattern!r}] = {support!r}: give a model-name pattern and one of "
                f"{', '.join(map(repr, _SUPPORTS))}"
            )
    if problems:
        raise ConfigurationError("; ".join(problems), problems=problems)
    return checked


def _matches(pattern: str, name: str, last: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(last, pattern)


def sampling_support(
    provider: str, model: str, rules: Mapping[str, SamplingSupport] | None = None
) -> SamplingSupport:
    """What Aether does with sampling parameters for ``model`` on ``provider``.

    Args:
        provider: The provider's name (``openai``, ``anthropic``, ``gemini``...).
        model: The model name as the request sends it.
        rules: Your rules (pattern to support), checked before the built-in ones.
    """
    name = model.lower()
    last = name.rsplit("/", 1)[-1]
    for pattern, support in (rules or {}).items():
        if _matches(pattern.lower(), name, last):
            return support
    for pattern, support in BUILTIN_RULES.get(_SAME_MODELS.get(provider, provider), ()):
        if _matches(pattern, name, last):
            return support
    return "defaults"
