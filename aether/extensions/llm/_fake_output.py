"""A schema-valid value for any output schema: what the Fake provider answers with.

Deterministic, so tests and examples can assert on it: the first ``enum`` or ``const``
value, the first branch of a union that is not ``null``, strings named after their
property (or a valid value for their ``format``), ``1`` for numbers (moved into
``minimum``/``maximum``, ``multipleOf``), ``true``, one item per array (``minItems`` if
more), every property of an object. Deep down (past `_DEEP`) optional properties are
left out, nullable values are ``null`` and arrays are empty, so recursive models end.
A ``pattern`` is not generated: a type with one needs a scripted answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["sample_value"]

_DEEP = 4
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}


def _resolve(node: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    for _ in range(32):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            break
        node = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
    return node if isinstance(node, dict) else {}


def _nullable(node: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    branches = node.get("anyOf") or node.get("oneOf") or ()
    return any(_nullable(_resolve(branch, root), root) for branch in branches)


def _number(node: Mapping[str, Any], integer: bool) -> int | float:
    value: float = 1
    low, high = node.get("minimum"), node.get("maximum")
    if isinstance(node.get("exclusiveMinimum"), int | float):
        low = node["exclusiveMinimum"] + (1 if integer else 0.5)
    if isinstance(node.get("exclusiveMaximum"), int | float):
        high = node["exclusiveMaximum"] - (1 if integer else 0.5)
    if isinstance(low, int | float):
        value = max(value, low)
    if isinstance(high, int | float):
        value = min(value, high)
    step = node.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        value = math.ceil(value / step) * step
    return math.ceil(value) if integer else value


def _string(node: Mapping[str, Any], name: str) -> str:
    text = _FORMATS.get(str(node.get("format")), name or "text")
    low, high = node.get("minLength"), node.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text += "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text


def _value(node: Any, root: Mapping[str, Any], depth: int, name: str) -> Any:
    node = _resolve(node, root)
    deep = depth >= _DEEP
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    if deep and _nullable(node, root):
        return None
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        usable = [branch for branch in branches if _resolve(branch, root).get("type") != "null"]
        return _value((usable or branches)[0], root, depth, name)
    if isinstance(node.get("allOf"), list) and node["allOf"]:
        return _value(node["allOf"][0], root, depth, name)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind == "object" or "properties" in node:
        required = set(node.get("required", ()))
        return {
            key: _value(item, root, depth + 1, key)
            for key, item in node.get("properties", {}).items()
            if key in required or not deep
        }
    if kind == "array":
        low = node.get("minItems") if isinstance(node.get("minItems"), int) else 0
        count = max(low, 0 if deep else 1)
        if isinstance(node.get("prefixItems"), list):
            prefix = node["prefixItems"]
            return [_value(item, root, depth + 1, name) for item in prefix]
        return [_value(node.get("items", {}), root, depth + 1, name) for _ in range(count)]
    if kind == "string":
        return _string(node, name)
    if kind in ("integer", "number"):
        return _number(node, integer=kind == "integer")
    if kind == "boolean":
        return True
    return None


def sample_value(schema: Mapping[str, Any]) -> Any:
    """A value valid against ``schema`` (see the module docstring for what it picks)."""
    return _value(schema, schema, 0, "")
