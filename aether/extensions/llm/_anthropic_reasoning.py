"""`LLMRequest.reasoning` on the Anthropic Messages wire: ``thinking`` and its effort.

Claude models differ in what they take, so the model's name decides (by prefix; a name
this table does not know is taken as a current model, like the 4.6 generation):

============================  ==========================  ================  ============
models                        a level (``"low"``...)      a token budget    ``"none"``
============================  ==========================  ================  ============
Opus 4.7+, Claude 5, Mythos   adaptive thinking + effort  refused           ``disabled``
Opus 4.6, Sonnet 4.6          adaptive thinking + effort  manual budget     ``disabled``
3.7 Sonnet, Claude 4 to 4.5   manual budget (the table)   manual budget     left out
Claude 3, 3.5, 2              refused                     refused           left out
============================  ==========================  ================  ============

A level's effort is Anthropic's own (``minimal`` is sent as ``low``, its lowest); its
budget on a manual model is `REASONING_BUDGETS`. ``max_tokens`` must exceed a manual
budget: a request that sets none gets the budget plus the provider's default (the answer
keeps its room), one that sets too few is refused. Adaptive thinking gets the same
headroom when ``max_tokens`` is not set. Thinking never combines with a forced tool
choice (the API refuses it), so that is refused here too, before sending.
"""

from __future__ import annotations

from typing import Any

from aether.extensions.llm._parts import REASONING_BUDGETS, model_family, refused
from aether.llm.contracts import LLMRequest

__all__ = ["MIN_BUDGET", "family", "thinking_fields"]

MIN_BUDGET = 1024
"""Anthropic's smallest thinking budget."""

_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("always", ("claude-mythos-preview",)),
    (
        "adaptive_only",
        (
            "claude-opus-4-7",
            "claude-opus-4-8",
            "claude-opus-5",
            "claude-sonnet-5",
            "claude-haiku-5",
            "claude-fable",
            "claude-mythos",
        ),
    ),
    ("adaptive", ("claude-opus-4-6", "claude-sonnet-4-6")),
    ("budget", ("claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4")),
    ("none", ("claude-3", "claude-2", "claude-instant")),
)

_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


def family(model: str) -> str:
    """``always``, ``adaptive_only``, ``adaptive``, ``budget`` or ``none`` for ``model``."""
    start = model.find("claude-")
    return model_family(model[start:] if start >= 0 else model, _FAMILIES, "adaptive")


def thinking_fields(
    request: LLMRequest, *, model: str, provider: str, default_max_tokens: int
) -> dict[str, Any]:
    """The body fields ``request.reasoning`` sets: ``thinking``, ``output_config``,
    ``max_tokens``.

    Raises:
        BadRequestError: If the model cannot take the option (see the module's table).
    """
    reasoning = request.reasoning
    if reasoning is None:
        return {}
    kind = family(model)
    if reasoning in ("none", 0):
        if kind == "always":
            raise refused(provider, f"{model} always thinks: leave reasoning out, or use a level")
        return {"thinking": {"type": "disabled"}} if kind.startswith("adaptive") else {}
    if kind == "none":
        raise refused(
            provider,
            f"{model} does not think, so it takes no reasoning={reasoning!r}; use Claude "
            f"3.7 Sonnet or a Claude 4 model, or leave reasoning out",
        )
    choice = request.tool_choice
    if request.tools and choice not in (None, "auto", "none"):
        raise refused(
            provider,
            f"Claude does not think with a forced tool choice (tool_choice={choice!r}); "
            f"use tool_choice='auto', or reasoning='none'",
        )
    if isinstance(reasoning, int):
        if kind in ("always", "adaptive_only"):
            raise refused(
                provider,
                f"{model} takes an effort level (reasoning='low', 'medium' or 'high'), "
                f"not a budget of {reasoning} tokens",
            )
        return _budget(reasoning, request, provider, default_max_tokens)
    if kind == "budget":
        return _budget(REASONING_BUDGETS[reasoning], request, provider, default_max_tokens)
    fields: dict[str, Any] = {
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": _EFFORT[reasoning]},
    }
    if request.max_tokens is None:
        fields["max_tokens"] = default_max_tokens + REASONING_BUDGETS[reasoning]
    return fields


def _budget(
    budget: int, request: LLMRequest, provider: str, default_max_tokens: int
) -> dict[str, Any]:
    if budget < MIN_BUDGET:
        raise refused(
            provider,
            f"Anthropic's smallest thinking budget is {MIN_BUDGET} tokens, not {budget}; "
            f"raise it, or use reasoning='none'",
        )
    max_tokens = request.max_tokens
    if max_tokens is None:
        max_tokens = default_max_tokens + budget
    elif max_tokens <= budget:
        raise refused(
            provider,
            f"max_tokens ({max_tokens}) must exceed the thinking budget ({budget}) on "
            f"Anthropic: raise max_tokens, or lower reasoning",
        )
    return {"thinking": {"type": "enabled", "budget_tokens": budget}, "max_tokens": max_tokens}
