"""The eval's scoring: text normalisation and word-level edit distance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.pipelines.speech.wer import WerCount, edit_distance, normalize, word_error_rate

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spoken(n: int) -> str:
    """English words of 0 <= n < 1,000,000 (independent of the normaliser's parser)."""
    if n < 10:
        return _ONES[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _spoken(rest))
    rest = n % 1000
    return _spoken(n // 1000) + " thousand" + ("" if rest == 0 else " " + _spoken(rest))


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("set a timer for ten minutes", "Set a timer for 10 minutes."),
        ("set an alarm for seven thirty", "Set an alarm for 7:30."),
        ("remind me at five o'clock", "Remind me at 5:00."),
        ("dim the lights to fifty percent", "Dim the lights to 50%."),
        ("preheat the oven to two hundred degrees", "Preheat the oven to 200°."),
        ("the code is four two seven nine", "The code is 4279."),
        ("I am running late", "I'm running late!"),
        ("a journey of a thousand miles", "A journey of 1,000 miles"),
        ("convert fifty miles to kilometers", "Convert 50 miles to kilometres."),
        ("what is twelve times seven", "What is 12 \u00d7 7?"),
    ],
)
def test_spoken_and_written_forms_agree(reference: str, hypothesis: str) -> None:
    assert normalize(reference) == normalize(hypothesis)


def test_real_differences_still_count() -> None:
    count = word_error_rate(
        [
            ("turn off the kitchen lights", "Turn off the kitchen light."),
            ("set the thermostat to twenty one degrees", "Set the thermostat to 22 degrees."),
        ]
    )
    assert count == WerCount(errors=2, words=12)
    assert count.wer == pytest.approx(2 / 12)


@given(st.integers(min_value=0, max_value=999_999))
def test_every_number_reads_the_same_spoken_or_in_digits(n: int) -> None:
    assert normalize(f"it is {_spoken(n)} now") == normalize(f"it is {n} now")
    assert normalize(str(n)) == list(str(n))


_words = st.lists(st.sampled_from(["on", "off", "the", "light", "door", "2", "tea"]), max_size=8)


@given(_words, _words, _words)
def test_edit_distance_is_a_metric(a: list[str], b: list[str], c: list[str]) -> None:
    assert edit_distance(a, a) == 0
    assert edit_distance(a, b) == edit_distance(b, a)
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))


def test_edit_distance_counts_each_kind_of_edit() -> None:
    ref = ["turn", "on", "the", "light"]
    assert edit_distance(ref, ["turn", "off", "the", "light"]) == 1  # substitution
    assert edit_distance(ref, ["turn", "on", "the", "light", "now"]) == 1  # insertion
    assert edit_distance(ref, ["turn", "the", "light"]) == 1  # deletion
    assert edit_distance(ref, []) == 4
