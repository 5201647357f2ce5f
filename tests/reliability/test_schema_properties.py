"""Property-based tests of the tool schema generator: the schema a model sees accepts
exactly what the tool accepts, whatever the signature.

Hypothesis builds functions with random signatures (names that clash with pydantic's
own attributes included, every supported kind of type, defaults, docstrings) and random
arguments for them. The generated JSON Schema must be valid and clean, and every
argument object it accepts must bind to the function's parameters as the right Python
values; what it refuses (an unknown key, a missing required one), binding refuses too.
"""

from __future__ import annotations

import inspect
import json
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field, ValidationError

from aether.errors import ToolError
from aether.tools.schema import function_schema


class Color(Enum):
    RED = "red"
    GREEN = "green"


class Point(BaseModel):
    x: int
    y: int = 0


@dataclass(frozen=True)
class Kind:
    """A parameter type, the JSON values a model may send for it, and what binding gives."""

    label: str
    hint: Any
    values: st.SearchStrategy[Any]
    python: Callable[[Any], Any] = lambda value: value


FINITE = st.floats(allow_nan=False, allow_infinity=False)
POINT = st.builds(lambda x, y: {"x": x, "y": y}, st.integers(), st.integers())

KINDS = (
    Kind("int", int, st.integers()),
    Kind("float", float, FINITE, float),
    Kind("str", str, st.text(max_size=20)),
    Kind("bool", bool, st.booleans()),
    Kind("list[int]", list[int], st.lists(st.integers(), max_size=4)),
    Kind(
        "dict[str, float]",
        dict[str, float],
        st.dictionaries(st.text(max_size=4), FINITE, max_size=3),
    ),
    Kind("int | None", int | None, st.none() | st.integers()),
    Kind("Literal", Literal["low", "high"], st.sampled_from(["low", "high"])),
    Kind("Enum", Color, st.sampled_from([color.value for color in Color]), Color),
    Kind("BaseModel", Point, POINT, lambda value: Point(**value)),
    Kind(
        "list[BaseModel]",
        list[Point],
        st.lists(POINT, max_size=3),
        lambda v: [Point(**p) for p in v],
    ),
    Kind("bounded int", Annotated[int, Field(ge=0, le=10)], st.integers(0, 10)),
    Kind(
        "tuple[int, str]",
        tuple[int, str],
        st.tuples(st.integers(), st.text(max_size=5)).map(list),
        tuple,
    ),
)

# Names a model's arguments object could use that collide with pydantic's own attributes.
CLASHING = (
    "model_config",
    "model_fields",
    "json",
    "schema",
    "copy",
    "dict",
    "validate",
    "self",
    "cls",
    "id",
)
NAMES = st.sampled_from(CLASHING) | st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name)
)
WORDS = st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=5).map(
    " ".join
)


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: Kind
    default: Any  # a JSON value, or ``inspect.Parameter.empty``
    doc: str | None


@st.composite
def parameters(draw: st.DrawFn) -> list[Parameter]:
    names = draw(st.lists(NAMES, min_size=0, max_size=6, unique=True))
    drawn = []
    for name in names:
        kind = draw(st.sampled_from(KINDS))
        default = draw(st.just(inspect.Parameter.empty) | kind.values)
        drawn.append(Parameter(name, kind, default, draw(st.none() | WORDS)))
    return drawn


def make_tool(params: list[Parameter]) -> Callable[..., Any]:
    """A function with exactly ``params`` as keyword-only parameters, and a docstring."""

    async def tool(**arguments: Any) -> Any:
        return arguments

    tool.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=param.kind.hint,
                default=param.default
                if param.default is inspect.Parameter.empty
                else param.kind.python(param.default),
            )
            for param in params
        ]
    )
    tool.__annotations__ = {param.name: param.kind.hint for param in params}
    documented = [f"    {param.name}: {param.doc}" for param in params if param.doc]
    tool.__doc__ = (
        "\n".join(["A generated tool.", "", "Args:", *documented]) if documented else None
    )
    return tool


def keys_anywhere(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {key for value in node.values() for key in keys_anywhere(value)}
    if isinstance(node, list):
        return {key for item in node for key in keys_anywhere(item)}
    return set()


@st.composite
def tools_with_arguments(draw: st.DrawFn) -> tuple[list[Parameter], dict[str, Any]]:
    params = draw(parameters())
    arguments = {}
    for param in params:
        if param.default is inspect.Parameter.empty or draw(st.booleans()):
            arguments[param.name] = draw(param.kind.values)
    return params, arguments


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(tools_with_arguments())
def test_schema_is_clean_valid_json_schema_naming_every_parameter(
    case: tuple[list[Parameter], dict[str, Any]],
) -> None:
    params, _ = case
    schema = function_schema(make_tool(params), name="generated").parameters
    assert json.loads(json.dumps(schema)) == schema
    Draft202012Validator.check_schema(schema)
    assert {"title", "$ref", "$defs"} & keys_anywhere(schema) == set()
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == [param.name for param in params]
    required = [param.name for param in params if param.default is inspect.Parameter.empty]
    assert schema.get("required", []) == required
    for param in params:
        field = schema["properties"][param.name]
        if param.doc:
            assert field["description"] == param.doc
        if param.default is not inspect.Parameter.empty:
            assert field["default"] == param.default


@SETTINGS
@given(tools_with_arguments())
def test_arguments_the_schema_accepts_bind_to_the_right_values(
    case: tuple[list[Parameter], dict[str, Any]],
) -> None:
    params, arguments = case
    described = function_schema(make_tool(params), name="generated")
    Draft202012Validator(described.parameters).validate(arguments)
    _, bound = described.bind(json.loads(json.dumps(arguments)))
    expected = {
        param.name: param.kind.python(arguments.get(param.name, param.default)) for param in params
    }
    assert bound == expected


@SETTINGS
@given(tools_with_arguments(), NAMES)
def test_an_unknown_argument_is_refused_by_schema_and_binding_alike(
    case: tuple[list[Parameter], dict[str, Any]], extra: str
) -> None:
    params, arguments = case
    if extra in {param.name for param in params}:
        return
    described = function_schema(make_tool(params), name="generated")
    arguments = {**arguments, extra: 1}
    assert not Draft202012Validator(described.parameters).is_valid(arguments)
    with pytest.raises(ValidationError):
        described.bind(arguments)


@SETTINGS
@given(tools_with_arguments(), st.data())
def test_a_missing_required_argument_is_refused_by_schema_and_binding_alike(
    case: tuple[list[Parameter], dict[str, Any]], data: st.DataObject
) -> None:
    params, arguments = case
    required = [param.name for param in params if param.default is inspect.Parameter.empty]
    if not required:
        return
    described = function_schema(make_tool(params), name="generated")
    del arguments[data.draw(st.sampled_from(required))]
    assert not Draft202012Validator(described.parameters).is_valid(arguments)
    with pytest.raises(ValidationError):
        described.bind(arguments)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=80) | st.from_regex(r"[A-Za-z0-9_-]{1,70}\n?", fullmatch=True))
def test_a_tool_name_is_taken_only_if_every_provider_accepts_it(name: str) -> None:
    async def tool(x: int) -> int:
        return x

    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        assert function_schema(tool, name=name).name == name
    else:
        with pytest.raises(ToolError, match="not a valid tool name"):
            function_schema(tool, name=name)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_docstring_yields_a_schema(docstring: str) -> None:
    async def tool(x: int, y: str = "") -> None:
        return None

    tool.__doc__ = docstring
    schema = function_schema(tool).parameters
    assert list(schema["properties"]) == ["x", "y"]
    assert all(
        isinstance(field.get("description", ""), str) for field in schema["properties"].values()
    )
