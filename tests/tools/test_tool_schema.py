from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from aether.errors import ToolError
from aether.tools.schema import function_schema


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str = Field(description="Street and number.")
    city: str


class Node(BaseModel):
    value: int
    children: list[Node] = []


def properties(function: Any) -> dict[str, Any]:
    return function_schema(function).parameters["properties"]  # type: ignore[no-any-return]


def test_scalars_map_to_json_types_and_all_are_required() -> None:
    def tool(s: str, i: int, f: float, b: bool) -> None: ...

    schema = function_schema(tool).parameters
    assert schema["type"] == "object"
    assert schema["properties"] == {
        "s": {"type": "string"},
        "i": {"type": "integer"},
        "f": {"type": "number"},
        "b": {"type": "boolean"},
    }
    assert schema["required"] == ["s", "i", "f", "b"]
    assert schema["additionalProperties"] is False


def test_defaults_are_shown_and_make_parameters_optional() -> None:
    def tool(a: int, b: int = 3) -> None: ...

    schema = function_schema(tool).parameters
    assert schema["properties"]["b"] == {"type": "integer", "default": 3}
    assert schema["required"] == ["a"]


def test_optional_is_a_union_with_null() -> None:
    def tool(n: int | None = None) -> None: ...

    assert properties(tool)["n"] == {
        "anyOf": [{"type": "integer"}, {"type": "null"}],
        "default": None,
    }


def test_literal_is_an_enum_of_its_values() -> None:
    def tool(unit: Literal["celsius", "fahrenheit"]) -> None: ...

    assert properties(tool)["unit"] == {"enum": ["celsius", "fahrenheit"], "type": "string"}


def test_enum_is_inlined_with_its_values() -> None:
    def tool(color: Color) -> None: ...

    assert properties(tool)["color"] == {"enum": ["red", "blue"], "type": "string"}


def test_lists_and_dicts_describe_their_items() -> None:
    def tool(tags: list[str], counts: dict[str, int]) -> None: ...

    assert properties(tool) == {
        "tags": {"type": "array", "items": {"type": "string"}},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    }


def test_nested_model_is_inlined_with_field_descriptions() -> None:
    def tool(address: Address) -> None: ...

    schema = function_schema(tool).parameters
    assert "$defs" not in schema
    assert schema["properties"]["address"] == {
        "type": "object",
        "properties": {
            "street": {"type": "string", "description": "Street and number."},
            "city": {"type": "string"},
        },
        "required": ["street", "city"],
    }


def test_recursive_model_keeps_only_its_own_definition() -> None:
    def tool(tree: Node) -> None: ...

    schema = function_schema(tool).parameters
    assert list(schema["$defs"]) == ["Node"]
    assert schema["properties"]["tree"]["properties"]["children"]["items"] == {
        "$ref": "#/$defs/Node"
    }


def test_titles_are_dropped_but_a_parameter_named_title_is_kept() -> None:
    def tool(title: str, address: Address) -> None: ...

    schema = function_schema(tool).parameters
    assert "title" not in schema
    assert schema["properties"]["title"] == {"type": "string"}
    assert "title" not in schema["properties"]["address"]


def test_docstring_description_lands_on_the_parameter() -> None:
    def get_customer(customer_id: str) -> dict[str, str]:
        """
        Args:
            customer_id: Internal customer ID (UUID).
        """
        return {}

    assert properties(get_customer)["customer_id"] == {
        "type": "string",
        "description": "Internal customer ID (UUID).",
    }


def test_annotated_field_description_wins_over_the_docstring() -> None:
    def tool(q: Annotated[str, Field(description="From Field.", min_length=2)]) -> None:
        """Search.

        Args:
            q: From the docstring.
        """

    assert properties(tool)["q"] == {
        "type": "string",
        "description": "From Field.",
        "minLength": 2,
    }


def test_description_defaults_to_the_docstring_text() -> None:
    def tool(a: int) -> None:
        """Do the thing.

        Args:
            a: A number.
        """

    assert function_schema(tool).description == "Do the thing."
    assert function_schema(tool, description="Given.").description == "Given."


def test_unannotated_parameter_accepts_anything() -> None:
    def tool(x) -> None:  # type: ignore[no-untyped-def]
        ...

    assert properties(tool) == {"x": {}}


def test_parameter_names_that_shadow_pydantic_attributes_work() -> None:
    def tool(json: str, model_config: int, _private: bool = False) -> None: ...

    schema = function_schema(tool)
    assert list(schema.parameters["properties"]) == ["json", "model_config", "_private"]
    assert schema.bind({"json": "j", "model_config": "2"}) == (
        [],
        {"json": "j", "model_config": 2, "_private": False},
    )


def test_bind_builds_nested_models_and_passes_positional_only_by_position() -> None:
    def tool(first: int, /, address: Address) -> None: ...

    args, kwargs = function_schema(tool).bind({"first": 1, "address": {"street": "a", "city": "b"}})
    assert args == [1]
    assert kwargs == {"address": Address(street="a", city="b")}


def test_bind_rejects_unknown_and_missing_arguments() -> None:
    def tool(a: int) -> None: ...

    with pytest.raises(ValidationError) as caught:
        function_schema(tool).bind({"b": 1})
    assert {error["type"] for error in caught.value.errors()} == {"missing", "extra_forbidden"}


def test_var_args_are_refused() -> None:
    def tool(*values: int) -> None: ...

    with pytest.raises(ToolError, match=r"\*values"):
        function_schema(tool)


def test_invalid_tool_name_is_refused() -> None:
    def tool() -> None: ...

    with pytest.raises(ToolError, match="not a valid tool name"):
        function_schema(tool, name="has space")


def test_type_without_a_schema_is_refused_naming_the_tool() -> None:
    class Opaque:
        pass

    def tool(thing: Opaque) -> None: ...

    tool.__annotations__ = {"thing": Opaque, "return": None}
    with pytest.raises(ToolError, match="cannot build a JSON Schema for tool 'tool'"):
        function_schema(tool)


def test_unresolvable_type_hint_is_refused_naming_the_tool() -> None:
    def tool(thing: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(ToolError, match="cannot read the type hints of tool 'tool'"):
        function_schema(tool)
