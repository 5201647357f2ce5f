from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from aether.tools.schema import parse_docstring


def test_google_args_section_gives_each_parameter_its_description() -> None:
    parsed = parse_docstring(
        """Look up a customer.

        Args:
            customer_id: Internal customer ID (UUID).
            verbose (bool): Whether to include
                the order history.

        Returns:
            The customer.
        """
    )
    assert parsed.description == "Look up a customer."
    assert parsed.parameters == {
        "customer_id": "Internal customer ID (UUID).",
        "verbose": "Whether to include the order history.",
    }


def test_google_docstring_with_only_an_args_section_has_no_description() -> None:
    parsed = parse_docstring(
        """
        Args:
            customer_id: Internal customer ID (UUID).
        """
    )
    assert parsed.description == ""
    assert parsed.parameters == {"customer_id": "Internal customer ID (UUID)."}


def test_google_sections_other_than_args_add_no_parameters() -> None:
    parsed = parse_docstring(
        """Do it.

        Raises:
            ValueError: When it cannot.
        Keyword Args:
            retries: How many times.
        """
    )
    assert parsed.parameters == {"retries": "How many times."}


def test_numpy_parameters_section_gives_each_parameter_its_description() -> None:
    parsed = parse_docstring(
        """Add two numbers.

        Parameters
        ----------
        a : int
            The first number.
        b : int, optional
            The second number,
            which may be omitted.
        x, y : float
            Coordinates.

        Returns
        -------
        int
            The sum.
        """
    )
    assert parsed.description == "Add two numbers."
    assert parsed.parameters == {
        "a": "The first number.",
        "b": "The second number, which may be omitted.",
        "x": "Coordinates.",
        "y": "Coordinates.",
    }


def test_sphinx_param_fields_give_each_parameter_its_description() -> None:
    parsed = parse_docstring(
        """Add two numbers.

        :param a: The first number.
        :param int b: The second number,
            continued here.
        :type a: int
        :returns: The sum.
        """
    )
    assert parsed.description == "Add two numbers."
    assert parsed.parameters == {
        "a": "The first number.",
        "b": "The second number, continued here.",
    }


def test_description_keeps_paragraphs_and_joins_wrapped_lines() -> None:
    parsed = parse_docstring(
        """First line
        wrapped.

        Second paragraph.
        """
    )
    assert parsed.description == "First line wrapped.\n\nSecond paragraph."


def test_missing_docstring_parses_to_nothing() -> None:
    assert parse_docstring(None).parameters == {}
    assert parse_docstring("   ").description == ""


_names = st.text(string.ascii_lowercase, min_size=1, max_size=8).map(lambda s: f"p_{s}")
_words = st.lists(
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=8), min_size=1, max_size=6
).map(" ".join)
_parameters = st.dictionaries(_names, _words, min_size=1, max_size=5)


@given(_parameters)
def test_google_round_trip_recovers_every_description(parameters: dict[str, str]) -> None:
    lines = ["Summary.", "", "Args:"] + [f"    {n}: {d}" for n, d in parameters.items()]
    assert parse_docstring("\n".join(lines)).parameters == parameters


@given(_parameters)
def test_numpy_round_trip_recovers_every_description(parameters: dict[str, str]) -> None:
    lines = ["Summary.", "", "Parameters", "----------"]
    for name, text in parameters.items():
        lines += [f"{name} : str", f"    {text}"]
    assert parse_docstring("\n".join(lines)).parameters == parameters


@given(_parameters)
def test_sphinx_round_trip_recovers_every_description(parameters: dict[str, str]) -> None:
    lines = ["Summary.", ""] + [f":param {n}: {d}" for n, d in parameters.items()]
    assert parse_docstring("\n".join(lines)).parameters == parameters
