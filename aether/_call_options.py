"""What a call accepts (`CallOptions`) and how a ready-made request takes a call's options.

Split from `aether.client`, which re-exports `CallOptions` and builds requests from a
prompt on its hot path; the rarer paths (an `LLMRequest` given as the prompt, a client
with default tools) live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from pydantic import ValidationError

from aether import config as settings
from aether._client_inputs import cache_control, check_tool_choice, invalid_request, stop_sequences
from aether.llm.contracts import LLMRequest, OutputMode, Reasoning, Tool
from aether.middleware.structured_output import output_schema_for
from aether.tools.registry import ToolLike, resolve_tools

if TYPE_CHECKING:  # loaded when used: ``import aether`` does not load it
    from aether.middleware.cache import CacheControl

__all__ = ["CALL_OPTIONS", "CallOptions", "call_tools", "reuse_request", "unknown_options"]


class CallOptions(TypedDict, total=False):
    """Per-call keyword arguments of `Aether.ask`, `complete`, `stream` and `stream_text`.

    Attributes:
        model: Overrides the client's default model for this call.
        temperature: Overrides ``AETHER_DEFAULT_TEMPERATURE`` for this call, and is
            sent as given even to models that do not get the default.
        max_tokens: Caps generated tokens.
        top_p: Nucleus sampling.
        stop: Stop sequences.
        tools: Tools the model may call: registered names, functions, `Tool` objects or
            toolsets (`aether.mcp.MCPToolset`), mixed. They join the client's own
            ``tools``. The tool loop runs them and returns the final answer.
        tool_choice: ``auto``, ``none``, ``required`` or one tool's name.
        reasoning: How hard a reasoning model thinks: ``"none"``, ``"minimal"``,
            ``"low"``, ``"medium"``, ``"high"``, or a budget of thinking tokens.
        context: Initial request context (copied), read by your middlewares.
        provider_options: Vendor-specific parameters keyed by provider name.
        middleware: Extra middlewares wrapped around this one call (outermost first).
        cache: ``"bypass"`` to neither read nor write the response cache for this call,
            ``"refresh"`` to skip the read and store the new answer (``"use"``: default).
        output_mode: With ``output_type=``: ``"auto"`` (the default: the provider picks
            per model), ``"native"``, ``"tool"`` or ``"prompted"`` (see
            `aether.llm.output`).
        output_retries: With ``output_type=``: how many times an invalid answer is sent
            back to the model with its validation errors (2 by default).

    ``output_type=`` (a pydantic model, a dataclass, a TypedDict, a plain type or union,
    or a JSON Schema dict) is a call option too, a keyword of its own on `Aether.ask`,
    `complete` and `stream` so that type checkers infer the answer's type from it.
    """

    model: str
    temperature: float
    max_tokens: int
    top_p: float
    stop: str | Sequence[str]
    tools: Sequence[ToolLike]
    tool_choice: str
    reasoning: Reasoning
    context: dict[str, Any]
    provider_options: dict[str, dict[str, Any]]
    middleware: Sequence[object]
    cache: CacheControl
    output_mode: OutputMode
    output_retries: int


# Its public home is aether.client (as httpx does for its private modules): reprs,
# help() and documentation tools name it there, as before the split.
CallOptions.__module__ = "aether.client"

CALL_OPTIONS = frozenset(CallOptions.__annotations__) | {"output_type"}


def unknown_options(names: set[str]) -> TypeError:
    return TypeError(
        f"unknown call option {settings.unknown_names(names, CALL_OPTIONS)}; the options "
        f"are {', '.join(sorted(CALL_OPTIONS))} (vendor-specific ones go in provider_options)"
    )


def call_tools(defaults: Sequence[ToolLike], given: Sequence[ToolLike]) -> tuple[Tool, ...]:
    """The tools a call offers: the client's ``defaults`` and the call's own."""
    # The client's tools first (a stable prefix for providers' prompt caches), minus
    # any the call replaces by name, then the call's own.
    if not defaults:
        return resolve_tools(given)
    if not given:
        return resolve_tools(defaults)
    own = resolve_tools(given)
    names = {tool.name for tool in own}
    return (*(t for t in resolve_tools(defaults) if t.name not in names), *own)


def reuse_request(request: LLMRequest, options: CallOptions, output_type: Any) -> LLMRequest:
    """``request`` with the call's options over its settings, and a context of its own."""
    # A fresh context, so two calls with one request never share the per-call state
    # that middlewares keep there.
    if options.keys() - CALL_OPTIONS:
        raise unknown_options(set(options.keys() - CALL_OPTIONS))
    update: dict[str, Any] = {"context": {**request.context, **options.get("context", {})}}
    for name in ("model", "temperature", "max_tokens", "top_p", "tool_choice", "reasoning"):
        if name in options:
            update[name] = options[name]
    if "temperature" in options and "temperature" in request.defaults:
        update["defaults"] = {k: v for k, v in request.defaults.items() if k != "temperature"}
    if "stop" in options:
        update["stop"] = stop_sequences(options["stop"])
    if "tools" in options:
        update["tools"] = resolve_tools(options["tools"])
    if "provider_options" in options:
        update["provider_options"] = options["provider_options"]
    if options.get("cache") is not None:
        update["context"][cache_control()] = options["cache"]
    if output_type is None and request.output is not None and "output_mode" in options:
        output_type = request.output  # its mode changed
    output = output_schema_for(output_type, options, update["context"])
    if output is not None:
        update["output"] = output
    if len(update) == 1:
        return request.model_copy(update=update)  # a fresh context only: nothing to check
    fields = {**dict(request), **update}
    check_tool_choice(fields["tool_choice"], fields["tools"])
    try:
        return LLMRequest(**fields)
    except ValidationError as error:
        raise invalid_request(error) from None
