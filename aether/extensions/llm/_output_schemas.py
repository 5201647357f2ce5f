"""Each vendor's form of an output schema, and which mode ``auto`` picks per model.

Every vendor's structured output takes a subset of JSON Schema (checked against their
documentation, 2026):

- OpenAI strict mode: every object lists all its properties in ``required`` and sets
  ``additionalProperties: false``, so an optional property becomes required and
  nullable; ``anyOf`` (never at the root), ``$ref`` and ``$defs`` (recursion included),
  ``enum``, ``pattern``, some ``format`` values, number bounds and ``minItems`` /
  ``maxItems`` are kept; ``allOf``, ``not``, ``if``/``then``/``else``, ``oneOf``, open
  objects (``dict[str, X]``) are not. A schema that cannot be made strict goes with
  ``strict: false`` as it is.
- Anthropic (``output_config.format``): ``additionalProperties: false`` on every
  object, no recursion, no number or length bounds, ``minItems`` of 0 or 1 only; a
  schema outside that goes in tool mode instead when ``auto`` chose.
- Gemini (``response_json_schema``): a listed subset (``$ref`` without siblings,
  ``anyOf``, ``enum``, ``minimum``/``maximum``, ``minItems``/``maxItems``...).

The converted schemas are remembered per schema object (the `OutputSchema` of a type
is built once and reused), so a call pays for a dict lookup, not a walk; they are
shared, and never changed by the adapters.

A keyword a vendor does not take is not silently lost: it is written into the node's
``description`` (``{maxLength: 20}``), so the model may still follow it, and Aether's
own validation checks it either way and re-asks when it is broken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aether.llm.output import OutputMode, ResolvedOutputMode

__all__ = [
    "anthropic_mode",
    "anthropic_schema",
    "claude_has_structured_outputs",
    "gemini_mode",
    "gemini_schema",
    "is_recursive",
    "openai_mode",
    "strict_schema",
]

_COMMON = frozenset({"type", "properties", "required", "items", "enum", "anyOf", "$ref",
                     "$defs", "description", "title"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Profile:
    keep: frozenset[str]
    formats: frozenset[str] | None  # None: every format
    all_required: bool = False
    closed_objects: bool = False
    const_as_enum: bool = False
    max_min_items: int | None = None


_OPENAI = _Profile(
    keep=_COMMON | {"pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                    "exclusiveMaximum", "multipleOf", "minItems", "maxItems"},
    formats=frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4",
                       "ipv6", "uuid"}),
    all_required=True,
    closed_objects=True,
    const_as_enum=True,
)  # fmt: skip
_ANTHROPIC = _Profile(
    keep=_COMMON | {"const", "format", "pattern", "minItems"},
    formats=frozenset({"date-time", "time", "date", "duration", "email", "hostname", "uri",
                       "ipv4", "ipv6", "uuid"}),
    closed_objects=True,
    max_min_items=1,
)  # fmt: skip
_GEMINI = _Profile(
    keep=_COMMON | {"$id", "$anchor", "format", "prefixItems", "minItems", "maxItems",
                    "minimum", "maximum", "additionalProperties", "propertyOrdering"},
    formats=None,
    const_as_enum=True,
)  # fmt: skip

_LISTS = ("anyOf", "prefixItems")
_IGNORED = frozenset({"default", "examples", "$schema", "$comment", "readOnly", "writeOnly",
                      "deprecated", "contentEncoding", "contentMediaType"})  # fmt: skip
"""Annotations no vendor needs, left out."""

_NOT_STRICT = ("allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
               "patternProperties", "unevaluatedProperties", "propertyNames")  # fmt: skip


def _null_allowed(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if None in node.get("enum", ()):
        return True
    branches = node.get("anyOf", ())
    return any(isinstance(branch, dict) and _null_allowed(branch) for branch in branches)


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    if _null_allowed(node):
        return node
    kind = node.get("type")
    if isinstance(kind, str) and not {"enum", "anyOf", "$ref"} & node.keys():
        return {**node, "type": [kind, "null"]}
    if isinstance(kind, list) and not {"enum", "anyOf", "$ref"} & node.keys():
        return {**node, "type": [*kind, "null"]}
    return {"anyOf": [node, {"type": "null"}]}


class _Transform:
    """One walk over a schema for one vendor profile, noting what it cannot keep."""

    def __init__(self, profile: _Profile) -> None:
        self.profile = profile
        self.problems: list[str] = []

    def node(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        profile = self.profile
        if "$ref" in node:
            return {"$ref": node["$ref"]}  # no vendor takes siblings beside $ref
        node = dict(node)
        node.pop("discriminator", None)  # OpenAPI's, not JSON Schema's
        if "oneOf" in node and "anyOf" not in node:
            node["anyOf"] = node.pop("oneOf")
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            node.pop("allOf")
            node = {**all_of[0], **node}
            if "$ref" in node:
                return self.node(node)
        if "const" in node and profile.const_as_enum:
            node["enum"] = [node.pop("const")]
        out: dict[str, Any] = {}
        notes: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                out[key] = {name: self.node(item) for name, item in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = self.node(value)
            elif key in _LISTS and key in profile.keep and isinstance(value, list):
                out[key] = [self.node(item) for item in value]
            elif key in _IGNORED:
                continue
            elif (key in profile.keep and self._takes(key, value)) or key == "additionalProperties":
                out[key] = value
            else:
                if key in _NOT_STRICT:
                    self.problems.append(key)
                notes[key] = value
        if "properties" in out or out.get("type") == "object":
            self._object(out)
        if notes:
            described = ", ".join(f"{key}: {value}" for key, value in notes.items())
            text = out.get("description")
            out["description"] = f"{text}\n\n{{{described}}}" if text else f"{{{described}}}"
        return out

    def _takes(self, key: str, value: Any) -> bool:
        profile = self.profile
        if key == "format" and profile.formats is not None:
            return value in profile.formats
        if key == "minItems" and profile.max_min_items is not None:
            return isinstance(value, int) and value <= profile.max_min_items
        return True

    def _object(self, node: dict[str, Any]) -> None:
        profile = self.profile
        if profile.closed_objects:
            extra = node.get("additionalProperties", False)
            if extra is not False:
                self.problems.append("an open object (additionalProperties)")
            node["additionalProperties"] = False
        if profile.all_required:
            properties = node.get("properties", {})
            required = set(node.get("required", ()))
            node["required"] = list(properties)
            node["properties"] = {
                name: item if name in required else _nullable(item)
                for name, item in properties.items()
            }


_MEMO_SIZE = 512
_memo: dict[tuple[str, int], tuple[dict[str, Any], Any]] = {}


def _memoised(kind: str, schema: dict[str, Any], build: Callable[[dict[str, Any]], Any]) -> Any:
    # Keyed by identity, the schema kept in the entry so that its id is not reused.
    key = (kind, id(schema))
    found = _memo.get(key)
    if found is not None and found[0] is schema:
        return found[1]
    result = build(schema)
    if len(_memo) >= _MEMO_SIZE:
        _memo.clear()
    _memo[key] = (schema, result)
    return result


def _strict(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    walk = _Transform(_OPENAI)
    converted = walk.node(schema)
    return converted, not walk.problems


def _anthropic(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    walk = _Transform(_ANTHROPIC)
    converted = walk.node(schema)
    return converted, not walk.problems and not is_recursive(schema)


def _gemini(schema: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = _Transform(_GEMINI).node(schema)
    return converted


def strict_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """OpenAI's strict form of ``schema``, and whether strict mode can take it.

    When it cannot (see `_NOT_STRICT`, open objects), send ``schema`` itself with
    ``strict: false``.
    """
    result: tuple[dict[str, Any], bool] = _memoised("openai", schema, _strict)
    return result


def anthropic_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Anthropic's form of ``schema``, and whether ``output_config.format`` can take it."""
    result: tuple[dict[str, Any], bool] = _memoised("anthropic", schema, _anthropic)
    return result


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Gemini's ``response_json_schema`` form of ``schema``."""
    result: dict[str, Any] = _memoised("gemini", schema, _gemini)
    return result


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref.removeprefix("#/$defs/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def is_recursive(schema: dict[str, Any]) -> bool:
    """Whether a definition of ``schema`` refers back to itself, directly or not."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return False
    edges = {name: set(_refs(body)) for name, body in defs.items()}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for name in edges.get(start, ()):
            if name == target or (name not in seen and reaches(name, target, seen | {name})):
                return True
        return False

    return any(reaches(name, name, {name}) for name in edges)


# -- which mode auto picks ----------------------------------------------------------------

_OPENAI_LEGACY = ("gpt-3.5", "gpt-4-", "gpt-4-0", "chatgpt-")
_OPENAI_NO_TOOLS = ("o1-mini", "o1-preview")
_CLAUDE_BEFORE = ("claude-2", "claude-instant", "claude-3")
_CLAUDE = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?=-|$)")
_GEMINI_VERSION = re.compile(r"gemini-(\d+)")


def openai_mode(requested: OutputMode, model: str, *, official: bool) -> ResolvedOutputMode:
    """``native`` (``response_format`` json_schema), except OpenAI's models without it."""
    if requested != "auto":
        return requested
    if official and (model == "gpt-4" or model.startswith(_OPENAI_LEGACY)):
        return "tool"
    if official and model.startswith(_OPENAI_NO_TOOLS):
        return "prompted"
    return "native"


def claude_has_structured_outputs(model: str) -> bool:
    """Claude 4.5 and later (Haiku 4.5, Sonnet 4.5, Opus 4.5...), by model name.

    A name in another form (a model this table does not know) is taken as current, as
    `aether.extensions.llm._anthropic_reasoning` does.
    """
    start = model.find("claude-")
    name = model[start:] if start >= 0 else model
    if name.startswith(_CLAUDE_BEFORE):
        return False
    found = _CLAUDE.match(name)
    if found is None:
        return True
    major, minor = int(found.group(1)), int(found.group(2) or 0)
    return (major, minor) >= (4, 5)


def anthropic_mode(requested: OutputMode, model: str, *, native_ok: bool) -> ResolvedOutputMode:
    """``native`` on models with structured outputs when the schema fits, else ``tool``."""
    if requested != "auto":
        return requested
    return "native" if native_ok and claude_has_structured_outputs(model) else "tool"


def gemini_mode(requested: OutputMode, model: str, *, has_tools: bool) -> ResolvedOutputMode:
    """``native``; ``tool`` when the request has tools and the model is older than Gemini 3
    (which refuses function calling with a JSON response type)."""
    if requested != "auto":
        return requested
    found = _GEMINI_VERSION.search(model)
    modern = found is not None and int(found.group(1)) >= 3
    return "tool" if has_tools and not modern else "native"
