"""Word error rate with the text normaliser the speech family is scored by.

Whisper writes "Set a timer for 10 minutes." where the reference says "set a
timer for ten minutes": both must come out the same before words are counted.
The normaliser, in order:

1. Unicode NFKC, lower case, the typographic apostrophe (U+2019) as ``'``.
2. Symbols spoken as words: ``%`` percent, ``°`` degrees, ``&`` and, ``+`` plus,
   the multiplication sign (U+00D7) times, ``$``/``£``/``€`` dollars/pounds/euros
   (after the number).
3. Clock times: ``5:00`` -> ``5``, and ``o'clock`` is dropped (``five o'clock``,
   ``5 o'clock`` and ``5:00`` are the same time); ``7:30`` and ``7.30`` -> ``7 30``.
4. Contractions expanded (``i'm`` -> ``i am``, ``what's`` -> ``what is``...), a few
   British spellings made American (``kilometres`` -> ``kilometers``), ``ok`` -> ``okay``.
5. Hyphens and punctuation become spaces; apostrophes inside words are removed.
6. Numbers are compared **digit by digit**: runs of number words are read as
   numbers (``twenty one`` -> 21, ``two hundred`` -> 200, ``a thousand`` -> 1000,
   ``four two seven nine`` -> 4 2 7 9: a word that cannot extend the number
   starts the next one), digits are kept, and every number is then written as its
   digits, one token each (``21`` -> ``2 1``). So ``4279`` and ``four two seven
   nine`` agree, and a wrong digit costs one token.

The edit distance is the word-level Levenshtein distance (substitutions,
insertions and deletions each cost 1); WER = edits / reference tokens, summed
over a corpus before dividing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["WerCount", "edit_distance", "normalize", "word_error_rate"]

_UNITS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
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
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
_SCALES = {"thousand": 1000, "million": 1_000_000}
_CONTRACTIONS = {
    "i'm": "i am",
    "it's": "it is",
    "what's": "what is",
    "that's": "that is",
    "there's": "there is",
    "here's": "here is",
    "where's": "where is",
    "who's": "who is",
    "how's": "how is",
    "let's": "let us",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "aren't": "are not",
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "we're": "we are",
    "you're": "you are",
    "they're": "they are",
    "i'll": "i will",
    "you'll": "you will",
    "we'll": "we will",
    "it'll": "it will",
    "i've": "i have",
    "we've": "we have",
    "i'd": "i would",
}
_SPELLING = {
    "kilometres": "kilometers",
    "kilometre": "kilometer",
    "colour": "color",
    "colours": "colors",
    "centre": "center",
    "grey": "gray",
    "ok": "okay",
}
_SYMBOLS = {"%": " percent ", "°": " degrees ", "&": " and ", "+": " plus ", "\u00d7": " times "}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}


def _extends(current: int, value: int) -> bool:
    """Whether number word ``value`` continues the number ``current`` (``twenty`` + ``one``)."""
    rest = current % 100
    if current >= 100 and rest == 0:
        return value < 100  # two hundred + twenty
    return rest >= 20 and rest % 10 == 0 and 0 < value < 10  # twenty + one


def _number_tokens(words: list[str]) -> list[str]:
    """Read runs of number words (and digits) as numbers written digit by digit."""
    out: list[str] = []
    total = 0  # thousands and millions already closed
    current: int | None = None  # the part below the last scale
    started = False

    def flush() -> None:
        nonlocal total, current, started
        if started:
            out.extend(str(total + (current or 0)))
        total, current, started = 0, None, False

    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word == "a" and not started and nxt in ("hundred", *_SCALES):
            current, started = 1, True  # a hundred, a thousand
            continue
        if word.isdigit():
            flush()
            out.extend(word)
            continue
        value = _UNITS.get(word, _TENS.get(word))
        if value is not None:
            if current is not None and not _extends(current, value):
                flush()
            current = value if current is None else current + value
            started = True
            continue
        if word == "hundred" and current is not None and current < 100:
            current *= 100
            continue
        if word in _SCALES and started:
            total += (current if current is not None else 1) * _SCALES[word]
            current = None
            continue
        flush()
        out.append(word)
    flush()
    return out


def normalize(text: str) -> list[str]:
    """The tokens ``text`` is scored on (see the module docstring)."""
    s = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    for symbol, spoken in _SYMBOLS.items():
        s = s.replace(symbol, spoken)
    for symbol, name in _CURRENCY.items():
        s = re.sub(rf"\{symbol}\s*(\d+(?:[.,]\d+)?)", rf"\1 {name}", s)
    s = re.sub(r"\b(\d{1,2}):00\b", r"\1", s)
    s = re.sub(r"\b(\d{1,2})[:.](\d{2})\b", r"\1 \2", s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # 1,000 -> 1000
    s = re.sub(r"(?<=\d)\s*/\s*(?=\d)", " divided by ", s)  # 100/4
    s = re.sub(r"\b(\d+)\.(\d+)\b", r"\1 point \2", s)
    s = re.sub(r"\bo'?clock\b", " ", s)
    s = re.sub(r"\b(a\.m\.|am)\b", " am ", s)
    s = re.sub(r"\b(p\.m\.|pm)\b", " pm ", s)
    words = []
    for raw in re.split(r"[^\w']+", s):
        word = raw.strip("'")
        if not word:
            continue
        expanded = _CONTRACTIONS.get(word, word)
        for part in expanded.split():
            bare = part.replace("'", "")
            words.append(_SPELLING.get(bare, bare))
    return _number_tokens([w for w in words if w and w != "_"])


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitution, insertion, deletion cost 1 each)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, 1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref != hyp),  # substitution or match
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True, slots=True)
class WerCount:
    """Edits and reference tokens of a corpus.

    Attributes:
        errors: Word edits (after normalisation).
        words: Reference tokens (after normalisation).
    """

    errors: int
    words: int

    @property
    def wer(self) -> float:
        """Word error rate (0.0 for an empty reference)."""
        return self.errors / self.words if self.words else 0.0

    def __add__(self, other: WerCount) -> WerCount:
        return WerCount(self.errors + other.errors, self.words + other.words)


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> WerCount:
    """Corpus word error rate of ``(reference, hypothesis)`` pairs."""
    total = WerCount(0, 0)
    for reference, hypothesis in pairs:
        ref = normalize(reference)
        total += WerCount(edit_distance(ref, normalize(hypothesis)), len(ref))
    return total
