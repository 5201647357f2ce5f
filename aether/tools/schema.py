"""A function's signature and docstring → the JSON Schema a model sees, through pydantic.

`function_schema` builds a pydantic model from the signature (so nested models, enums,
``Literal``, ``Optional``, defaults, lists and dicts all work as pydantic knows them),
takes each parameter's description from the docstring (Google, NumPy or Sphinx style),
and returns the model's JSON Schema, cleaned for portability across providers:

- no ``title`` keywords (pydantic derives them from names; they only cost tokens);
- ``$ref`` references inlined, so providers with partial JSON Schema support read a
  self-contained object. Only recursive models keep a ``$defs`` section;
- ``additionalProperties: false``: unknown arguments are a validation error the model
  is told about.

The same model validates the model's arguments before the function runs.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model
from pydantic.fields import FieldInfo

from aether.errors import ToolError
from aether.tools._docstrings import ParsedDocstring, parse_docstring

__all__ = [
    "FunctionSchema",
    "ParsedDocstring",
    "clean_schema",
    "function_schema",
    "parse_docstring",
]

TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What every major provider accepts as a function name."""

_ARGUMENTS_CONFIG = ConfigDict(extra="forbid")
_DEFS_PREFIX = "#/$defs/"
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES = frozenset(
    {"items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames"}
)


@dataclass(frozen=True, slots=True)
class FunctionSchema:
    """What `function_schema` learned about a function.

    Attributes:
        name: The tool name (the function's name unless overridden).
        description: The tool description (given, or the docstring's text).
        parameters: The JSON Schema of the arguments object.
        arguments_model: The pydantic model that validates the arguments.
        positional_only: Names of the parameters that must be passed by position.
        field_names: Parameter name → the model's field holding it.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    arguments_model: type[BaseModel]
    positional_only: tuple[str, ...]
    field_names: dict[str, str]

    def bind(self, arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate the model's ``arguments`` and split them into ``(args, kwargs)``.

        Raises:
            pydantic.ValidationError: If the arguments do not match the signature.
        """
        validated = self.arguments_model.model_validate(arguments)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, field_name in self.field_names.items():
            value = getattr(validated, field_name)
            if name in self.positional_only:
                args.append(value)
            else:
                kwargs[name] = value
        return args, kwargs


def _has_description(hint: Any) -> bool:
    if typing.get_origin(hint) is not Annotated:
        return False
    return any(
        isinstance(item, FieldInfo) and item.description for item in typing.get_args(hint)[1:]
    )


def _type_hints(function: Callable[..., Any], name: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception as error:
        raise ToolError(
            f"cannot read the type hints of tool {name!r} ({type(error).__name__}: {error}); "
            f"define the types it uses at module level so they can be resolved"
        ) from error


def _strip_and_inline(
    node: dict[str, Any], defs: dict[str, Any], stack: frozenset[str], kept: set[str]
) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX) and ref[len(_DEFS_PREFIX) :] in defs:
        target_name = ref[len(_DEFS_PREFIX) :]
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        extra = _strip_and_inline(siblings, defs, stack, kept)
        if target_name in stack:
            kept.add(target_name)
            return {"$ref": ref, **extra}
        target = _strip_and_inline(defs[target_name], defs, stack | {target_name}, kept)
        return {**target, **extra}
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {
                name: _strip_and_inline(item, defs, stack, kept) for name, item in value.items()
            }
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            cleaned[key] = [
                _strip_and_inline(item, defs, stack, kept) if isinstance(item, dict) else item
                for item in value
            ]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            cleaned[key] = _strip_and_inline(value, defs, stack, kept)
        else:
            cleaned[key] = value
    return cleaned


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop ``title`` keywords and inline every non-recursive ``$ref``."""
    defs: dict[str, Any] = schema.get("$defs", {})
    body = {key: value for key, value in schema.items() if key != "$defs"}
    kept: set[str] = set()
    cleaned = _strip_and_inline(body, defs, frozenset(), kept)
    kept_defs: dict[str, Any] = {}
    while kept - kept_defs.keys():
        for name in sorted(kept - kept_defs.keys()):
            kept_defs[name] = _strip_and_inline(defs[name], defs, frozenset({name}), kept)
    if kept_defs:
        cleaned["$defs"] = dict(sorted(kept_defs.items()))
    return cleaned


def function_schema(
    function: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionSchema:
    """Describe ``function`` as a tool: its name, description and arguments schema.

    Args:
        function: A sync or async function with type-hinted parameters.
        name: The tool name; the function's ``__name__`` by default.
        description: The tool description; the docstring's text by default.

    Raises:
        ToolError: If the name is not 1-64 letters, digits, ``_`` or ``-``, the
            function takes ``*args`` or ``**kwargs``, or a parameter's type has no
            JSON Schema.
    """
    tool_name: str = name or str(getattr(function, "__name__", ""))
    if not TOOL_NAME.fullmatch(tool_name):
        raise ToolError(
            f"{tool_name!r} is not a valid tool name: use 1 to 64 letters, digits, '_' or "
            f"'-' (pass @register_tool(name=...) to choose one)"
        )
    docstring = parse_docstring(inspect.getdoc(function))
    hints = _type_hints(function, tool_name)
    fields: dict[str, Any] = {}
    field_names: dict[str, str] = {}
    positional_only: list[str] = []
    for index, parameter in enumerate(inspect.signature(function).parameters.values()):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ToolError(
                f"tool {tool_name!r} takes *{parameter.name}: a tool's parameters must each "
                f"be named, so the model can be given a schema for them"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            positional_only.append(parameter.name)
        hint = hints.get(parameter.name, Any)
        field_kwargs: dict[str, Any] = {"alias": parameter.name}
        doc = docstring.parameters.get(parameter.name)
        if doc and not _has_description(hint):
            field_kwargs["description"] = doc
        default = ... if parameter.default is parameter.empty else parameter.default
        field_name = f"p{index}"
        fields[field_name] = (hint, Field(default, **field_kwargs))
        field_names[parameter.name] = field_name
    try:
        model = create_model(f"{tool_name}_arguments", __config__=_ARGUMENTS_CONFIG, **fields)
        schema = model.model_json_schema()
    except (PydanticUserError, TypeError, ValueError) as error:
        raise ToolError(
            f"cannot build a JSON Schema for tool {tool_name!r}: {error}. Give each "
            f"parameter a type pydantic understands (str, int, a BaseModel, an Enum, ...)"
        ) from error
    parameters = clean_schema(schema)
    parameters.setdefault("properties", {})
    return FunctionSchema(
        name=tool_name,
        description=description if description is not None else docstring.description,
        parameters=parameters,
        arguments_model=model,
        positional_only=tuple(positional_only),
        field_names=field_names,
    )
