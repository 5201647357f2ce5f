"""Output types: their JSON Schema, their validation, both built once per type.

A Python type is validated with a pydantic `TypeAdapter` (pydantic models, dataclasses,
TypedDicts, plain types and unions alike). A raw JSON Schema dict is validated with the
``jsonschema`` package (the ``jsonschema`` extra), imported only when such a schema is
first used: pydantic cannot validate against a JSON Schema, and writing a validator for
the whole of JSON Schema here would be a worse copy of that library.

Reading an answer with them is in `aether.llm._output_answers`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic.errors import PydanticUserError
from typing_extensions import TypedDict

from aether.errors import ConfigurationError
from aether.llm.output import OutputMode, OutputSchema

__all__ = [
    "CompiledOutput",
    "InvalidOutput",
    "compiled_output",
    "output_schema",
    "schema_text",
]

WRAPPER = "result"
_MODES = ("auto", "native", "tool", "prompted")
_CACHE_SIZE = 1024
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


class InvalidOutput(Exception):
    """An answer that does not validate; ``errors`` are pydantic-style error dicts."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class CompiledOutput:
    """One output type, ready: the schema it is sent as and how its answers are read."""

    output_type: Any
    json_schema: dict[str, Any]
    wrapper: str | None
    name: str
    description: str | None
    validate_json: Callable[[str], Any]
    validate_python: Callable[[Any], Any]


def _schema_name(output_type: Any, schema: Mapping[str, Any]) -> str:
    if isinstance(output_type, dict):
        raw = str(schema.get("title") or "output")
    elif isinstance(output_type, type):
        raw = output_type.__name__
    else:
        raw = repr(output_type).replace("typing.", "")
    name = _NAME.sub("_", raw).strip("_")[:64]
    return name or "output"


def _inline_root_ref(schema: dict[str, Any]) -> dict[str, Any]:
    """``{"$ref": "#/$defs/X", "$defs": ...}`` (a recursive model) with X at the root."""
    ref = schema.get("$ref")
    defs = schema.get("$defs")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/") or not isinstance(defs, dict):
        return schema
    target = defs.get(ref.removeprefix("#/$defs/"))
    if not isinstance(target, dict):
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("$ref", "$defs")}
    return {**target, **rest, "$defs": defs}


def _is_object(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" and not any(
        key in schema for key in ("anyOf", "oneOf", "allOf", "enum", "const")
    )


def _wrapped(schema: dict[str, Any]) -> dict[str, Any]:
    inner = {key: value for key, value in schema.items() if key != "$defs"}
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {WRAPPER: inner},
        "required": [WRAPPER],
        "additionalProperties": False,
    }
    if "$defs" in schema:
        wrapped["$defs"] = schema["$defs"]
    return wrapped


def _error(message: str, kind: str, given: Any) -> dict[str, Any]:
    return {"loc": (), "msg": message, "type": kind, "input": given}


def _description(schema: Mapping[str, Any]) -> str | None:
    text = schema.get("description")
    return text if isinstance(text, str) and text else None


def _error_dicts(error: ValidationError, *, strip: str | None) -> list[dict[str, Any]]:
    found = []
    for item in error.errors(include_url=False, include_context=False):
        loc = tuple(item["loc"])
        if strip is not None and loc[:1] == (strip,):
            loc = loc[1:]
        found.append({"loc": loc, "msg": item["msg"], "type": item["type"], "input": item["input"]})
    return found


def _python_type(output_type: Any) -> CompiledOutput:
    try:
        schema = _inline_root_ref(TypeAdapter(output_type).json_schema())
    except (PydanticUserError, TypeError) as error:
        reason = str(error).split("\n", 1)[0]
        raise ConfigurationError(
            f"output_type={output_type!r} has no JSON Schema ({reason}); give a pydantic "
            f"model, a dataclass, a TypedDict, a plain type or union, or a JSON Schema dict"
        ) from None
    wrapper = None if _is_object(schema) else WRAPPER
    validate_json: Callable[[str], Any]
    validate_python: Callable[[Any], Any]
    if wrapper is None:
        adapter: TypeAdapter[Any] = TypeAdapter(output_type)
        validate_json = adapter.validate_json
        validate_python = adapter.validate_python
    else:
        envelope: Any = TypedDict("Result", {WRAPPER: output_type})  # type: ignore[misc]
        wrapped: TypeAdapter[Any] = TypeAdapter(envelope)

        def validate_json(text: str) -> Any:
            return wrapped.validate_json(text)[WRAPPER]

        def validate_python(value: Any) -> Any:
            return wrapped.validate_python(value)[WRAPPER]

    def read_json(text: str) -> Any:
        try:
            return validate_json(text)
        except ValidationError as error:
            raise InvalidOutput(_error_dicts(error, strip=wrapper)) from None

    def read_python(value: Any) -> Any:
        try:
            return validate_python(value)
        except ValidationError as error:
            raise InvalidOutput(_error_dicts(error, strip=wrapper)) from None

    return CompiledOutput(
        output_type=output_type,
        json_schema=_wrapped(schema) if wrapper else schema,
        wrapper=wrapper,
        name=_schema_name(output_type, schema),
        description=_description(schema) if wrapper is None else None,
        validate_json=read_json,
        validate_python=read_python,
    )


def _json_schema_validator(schema: dict[str, Any]) -> Any:
    try:
        import jsonschema
    except ImportError:
        raise ConfigurationError(
            "a JSON Schema dict as output_type is validated with the jsonschema package: "
            "pip install 'aether-llm[jsonschema]' (or give a pydantic model or a type)"
        ) from None
    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ConfigurationError(
            f"output_type is not a valid JSON Schema: {error.message}"
        ) from None
    return validator_class(schema)


def _raw_schema(given: dict[str, Any]) -> CompiledOutput:
    schema = _inline_root_ref(json.loads(json.dumps(given)))  # a copy the caller cannot change
    validator = _json_schema_validator(schema)
    wrapper = None if _is_object(schema) else WRAPPER

    def read_python(value: Any) -> Any:
        if wrapper is not None:
            if not isinstance(value, dict) or wrapper not in value:
                missing = _error(f"expected an object with {wrapper!r}", "missing", value)
                raise InvalidOutput([missing])
            value = value[wrapper]
        problems = [
            {
                "loc": tuple(problem.absolute_path),
                "msg": problem.message,
                "type": str(problem.validator),
                "input": problem.instance,
            }
            for problem in validator.iter_errors(value)
        ]
        if problems:
            raise InvalidOutput(problems)
        return value

    def read_json(text: str) -> Any:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise InvalidOutput([_error(f"Invalid JSON: {error}", "json_invalid", text)]) from None
        return read_python(value)

    return CompiledOutput(
        output_type=given,
        json_schema=_wrapped(schema) if wrapper else schema,
        wrapper=wrapper,
        name=_schema_name(given, schema),
        description=_description(schema),
        validate_json=read_json,
        validate_python=read_python,
    )


_compiled: dict[Any, CompiledOutput] = {}
_schemas: dict[Any, OutputSchema] = {}


def _cache_key(output_type: Any) -> Any:
    if isinstance(output_type, dict):
        return ("json-schema", json.dumps(output_type, sort_keys=True, default=repr))
    try:
        hash(output_type)
    except TypeError:
        return ("unhashable", id(output_type))
    return output_type


def compiled_output(output_type: Any) -> CompiledOutput:
    """The compiled form of ``output_type``, built on first use.

    Raises:
        ConfigurationError: If the type has no JSON Schema, or the schema dict is invalid.
    """
    key = _cache_key(output_type)
    found = _compiled.get(key)
    if found is None:
        if isinstance(output_type, dict):
            found = _raw_schema(output_type)
        else:
            found = _python_type(output_type)
        if len(_compiled) >= _CACHE_SIZE:
            _compiled.clear()
        _compiled[key] = found
    return found


def output_schema(output_type: Any, mode: OutputMode) -> OutputSchema:
    """The `OutputSchema` for ``output_type`` in ``mode`` (cached)."""
    if mode not in _MODES:
        raise ConfigurationError(
            f"output_mode={mode!r} is not a mode: use 'auto', 'native', 'tool' or 'prompted'"
        )
    if isinstance(output_type, OutputSchema):
        return output_type.with_mode(mode)
    key = _cache_key(output_type)
    found = _schemas.get(key)
    if found is None:
        compiled = compiled_output(output_type)
        found = OutputSchema(
            name=compiled.name,
            json_schema=compiled.json_schema,
            description=compiled.description,
            wrapper=compiled.wrapper,
            output_type=output_type,
        )
        if len(_schemas) >= _CACHE_SIZE:
            _schemas.clear()
        _schemas[key] = found
    # One schema dict for every mode: the adapters remember their forms of it by identity.
    return found.with_mode(mode)


def schema_text(schema: Mapping[str, Any]) -> str:
    """A JSON Schema as compact JSON text, for instructions."""
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
