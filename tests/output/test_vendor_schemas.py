"""Each vendor's form of an output schema, exactly, and what ``auto`` picks per model."""

from __future__ import annotations

from typing import Any

import pytest

from aether.extensions.llm._output_schemas import (
    anthropic_mode,
    anthropic_schema,
    claude_has_structured_outputs,
    gemini_mode,
    gemini_schema,
    is_recursive,
    openai_mode,
    strict_schema,
)
from aether.llm.output import OutputSchema
from tests.output._models import Invoice, Node, Pet

COLOR = {"enum": ["red", "blue"], "title": "Color", "type": "string"}


def _schema(output_type: Any) -> dict[str, Any]:
    return OutputSchema.of(output_type).json_schema


def test_openai_strict_requires_every_property_and_makes_the_optional_ones_nullable() -> None:
    schema, strict = strict_schema(_schema(Invoice))
    assert strict
    assert schema == {
        "$defs": {
            "Color": COLOR,
            "Item": {
                "description": "One line of an invoice.",
                "properties": {
                    "name": {
                        "description": "What was sold\n\n{maxLength: 40}",
                        "title": "Name",
                        "type": "string",
                    },
                    "quantity": {"minimum": 1, "title": "Quantity", "type": "integer"},
                    "unit_price": {"minimum": 0, "title": "Unit Price", "type": "number"},
                    "color": {"anyOf": [{"$ref": "#/$defs/Color"}, {"type": "null"}]},
                    "tags": {
                        "items": {"type": "string"},
                        "title": "Tags",
                        "type": ["array", "null"],
                    },
                },
                "required": ["name", "quantity", "unit_price", "color", "tags"],
                "title": "Item",
                "type": "object",
                "additionalProperties": False,
            },
        },
        "description": "An invoice.",
        "properties": {
            "customer": {"title": "Customer", "type": "string"},
            "items": {"items": {"$ref": "#/$defs/Item"}, "title": "Items", "type": "array"},
            "paid": {"title": "Paid", "type": ["boolean", "null"]},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Note"},
        },
        "required": ["customer", "items", "paid", "note"],
        "title": "Invoice",
        "type": "object",
        "additionalProperties": False,
    }


def test_openai_strict_turns_a_tagged_union_into_any_of_with_enum_tags() -> None:
    schema, strict = strict_schema(_schema(Pet))
    assert strict
    assert schema["properties"]["pet"] == {
        "title": "Pet",
        "anyOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}],
    }
    assert schema["$defs"]["Cat"] == {
        "properties": {
            "kind": {"title": "Kind", "type": "string", "enum": ["cat"]},
            "meows": {"title": "Meows", "type": "integer"},
        },
        "required": ["kind", "meows"],
        "title": "Cat",
        "type": "object",
        "additionalProperties": False,
    }


def test_openai_strict_keeps_a_recursive_model_as_references() -> None:
    schema, strict = strict_schema(_schema(Node))
    assert strict
    node = {
        "properties": {
            "value": {"title": "Value", "type": "integer"},
            "children": {
                "items": {"$ref": "#/$defs/Node"},
                "title": "Children",
                "type": ["array", "null"],
            },
        },
        "required": ["value", "children"],
        "title": "Node",
        "type": "object",
        "additionalProperties": False,
    }
    assert schema == {**node, "$defs": {"Node": node}}


def test_openai_strict_wraps_a_list_at_the_root() -> None:
    assert strict_schema(_schema(list[str])) == (
        {
            "type": "object",
            "properties": {"result": {"items": {"type": "string"}, "type": "array"}},
            "required": ["result"],
            "additionalProperties": False,
        },
        True,
    )


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {
                "scores": {"type": "object", "additionalProperties": {"type": "integer"}}
            },
        },
        {"type": "object", "properties": {"a": {"allOf": [{"type": "string"}, {"minLength": 1}]}}},
        {"type": "object", "properties": {"a": {"not": {"type": "string"}}}},
    ],
)
def test_a_schema_strict_mode_cannot_take_goes_without_strict(schema: dict[str, Any]) -> None:
    assert strict_schema(schema)[1] is False


def test_anthropic_closes_objects_and_moves_bounds_into_descriptions() -> None:
    schema, native = anthropic_schema(_schema(Invoice))
    assert native
    item = schema["$defs"]["Item"]
    assert item["required"] == ["name", "quantity", "unit_price"]  # optional stays optional
    assert item["additionalProperties"] is False
    assert item["properties"]["quantity"] == {
        "title": "Quantity",
        "type": "integer",
        "description": "{minimum: 1}",
    }
    assert item["properties"]["tags"] == {
        "items": {"type": "string"},
        "title": "Tags",
        "type": "array",
    }
    assert schema["$defs"]["Color"] == COLOR


def test_anthropic_native_cannot_take_recursion_or_open_objects() -> None:
    assert anthropic_schema(_schema(Node))[1] is False
    assert is_recursive(_schema(Node))
    assert not is_recursive(_schema(Invoice))
    open_object = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert anthropic_schema(open_object)[1] is False


def test_gemini_keeps_its_subset_and_turns_const_into_enum() -> None:
    schema = gemini_schema(_schema(Pet))
    assert schema["$defs"]["Cat"]["properties"]["kind"] == {
        "title": "Kind",
        "type": "string",
        "enum": ["cat"],
    }
    assert "discriminator" not in schema["properties"]["pet"]
    item = gemini_schema(_schema(Invoice))["$defs"]["Item"]
    assert item["properties"]["quantity"] == {"minimum": 1, "title": "Quantity", "type": "integer"}
    assert "additionalProperties" not in item
    assert item["required"] == ["name", "quantity", "unit_price"]


def test_vendor_forms_are_built_once_per_schema() -> None:
    schema = _schema(Invoice)
    assert strict_schema(schema) is strict_schema(schema)
    assert gemini_schema(schema) is gemini_schema(schema)


@pytest.mark.parametrize(
    ("model", "official", "mode"),
    [
        ("gpt-4o-mini", True, "native"),
        ("gpt-5", True, "native"),
        ("o3", True, "native"),
        ("gpt-4-turbo", True, "tool"),
        ("gpt-4", True, "tool"),
        ("gpt-3.5-turbo", True, "tool"),
        ("o1-mini", True, "prompted"),
        ("llama3.2", False, "native"),
    ],
)
def test_openai_auto_picks_native_except_for_older_models(
    model: str, official: bool, mode: str
) -> None:
    assert openai_mode("auto", model, official=official) == mode
    assert openai_mode("prompted", model, official=official) == "prompted"


@pytest.mark.parametrize(
    ("model", "has_it"),
    [
        ("claude-haiku-4-5", True),
        ("claude-sonnet-4-5-20250929", True),
        ("claude-opus-4-6", True),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("claude-opus-5", True),
        ("claude-mythos-preview", True),
        ("claude-sonnet-4-20250514", False),
        ("claude-opus-4-1-20250805", False),
        ("claude-3-7-sonnet-latest", False),
        ("claude-3-5-haiku-20241022", False),
    ],
)
def test_claude_models_with_structured_outputs(model: str, has_it: bool) -> None:
    assert claude_has_structured_outputs(model) is has_it
    assert anthropic_mode("auto", model, native_ok=True) == ("native" if has_it else "tool")
    assert anthropic_mode("auto", model, native_ok=False) == "tool"


def test_gemini_auto_uses_tools_before_gemini_3_when_the_request_has_tools() -> None:
    assert gemini_mode("auto", "gemini-2.5-flash", has_tools=False) == "native"
    assert gemini_mode("auto", "gemini-2.5-flash", has_tools=True) == "tool"
    assert gemini_mode("auto", "gemini-3-pro-preview", has_tools=True) == "native"
    assert gemini_mode("native", "gemini-2.5-flash", has_tools=True) == "native"
