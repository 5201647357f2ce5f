"""Aether's own defaults on the wire: left out where a model does not take them.

A call that sets no temperature gets ``AETHER_DEFAULT_TEMPERATURE`` from the facade,
recorded in `LLMRequest.defaults`; the adapter also picks some things itself (OpenAI's
``max_tokens`` field name). Once the adapter has built the body (escape hatch merged),
`SamplingRules.apply` decides, per model:

- a default is sent only where the model takes it (`sampling_support` says
  ``"defaults"``, extended thinking is off, the call asks for no ``reasoning``, the
  model has not refused it before);
- a value the call set is sent as given, unless the model is known to refuse it: then
  a `BadRequestError` naming the model, the parameter and the fix, and nothing is sent.

If the server still refuses something Aether chose (an unknown reasoning model),
`PreparedCall.drop_refused` takes it out (or renames it) for one resend, and
`SamplingRules` remembers the refusal for the model, logging it once. Anything the call
set is never retried. The ``reasoning=`` request option needs nothing more: the rules read
the finished body, so thinking turned on there counts like thinking from the escape hatch,
and a call that asks for reasoning gets no sampling default on any provider.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm.sampling import SamplingSupport, check_rules, sampling_support
from aether.llm._output_modes import OutputPlan
from aether.llm.contracts import LLMRequest

__all__ = ["PreparedCall", "SamplingRules", "refused_parameter", "thinking_enabled"]

logger = logging.getLogger("aether.providers")

_SAMPLING = ("temperature", "top_p")
_MEMO_SIZE = 1024
_REFUSAL_STATUSES = frozenset({400, 422})


def thinking_enabled(body: Mapping[str, Any]) -> bool:
    """Whether an Anthropic body turns extended thinking on (``enabled`` or ``adaptive``)."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def refused_parameter(status: int, body: object, names: Iterable[str]) -> str | None:
    """Which of ``names`` an HTTP error refuses, if it is a 400 (or 422) about one.

    The error's ``param`` decides when the server names one (OpenAI does); otherwise a
    name that stands as a word in the message (``temperature is deprecated for this
    model``, ``Unsupported parameter: 'max_tokens'``).
    """
    if status not in _REFUSAL_STATUSES:
        return None
    error = body.get("error", body) if isinstance(body, dict) else body
    param = error.get("param") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    candidates = list(names)
    if isinstance(param, str) and param:
        return param if param in candidates else None
    if isinstance(message, str):
        for name in candidates:
            if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message):
                return name
    return None


@dataclass(slots=True)
class PreparedCall:
    """One call's body and request options, and what in the body Aether chose itself.

    Attributes:
        body: The JSON body (or Gemini config) to send.
        options: The SDK's per-request options.
        model: The model the body names.
        defaults: Body keys Aether filled in on its own, with their values.
        renames: Body keys whose name Aether chose, with the name to use instead.
        explicit: Sampling keys the call set, with their values.
        output: How a structured answer is asked for (``None`` for a text answer).
    """

    body: dict[str, Any]
    options: dict[str, Any]
    model: str
    defaults: dict[str, Any] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    explicit: dict[str, Any] = field(default_factory=dict)
    output: OutputPlan | None = None

    def drop_refused(self, status: int, error_body: object, rules: SamplingRules) -> bool:
        """Take out (or rename) what Aether chose and the server refused, for a resend.

        Returns whether the body changed; each key changes at most once, so a call is
        resent once per refused default at most. The refusal is remembered in ``rules``.
        """
        key = refused_parameter(status, error_body, [*self.defaults, *self.renames])
        if key is None:
            return False
        body = dict(self.body)
        replacement = self.renames.pop(key, None)
        value = body.pop(key)
        if replacement is not None:
            body[replacement] = value
        self.defaults.pop(key, None)
        self.body = body
        rules.learn(self.model, key, value=value, replacement=replacement)
        return True

    def explicit_refusal(self, status: int, error_body: object) -> str | None:
        """The sampling key the call set that an HTTP error refuses, if any."""
        return refused_parameter(status, error_body, self.explicit)


class SamplingRules:
    """One provider's sampling rules, and what its models refused at run time.

    Args:
        provider: The provider's name, for the built-in rules and the messages.
        rules: Your rules (model-name pattern to `SamplingSupport`), checked first.
    """

    __slots__ = ("_refused", "_support", "provider", "rules")

    def __init__(self, provider: str, rules: Mapping[str, str] | None = None) -> None:
        self.provider = provider
        self.rules = check_rules(rules)
        self._support: dict[str, SamplingSupport] = {}
        self._refused: dict[str, set[str]] = {}

    def support(self, model: str) -> SamplingSupport:
        """`sampling_support` for ``model``, memoised."""
        known = self._support.get(model)
        if known is None:
            known = sampling_support(self.provider, model, self.rules)
            if len(self._support) < _MEMO_SIZE:
                self._support[model] = known
        return known

    def refused(self, model: str, key: str) -> bool:
        """Whether ``model`` refused ``key`` from this provider before."""
        return key in self._refused.get(model, ())

    def learn(
        self,
        model: str,
        key: str,
        *,
        value: object = None,
        replacement: str | None = None,
        log: bool = True,
    ) -> None:
        """Remember that ``model`` refused ``key``; log it the first time, if ``log``."""
        seen = self._refused.setdefault(model, set())
        if key in seen:
            return
        if len(self._refused) > _MEMO_SIZE:
            self._refused = {model: seen}
        seen.add(key)
        if not log:
            return
        if replacement is not None:
            logger.warning(
                "%s model %r refused %s; Aether resent the call with %s instead and uses "
                "it for this model from now on (max_tokens_field= sets it for every model)",
                self.provider, model, key, replacement,
            )  # fmt: skip
            return
        logger.warning(
            "%s model %r refused the default %s=%r that Aether added; Aether resent the "
            "call without it and sends this model no default %s from now on. To skip the "
            "refused attempt, set AETHER_DEFAULT_TEMPERATURE=none or give the provider "
            "sampling={%r: 'no_defaults'}",
            self.provider, model, key, value, key, model,
        )  # fmt: skip

    def apply(
        self,
        call: PreparedCall,
        request: LLMRequest,
        *,
        hatch: Mapping[str, Any],
        thinking: bool = False,
        temperature_max: float = 2.0,
        one_of: bool = False,
    ) -> None:
        """Leave out the defaults ``call.model`` does not take; refuse what it cannot take.

        Args:
            call: The prepared call; its body is changed in place.
            request: The request the body was built from (its ``defaults``).
            hatch: The escape hatch's body fields: a key there counts as set by the call.
            thinking: Whether extended thinking is on (Anthropic).
            temperature_max: The highest temperature the vendor takes.
            one_of: Whether a default is left out when the call sets another sampling
                key (Anthropic: alter temperature or top_p, not both).

        Raises:
            BadRequestError: If the call set a value the model is known to refuse.
        """
        support = self.support(call.model)
        body = call.body
        defaulted: dict[str, Any] = {}
        for key in _SAMPLING:
            value = body.get(key)
            if value is None:
                continue
            if key not in hatch and key in request.defaults and request.defaults[key] == value:
                defaulted[key] = value
                continue
            problem = _refusal(key, value, model=call.model, support=support, thinking=thinking)
            if problem is not None:
                raise BadRequestError(
                    f"{self.provider} model {call.model!r} {problem}; nothing was sent",
                    provider=self.provider,
                )
            call.explicit[key] = value
        if not defaulted:
            return
        refused = self._refused.get(call.model, ())
        reasoning = request.reasoning is not None and request.reasoning not in ("none", 0)
        for key, value in defaulted.items():
            if (
                support != "defaults"
                or thinking
                or reasoning
                or key in refused
                or (one_of and call.explicit)
                or (key == "temperature" and value > temperature_max)
            ):
                del body[key]
            else:
                call.defaults[key] = value


def _refusal(
    key: str, value: Any, *, model: str, support: SamplingSupport, thinking: bool
) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # an escape-hatch value of another type: the server judges it
    if thinking and key == "temperature" and value != 1:
        return (
            f"takes no temperature but 1 while extended thinking is on, and this call set "
            f"temperature={value!r}. Leave temperature unset (Aether sends none while "
            f"thinking is on), or turn thinking off"
        )
    if thinking and key == "top_p" and value < 0.95:
        return (
            f"takes top_p only from 0.95 to 1 while extended thinking is on, and this call "
            f"set top_p={value!r}. Leave top_p unset, or turn thinking off"
        )
    if support == "refuses" and value != 1:
        return (
            f"takes no {key} but its default of 1 (it is a reasoning model), and this call "
            f"set {key}={value!r}. Leave {key} unset for this model (Aether then sends "
            f"none); if the model does take it, give the provider "
            f"sampling={{{model!r}: 'defaults'}}"
        )
    return None
