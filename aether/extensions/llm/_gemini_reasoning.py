"""`LLMRequest.reasoning` on the Gemini wire: ``thinking_config``.

Gemini models differ in what they take, so the model's name decides (by prefix; a name
this table does not know is taken as a current model, like Gemini 3):

=====================  ===========================  =====================  =============
models                 a level (``"low"``...)       a token budget         ``"none"``
=====================  ===========================  =====================  =============
Gemini 3 and later     ``thinking_level``           ``thinking_budget``    refused
Gemini 2.5 Pro         ``thinking_budget`` (table)  128 to 32768           refused
Gemini 2.5 Flash       ``thinking_budget`` (table)  1 to 24576             budget 0
Gemini 2.5 Flash-Lite  ``thinking_budget`` (table)  512 to 24576           budget 0
Gemini 2.0, 1.5        refused                      refused                left out
=====================  ===========================  =====================  =============

Thinking models always get ``include_thoughts``, so the answer carries the thought
summaries as reasoning parts. Which levels a Gemini 3 model takes (Pro: ``low`` and
``high``) is left to the server to say.
"""

from __future__ import annotations

from typing import Any

from aether.extensions.llm._parts import REASONING_BUDGETS, model_family, refused
from aether.llm.contracts import LLMRequest

__all__ = ["family", "thinking_config"]

_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("always", ("gemini-2.5-pro",)),
    ("budget", ("gemini-2.5-flash",)),
    ("none", ("gemini-2.0", "gemini-1.", "gemini-pro", "gemini-exp")),
)

_RANGES: tuple[tuple[str, int, int], ...] = (
    ("gemini-2.5-pro", 128, 32768),
    ("gemini-2.5-flash-lite", 512, 24576),
    ("gemini-2.5-flash", 1, 24576),
)


def _name(model: str) -> str:
    return model.removeprefix("models/")


def family(model: str) -> str:
    """``level``, ``always`` (a budget, never off), ``budget`` or ``none`` for ``model``."""
    return model_family(_name(model), _FAMILIES, "level")


def thinking_config(request: LLMRequest, *, model: str, provider: str) -> dict[str, Any] | None:
    """The ``thinking_config`` for ``request.reasoning`` (``None``: send none).

    Raises:
        BadRequestError: If the model cannot take the option (see the module's table).
    """
    reasoning = request.reasoning
    if reasoning is None:
        return None
    kind = family(model)
    if reasoning in ("none", 0):
        if kind == "none":
            return None
        if kind == "budget":
            return {"thinking_budget": 0}
        raise refused(
            provider,
            f"{model} cannot stop thinking; use reasoning='minimal' or 'low' (or a Gemini "
            f"2.5 Flash model), or leave reasoning out",
        )
    if kind == "none":
        raise refused(
            provider,
            f"{model} does not think, so it takes no reasoning={reasoning!r}; use Gemini "
            f"2.5 or later, or leave reasoning out",
        )
    if isinstance(reasoning, str):
        if kind == "level":
            return {"thinking_level": reasoning.upper(), "include_thoughts": True}
        return {"thinking_budget": REASONING_BUDGETS[reasoning], "include_thoughts": True}
    name = _name(model)
    for prefix, low, high in _RANGES:
        if name.startswith(prefix) and not low <= reasoning <= high:
            raise refused(
                provider,
                f"{model} takes a thinking budget of {low} to {high} tokens, not {reasoning}",
            )
    return {"thinking_budget": reasoning, "include_thoughts": True}
