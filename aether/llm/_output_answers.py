"""Reading a model's answer with an output type: the value, or the errors.

A valid answer is sometimes not quite what the type's validator reads:

- a model asked in prompted mode may wrap the JSON in a Markdown fence or a sentence:
  the first ``{`` to the last ``}`` is tried when the whole text is not JSON;
- OpenAI's strict mode makes every optional property required and nullable, so a
  model may send ``null`` for a field whose type takes no ``None`` but has a default:
  those ``null`` values are dropped (the default then applies) and the value checked
  again.

Both happen only after the first validation failed: a valid answer costs one
``validate_json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from aether.llm._output_types import InvalidOutput, compiled_output
from aether.llm.output import OutputSchema

__all__ = ["InvalidOutput", "as_error_tuple", "error_lines", "validate_output"]


def _json_slice(text: str) -> str | None:
    """The text from the first ``{`` to the last ``}``, when that is not all of it."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    inner = text[start : end + 1]
    return inner if inner != text.strip() else None


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    for _ in range(32):  # a chain of references, never a cycle of them
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return schema
        schema = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
    return schema


def _allows_null(schema: Any, root: Mapping[str, Any]) -> bool:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or not schema:
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if None in schema.get("enum", ()) or ("const" in schema and schema["const"] is None):
        return True
    branches = schema.get("anyOf") or schema.get("oneOf") or ()
    return any(_allows_null(branch, root) for branch in branches)


def _drop_added_nulls(value: Any, schema: Any, root: Mapping[str, Any]) -> bool:
    """Remove, in place, ``null`` values of optional properties that take no ``null``."""
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return False
    changed = False
    if isinstance(value, dict):
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches and "properties" not in schema:
            keys = {key for key, item in value.items() if item is not None}
            for branch in branches:
                branch = _resolve(branch, root)
                if isinstance(branch, dict) and keys <= set(branch.get("properties", {})):
                    return _drop_added_nulls(value, branch, root)
            return False
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        for key in list(value):
            if key not in properties:
                continue
            if value[key] is None and key not in required:
                if not _allows_null(properties[key], root):
                    del value[key]
                    changed = True
            elif _drop_added_nulls(value[key], properties[key], root):
                changed = True
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            changed = _drop_added_nulls(item, schema["items"], root) or changed
    return changed


def validate_output(schema: OutputSchema, text: str) -> Any:
    """The validated answer for ``text`` (unwrapped).

    Raises:
        InvalidOutput: With the errors of the first reading, if no reading validates.
    """
    compiled = compiled_output(
        schema.output_type if schema.output_type is not None else schema.json_schema
    )
    try:
        return compiled.validate_json(text)
    except InvalidOutput as error:
        first = error
    candidate = text
    if any(item["type"] == "json_invalid" for item in first.errors):
        sliced = _json_slice(text)
        if sliced is None:
            raise first
        try:
            return compiled.validate_json(sliced)
        except InvalidOutput:
            candidate = sliced
    try:
        value = json.loads(candidate)
    except (ValueError, RecursionError):
        raise first from None
    if _drop_added_nulls(value, compiled.json_schema, compiled.json_schema):
        try:
            return compiled.validate_python(value)
        except InvalidOutput:
            pass
    raise first


def error_lines(errors: list[dict[str, Any]], *, limit: int = 20) -> list[str]:
    """Readable lines for validation errors: ``items.0.price: Input should be ...``."""
    lines = []
    for item in errors[:limit]:
        where = ".".join(str(part) for part in item.get("loc", ())) or "(the answer)"
        lines.append(f"{where}: {item.get('msg', 'invalid')}")
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return lines


def as_error_tuple(errors: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The errors as an immutable tuple (their dicts are copied)."""
    return tuple(cast(dict[str, Any], dict(item)) for item in errors)
