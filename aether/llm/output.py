"""Structured output: the schema a request asks its answer to follow, and how.

``client.ask(prompt, output_type=Invoice)`` puts an `OutputSchema` on the request
(`LLMRequest.output`); the provider adapter sends it the way its vendor takes it, and
`aether.middleware.structured_output` validates the answer against the type. A type
whose JSON Schema is not an object (``list[str]``, ``int``, a union, a ``Literal``) is
wrapped in an object under ``wrapper`` (``{"result": ...}``), because the native modes
of every vendor want an object at the top; the answer is unwrapped on the way back.

Modes (`OutputMode`):

- ``native``: the vendor's own structured output (OpenAI ``response_format`` with a
  strict JSON Schema, Gemini ``response_json_schema``, Anthropic ``output_config``).
- ``tool``: a tool named ``final_result`` whose arguments are the answer, which the
  model is made to call; the adapter turns that call back into the answer's text.
- ``prompted``: the schema in the instructions, for servers that have neither.
- ``auto``: the adapter picks per vendor and model; the response says which it used
  (`LLMResponse.output_mode`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "OUTPUT_TOOL_NAME",
    "OutputMode",
    "OutputSchema",
    "ResolvedOutputMode",
    "prompted_instructions",
]

OutputMode = Literal["auto", "native", "tool", "prompted"]
"""How a structured answer is obtained: see the module docstring."""

ResolvedOutputMode = Literal["native", "tool", "prompted"]
"""The mode a provider actually used (``auto`` resolved)."""

OUTPUT_TOOL_NAME = "final_result"
"""The name of the tool the ``tool`` mode offers (another if a tool of yours has it)."""


class OutputSchema(BaseModel):
    """What a structured answer must look like, as a request carries it to the provider.

    Build one with `OutputSchema.of` (``client.ask(..., output_type=...)`` does).

    Attributes:
        name: The schema's name for the vendor (the type's name; letters, digits, ``_``
            and ``-``).
        json_schema: The answer's JSON Schema, always an object (see ``wrapper``).
        mode: ``auto``, ``native``, ``tool`` or ``prompted`` (see the module docstring).
        description: What the answer is (the type's docstring), if known.
        wrapper: The property a type whose schema is not an object is wrapped under
            (``"result"``), else ``None``.
        output_type: The Python type (or raw JSON Schema dict) the answer is validated
            against. Not sent, and left out of dumps, reprs and cache keys.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str
    json_schema: dict[str, Any]
    mode: OutputMode = "auto"
    description: str | None = None
    wrapper: str | None = None
    output_type: Any = Field(default=None, exclude=True, repr=False)

    @classmethod
    def of(cls, output_type: Any, *, mode: OutputMode = "auto") -> OutputSchema:
        """The schema for ``output_type``: a pydantic model, a dataclass, a TypedDict, a
        plain type or union (``list[str]``, ``Literal[...]``, ``int``, ``A | B``), or a
        JSON Schema dict. Built once per type and mode, then reused.

        Raises:
            ConfigurationError: If no JSON Schema can be made for the type, or the mode
                is unknown.
        """
        from aether.llm._output_types import output_schema

        return output_schema(output_type, mode)

    def with_mode(self, mode: OutputMode) -> OutputSchema:
        """This schema with another mode (itself when the mode is the same)."""
        return self if mode == self.mode else self.model_copy(update={"mode": mode})


def prompted_instructions(schema: OutputSchema) -> str:
    """The instructions that ask a model for JSON following ``schema`` in plain text."""
    from aether.llm._output_types import schema_text

    return (
        "Answer with a single JSON value that follows this JSON Schema, and nothing else: "
        "no prose, no Markdown fence.\n\n" + schema_text(schema.json_schema)
    )
