"""The cap on what a session sends: newest turns kept, whole turns dropped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether import ConfigurationError
from aether.llm.contracts import Message
from aether.memory import HistoryWindow, approximate_tokens


def turns(count: int) -> list[Message]:
    history = []
    for index in range(count):
        history.append(Message(role="user", content=f"q{index}"))
        history.append(Message(role="assistant", content=f"a{index}"))
    return history


def test_no_cap_keeps_everything() -> None:
    assert HistoryWindow().select(turns(3)) == turns(3)


def test_max_messages_keeps_the_newest() -> None:
    assert HistoryWindow(max_messages=4).select(turns(3)) == turns(3)[2:]


def test_an_odd_cap_never_starts_with_an_assistant_message() -> None:
    assert HistoryWindow(max_messages=3).select(turns(3)) == turns(3)[4:]


def test_max_messages_zero_sends_no_history() -> None:
    assert HistoryWindow(max_messages=0).select(turns(3)) == []


def test_max_tokens_counts_the_fixed_messages_too() -> None:
    window = HistoryWindow(max_tokens=5, count_tokens=lambda _: 1)
    fixed = [Message(role="system", content="s"), Message(role="user", content="new")]
    assert window.select(turns(3), fixed=fixed) == turns(3)[4:]


def test_fixed_messages_over_budget_leave_no_history() -> None:
    window = HistoryWindow(max_tokens=1, count_tokens=lambda _: 10)
    assert window.select(turns(3), fixed=[Message(role="user", content="x")]) == []


def test_approximate_tokens_grows_with_the_text() -> None:
    short = approximate_tokens(Message(role="user", content="hi"))
    long = approximate_tokens(Message(role="user", content="hi " * 100))
    assert short == 5
    assert long == 4 + 75


def test_negative_caps_are_refused_together() -> None:
    with pytest.raises(ConfigurationError) as caught:
        HistoryWindow(max_messages=-1, max_tokens=0)
    assert len(caught.value.problems) == 2


@settings(deadline=None, max_examples=200)
@given(
    turn_count=st.integers(min_value=0, max_value=12),
    max_messages=st.none() | st.integers(min_value=0, max_value=30),
    max_tokens=st.none() | st.integers(min_value=1, max_value=60),
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=24, max_size=24),
)
def test_the_kept_part_is_the_longest_fitting_suffix_that_starts_with_a_user_turn(
    turn_count: int, max_messages: int | None, max_tokens: int | None, sizes: list[int]
) -> None:
    history = turns(turn_count)
    cost = {message.content: sizes[index] for index, message in enumerate(history)}
    fixed = [Message(role="user", content="new")]
    window = HistoryWindow(
        max_messages=max_messages,
        max_tokens=max_tokens,
        count_tokens=lambda message: cost.get(message.content, 2),
    )

    def fits(part: list[Message]) -> bool:
        if max_messages is not None and len(part) > max_messages:
            return False
        total = sum(window.count_tokens(message) for message in [*part, *fixed])
        return max_tokens is None or total <= max_tokens

    kept = window.select(history, fixed=fixed)
    assert kept == history[len(history) - len(kept) :]
    assert not kept or kept[0].role == "user"
    assert not kept or fits(kept)
    longer = [
        history[start:]
        for start in range(0, len(history) - len(kept))
        if history[start].role == "user"
    ]
    assert not any(fits(candidate) for candidate in longer)
