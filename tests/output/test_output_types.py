"""Output types: the schema each is sent as, and how its answers are read back."""

from __future__ import annotations

import sys
from typing import Any, Literal

import pytest

from aether.errors import ConfigurationError
from aether.llm._output_answers import InvalidOutput, error_lines, validate_output
from aether.llm.output import OutputSchema, prompted_instructions
from tests.output._models import ISSUE_SCHEMA, Cat, Dog, Invoice, Item, Movie, Node, Point


def test_a_model_is_its_own_object_schema_and_reads_back_as_an_instance() -> None:
    schema = OutputSchema.of(Invoice)
    assert schema.name == "Invoice"
    assert schema.wrapper is None
    assert schema.description == "An invoice."
    assert schema.json_schema["type"] == "object"
    assert set(schema.json_schema["properties"]) == {"customer", "items", "paid", "note"}
    value = validate_output(schema, '{"customer": "Ada", "items": []}')
    assert value == Invoice(customer="Ada", items=[])


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (list[str], '{"result": ["a", "b"]}', ["a", "b"]),
        (int, '{"result": 42}', 42),
        (Literal["yes", "no"], '{"result": "no"}', "no"),
        (Cat | Dog, '{"result": {"kind": "dog", "barks": 3}}', Dog(kind="dog", barks=3)),
    ],
)
def test_a_type_whose_schema_is_not_an_object_is_wrapped_and_unwrapped(
    output_type: Any, text: str, expected: Any
) -> None:
    schema = OutputSchema.of(output_type)
    assert schema.wrapper == "result"
    assert schema.json_schema["type"] == "object"
    assert schema.json_schema["required"] == ["result"]
    assert schema.json_schema["additionalProperties"] is False
    assert validate_output(schema, text) == expected


def test_a_wrapped_union_keeps_its_definitions_at_the_root() -> None:
    schema = OutputSchema.of(Cat | Dog).json_schema
    assert set(schema["$defs"]) == {"Cat", "Dog"}
    assert "$defs" not in schema["properties"]["result"]


def test_dataclasses_and_typeddicts_are_objects() -> None:
    assert validate_output(OutputSchema.of(Point), '{"x": 1, "y": 2}') == Point(1, 2)
    movie = validate_output(OutputSchema.of(Movie), '{"title": "Alien", "year": 1979}')
    assert movie == {"title": "Alien", "year": 1979}
    assert OutputSchema.of(Movie).wrapper is None


def test_a_recursive_model_has_its_definition_at_the_root() -> None:
    schema = OutputSchema.of(Node).json_schema
    assert schema["type"] == "object"
    assert "$ref" not in schema
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    node = validate_output(OutputSchema.of(Node), '{"value": 1, "children": [{"value": 2}]}')
    assert node == Node(value=1, children=[Node(value=2)])


def test_a_json_schema_dict_reads_back_as_a_validated_dict() -> None:
    schema = OutputSchema.of(ISSUE_SCHEMA)
    assert schema.name == "output"
    assert validate_output(schema, '{"title": "Crash"}') == {"title": "Crash"}
    with pytest.raises(InvalidOutput) as caught:
        validate_output(schema, '{"title": "no", "labels": [1]}')
    assert {(error["loc"], error["type"]) for error in caught.value.errors} == {
        (("title",), "minLength"),
        (("labels", 0), "type"),
    }


def test_a_json_schema_dict_that_is_not_an_object_is_wrapped() -> None:
    schema = OutputSchema.of({"type": "array", "items": {"type": "integer"}})
    assert schema.wrapper == "result"
    assert validate_output(schema, '{"result": [1, 2]}') == [1, 2]


def test_a_json_schema_dict_needs_the_jsonschema_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(ConfigurationError, match=r"aether-llm\[jsonschema\]"):
        OutputSchema.of({"type": "object", "title": "needs-the-extra"})


def test_an_invalid_json_schema_dict_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a valid JSON Schema"):
        OutputSchema.of({"type": "object", "properties": {"a": {"type": "nonsense"}}})


def test_a_type_without_a_json_schema_is_refused_naming_what_works() -> None:
    class Opaque:
        pass

    with pytest.raises(ConfigurationError, match=r"has no JSON Schema.*pydantic model"):
        OutputSchema.of(Opaque)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'auto', 'native', 'tool' or 'prompted'"):
        OutputSchema.of(Invoice, mode="json")  # type: ignore[arg-type]


def test_schemas_are_built_once_per_type_and_share_one_schema_across_modes() -> None:
    assert OutputSchema.of(Invoice) is OutputSchema.of(Invoice)
    assert OutputSchema.of(Invoice, mode="tool").mode == "tool"
    assert OutputSchema.of(Invoice, mode="tool").json_schema is OutputSchema.of(Invoice).json_schema


def test_the_python_type_stays_out_of_dumps_and_reprs() -> None:
    schema = OutputSchema.of(Invoice)
    assert schema.output_type is Invoice
    assert "output_type" not in schema.model_dump()
    assert "output_type" not in repr(schema)


def test_validation_errors_name_the_field() -> None:
    text = '{"customer": "Ada", "items": [{"name": "x", "quantity": 0, "unit_price": 1}]}'
    with pytest.raises(InvalidOutput) as caught:
        validate_output(OutputSchema.of(Invoice), text)
    (error,) = caught.value.errors
    assert error["loc"] == ("items", 0, "quantity")
    assert error["type"] == "greater_than_equal"
    assert error_lines(caught.value.errors) == [
        "items.0.quantity: Input should be greater than or equal to 1"
    ]


def test_a_wrapped_answer_reports_errors_without_the_wrapper() -> None:
    with pytest.raises(InvalidOutput) as caught:
        validate_output(OutputSchema.of(list[int]), '{"result": [1, "x"]}')
    assert [error["loc"] for error in caught.value.errors] == [(1,)]


def test_text_that_is_not_json_is_a_json_error() -> None:
    with pytest.raises(InvalidOutput) as caught:
        validate_output(OutputSchema.of(Invoice), "I cannot do that")
    assert caught.value.errors[0]["type"] == "json_invalid"


def test_a_markdown_fence_or_a_sentence_around_the_json_is_tolerated() -> None:
    text = 'Here it is:\n```json\n{"customer": "Ada", "items": []}\n```'
    assert validate_output(OutputSchema.of(Invoice), text).customer == "Ada"


def test_nulls_for_optional_fields_that_take_none_fall_back_to_their_defaults() -> None:
    # What OpenAI's strict mode sends for an optional field it made nullable.
    text = (
        '{"customer": "Ada", "paid": null, "note": null, "items": [{"name": "x", "quantity": '
        '1, "unit_price": 2, "color": null, "tags": null}]}'
    )
    invoice = validate_output(OutputSchema.of(Invoice), text)
    assert invoice.paid is False
    assert invoice.items[0].tags == []
    assert invoice.items[0].color is None


def test_a_null_for_a_required_field_is_still_an_error() -> None:
    with pytest.raises(InvalidOutput) as caught:
        validate_output(OutputSchema.of(Item), '{"name": null, "quantity": 1, "unit_price": 1}')
    assert caught.value.errors[0]["loc"] == ("name",)


def test_prompted_instructions_hold_the_schema() -> None:
    text = prompted_instructions(OutputSchema.of(Point))
    assert "JSON Schema" in text
    assert '"properties":{"x":{"title":"X","type":"integer"}' in text
