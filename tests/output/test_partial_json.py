"""The incremental parser behind ``chunk.partial``: what a prefix of JSON text holds."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aether.llm._partial_json import PartialJSON
from tests.output._models import Color, Invoice, Item


def _compatible(partial: Any, final: Any) -> bool:
    """Whether ``partial`` could still become ``final`` (it contradicts nothing in it)."""
    if isinstance(partial, dict):
        return isinstance(final, dict) and all(
            key in final and _compatible(value, final[key]) for key, value in partial.items()
        )
    if isinstance(partial, list):
        return (
            isinstance(final, list)
            and len(partial) <= len(final)
            and all(_compatible(item, whole) for item, whole in zip(partial, final, strict=False))
        )
    if isinstance(partial, str):
        return isinstance(final, str) and final.startswith(partial)
    return type(partial) is type(final) and partial == final


def _feed_in(text: str, cuts: list[int]) -> list[Any]:
    parser = PartialJSON()
    seen = []
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        parser.feed(text[start:cut])
        start = cut
        seen.append(parser.value)
    return seen


def test_it_reads_an_object_fed_in_pieces() -> None:
    parser = PartialJSON()
    pieces = ['{"na', 'me": "Ad', 'a", "age": 3', "6, ", '"tags": ["x", "y"', "]}"]
    values = []
    for piece in pieces:
        parser.feed(piece)
        values.append(parser.value)
    assert values == [
        {},
        {"name": "Ad"},
        {"name": "Ada"},
        {"name": "Ada", "age": 36},
        {"name": "Ada", "age": 36, "tags": ["x", "y"]},
        {"name": "Ada", "age": 36, "tags": ["x", "y"]},
    ]
    assert parser.done


def test_a_number_or_literal_shows_only_once_it_ends() -> None:
    parser = PartialJSON()
    assert parser.feed('{"n": 12')
    assert parser.value == {}
    parser.feed('3, "ok": tru')
    assert parser.value == {"n": 123}
    parser.feed("e}")
    assert parser.value == {"n": 123, "ok": True}


def test_feed_says_whether_the_value_changed() -> None:
    parser = PartialJSON()
    assert parser.feed("{")
    first = parser.value
    assert not parser.feed('"key')  # a key alone changes nothing yet
    assert not parser.feed('": ')
    assert parser.value is first  # unchanged: the same object, no copy
    assert parser.feed('"v')
    assert parser.value == {"key": "v"}


def test_text_before_the_object_and_after_it_is_skipped() -> None:
    text = 'Sure! ```json\n{"a": [1, {"b": null}]}\n``` Anything else?'
    assert _feed_in(text, [3, 17, 30]) == [None, {}, {"a": [1, {}]}, {"a": [1, {"b": None}]}]


def test_an_escape_cut_between_chunks_is_held_back() -> None:
    text = json.dumps({"s": 'say "hi"\n\u00e9\U0001f600'}, ensure_ascii=True)
    for cut in range(1, len(text)):
        seen = _feed_in(text, [cut])
        assert _compatible(seen[0], json.loads(text)), (cut, seen[0])
        assert seen[-1] == json.loads(text)


def test_text_that_stops_being_json_freezes_the_value() -> None:
    parser = PartialJSON()
    parser.feed('{"a": 1, "b": [2, ')
    parser.feed("oops]}")
    assert parser.failed
    assert parser.value == {"a": 1, "b": [2]}
    assert not parser.feed('{"c": 3}')


def test_a_value_handed_out_is_never_changed_afterwards() -> None:
    parser = PartialJSON()
    parser.feed('{"items": [{"name": "wid')
    early = parser.value
    kept = copy.deepcopy(early)
    parser.feed('get", "qty": 2}, {"name": "bolt"}], "total": 3}')
    assert early == kept
    assert parser.value == {"items": [{"name": "widget", "qty": 2}, {"name": "bolt"}], "total": 3}


_items = st.builds(
    Item,
    name=st.text(max_size=40),
    quantity=st.integers(min_value=1, max_value=10**12),
    unit_price=st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    color=st.none() | st.sampled_from(Color),
    tags=st.lists(st.text(max_size=8), max_size=3),
)
_invoices = st.builds(
    Invoice,
    customer=st.text(),
    items=st.lists(_items, max_size=4),
    paid=st.booleans(),
    note=st.none() | st.text(),
)


@settings(max_examples=60, deadline=None)
@given(invoice=_invoices, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]))
def test_every_prefix_of_a_model_never_contradicts_the_final_object(
    invoice: Invoice, ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(invoice.model_dump(mode="json"), ensure_ascii=ascii_only, indent=indent)
    final = json.loads(text)
    parser = PartialJSON()
    for char in text:  # one character at a time: every prefix of the text
        parser.feed(char)
        assert _compatible(parser.value, final)
    assert parser.value == final
    assert Invoice.model_validate(parser.value) == invoice


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(
    value=st.dictionaries(st.text(), _json, max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30),
)
def test_any_object_cut_anywhere_reads_back_whole(value: dict[str, Any], cuts: list[int]) -> None:
    text = json.dumps(value)
    cuts = [cut for cut in cuts if cut <= len(text)]
    seen = _feed_in(text, cuts)
    final = json.loads(text)  # duplicate keys aside, what json itself reads
    assert all(_compatible(partial, final) for partial in seen if partial is not None)
    assert seen[-1] == final
