"""Reading a function's docstring: its summary and one description per parameter.

Three styles are understood, and may not be mixed within one docstring:

- Google: an ``Args:`` (or ``Arguments:``, ``Parameters:``, ``Keyword Args:``...)
  section of ``name: text`` or ``name (type): text`` entries.
- NumPy: a ``Parameters`` header underlined with dashes, then ``name : type`` lines
  with the text indented below.
- Sphinx: ``:param name: text`` or ``:param type name: text`` fields.

An entry's text may continue on more-indented lines; they are joined with spaces.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["ParsedDocstring", "parse_docstring"]

_GOOGLE_PARAMETER_HEADERS = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "keyword args",
        "keyword arguments",
        "kwargs",
        "other parameters",
    }
)
_GOOGLE_OTHER_HEADERS = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "exceptions",
        "examples",
        "example",
        "note",
        "notes",
        "see also",
        "warning",
        "warnings",
        "attributes",
        "references",
        "todo",
    }
)
_NUMPY_PARAMETER_HEADERS = frozenset({"parameters", "other parameters"})
_GOOGLE_HEADER = re.compile(r"^(\s*)([A-Za-z][A-Za-z ]*):\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")
_SPHINX_FIELD = re.compile(r"^:(\w+)((?:\s+[^:]+)?):\s*(.*)$")
_SPHINX_PARAMETER_FIELDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})


@dataclass(slots=True)
class ParsedDocstring:
    """What a docstring says about a function.

    Attributes:
        description: The text before the first section, paragraphs kept apart.
        parameters: Parameter name → its description, in the docstring's order.
    """

    description: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(lines: list[str]) -> str:
    return " ".join(part.strip() for part in lines if part.strip())


def _paragraphs(lines: list[str]) -> str:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(_join(paragraph) for paragraph in paragraphs if paragraph)


def _is_numpy_header(lines: list[str], index: int) -> bool:
    return (
        index + 1 < len(lines)
        and bool(lines[index].strip())
        and _NUMPY_RULE.match(lines[index + 1]) is not None
    )


def _is_google_header(line: str) -> bool:
    match = _GOOGLE_HEADER.match(line)
    if match is None:
        return False
    name = match.group(2).strip().lower()
    return name in _GOOGLE_PARAMETER_HEADERS or name in _GOOGLE_OTHER_HEADERS


def _entries(lines: list[str], start: int, entry: re.Pattern[str]) -> tuple[dict[str, str], int]:
    """Read ``name ...: text`` entries indented deeper than their section's header."""
    parameters: dict[str, str] = {}
    base: int | None = None
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        for name in names:
            parameters[name] = _join(text)

    index = start
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        indent = _indent(line)
        if base is None:
            base = indent
        if indent < base or (indent == base and _starts_section(lines, index)):
            break
        match = entry.match(line.strip()) if indent == base else None
        if match is not None:
            flush()
            names = [name.strip().lstrip("*") for name in match.group(1).split(",")]
            text = [match.group(3)] if entry is _GOOGLE_ENTRY else []
        else:
            text.append(line)
        index += 1
    flush()
    return parameters, index


def _starts_section(lines: list[str], index: int) -> bool:
    return _is_google_header(lines[index]) or _is_numpy_header(lines, index)


def _sphinx(lines: list[str], start: int) -> dict[str, str]:
    parameters: dict[str, str] = {}
    current: str | None = None
    for line in lines[start:]:
        match = _SPHINX_FIELD.match(line.strip())
        if match is not None:
            current = None
            kind, argument, text = match.groups()
            if kind in _SPHINX_PARAMETER_FIELDS and argument.strip():
                current = argument.split()[-1].lstrip("*")
                parameters[current] = text.strip()
        elif current is not None and line.strip():
            parameters[current] = _join([parameters[current], line])
    return parameters


def parse_docstring(docstring: str | None) -> ParsedDocstring:
    """Parse a Google, NumPy or Sphinx docstring into its description and parameters."""
    if not docstring or not docstring.strip():
        return ParsedDocstring()
    lines = inspect.cleandoc(docstring).splitlines()
    parsed = ParsedDocstring()
    description_end: int | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if _SPHINX_FIELD.match(line.strip()):
            description_end = index if description_end is None else description_end
            parsed.parameters.update(_sphinx(lines, index))
            break
        if _is_numpy_header(lines, index):
            description_end = index if description_end is None else description_end
            header = line.strip().lower()
            found, index = _entries(lines, index + 2, _NUMPY_ENTRY)
            if header in _NUMPY_PARAMETER_HEADERS:
                parsed.parameters.update(found)
            continue
        if _is_google_header(line):
            description_end = index if description_end is None else description_end
            header = line.strip().rstrip(":").strip().lower()
            found, index = _entries(lines, index + 1, _GOOGLE_ENTRY)
            if header in _GOOGLE_PARAMETER_HEADERS:
                parsed.parameters.update(found)
            continue
        index += 1
    parsed.description = _paragraphs(lines[:description_end])
    return parsed
