"""What `Aether` does with its arguments before anything runs: prompts into messages,
option values checked and turned into request fields, the stack's cache layer found.

Split from `aether.client` (which keeps the facade's methods); `CallOptions` and the
ready-made-request path are in `aether._call_options`, construction in
`aether._client_stack`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from aether.errors import ConfigurationError
from aether.llm.contracts import AudioPart, DocumentPart, ImagePart, Message, TextPart, Tool
from aether.tools.registry import ToolLike, resolve_tools

if TYPE_CHECKING:
    from aether.middleware.cache import CacheMiddleware

USER_PARTS = (TextPart, ImagePart, AudioPart, DocumentPart)

BASIC_OPTIONS = frozenset({"model", "temperature"})


def stop_sequences(stop: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if stop is None:
        return None
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, Sequence) and all(isinstance(item, str) for item in stop):
        return tuple(stop)
    raise ConfigurationError(
        f"stop= takes a string or a list of strings, not {stop!r}: write stop=['END']"
    )


def conversation(prompt: object) -> tuple[Message, ...]:
    if not isinstance(prompt, Iterable) or isinstance(prompt, Mapping | bytes):
        raise ConfigurationError(
            f"the prompt must be a string, a list of Message or an LLMRequest, not "
            f"{type(prompt).__name__}: write ask('...') or ask([Message(role='user', "
            f"content='...')])"
        )
    messages = tuple(prompt)
    if any(isinstance(item, USER_PARTS) for item in messages) and all(
        isinstance(item, (str, *USER_PARTS)) for item in messages
    ):
        # ask(["What is this?", ImagePart(...)]): one user turn of parts.
        return (Message(role="user", content=messages),)
    for position, item in enumerate(messages):
        if not isinstance(item, Message | Mapping):  # mappings are validated as Messages
            raise ConfigurationError(
                f"item {position} of the conversation is {type(item).__name__}, not a "
                f"Message: write Message(role='user', content=...)"
            )
    if not messages:
        raise ConfigurationError("the conversation is empty: give at least one Message")
    return messages


SHOWN_INPUTS = frozenset({"model", "temperature", "max_tokens", "top_p", "tool_choice"})
"""Fields whose value an error may repeat (never provider options, which can hold keys)."""


def invalid_request(error: ValidationError) -> ConfigurationError:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        shown = f" (got {item['input']!r})" if item["loc"][0] in SHOWN_INPUTS else ""
        problems.append(f"{where}: {item['msg']}{shown}")
    return ConfigurationError("invalid request: " + "; ".join(problems), problems=problems)


def check_tool_choice(choice: object, tools: Sequence[Tool]) -> None:
    if choice is None or choice in ("auto", "none", "required"):
        return
    if not any(tool.name == choice for tool in tools):
        offered = ", ".join(repr(tool.name) for tool in tools) or "no tools"
        raise ConfigurationError(
            f"tool_choice={choice!r} is neither 'auto', 'none' nor 'required', nor the "
            f"name of a tool this call offers ({offered})"
        )


def default_tools(tools: Sequence[ToolLike]) -> tuple[ToolLike, ...]:
    if isinstance(tools, str) or not isinstance(tools, Sequence):
        raise ConfigurationError(f"tools= takes a list of tools: write tools=[{tools!r}]")
    # Names, functions and Tools are checked now; toolsets only once they are started.
    resolve_tools([item for item in tools if not hasattr(item, "current_tools")])
    return tuple(tools)


def cache_layer(stack: Sequence[object]) -> CacheMiddleware | None:
    """The stack's `CacheMiddleware`, without loading its module when none can exist."""
    module = sys.modules.get("aether.middleware.cache")
    if module is None:  # nothing loaded it, so no layer is one
        return None
    found: CacheMiddleware | None = next(
        (layer for layer in stack if isinstance(layer, module.CacheMiddleware)), None
    )
    return found


def cache_control() -> str:
    from aether.middleware.cache import CACHE_CONTROL

    return CACHE_CONTROL
