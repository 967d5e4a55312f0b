"""Size strings: SI decimal, IEC binary, bare letters binary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.elastic.sizes import format_size, parse_size
from edge_agent.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("300MB", 300_000_000),
        ("1.5GiB", 1_610_612_736),
        ("512M", 512 * 1024**2),
        ("512m", 512 * 1024**2),
        ("64 KiB", 65_536),
        ("2kB", 2000),
        ("1G", 1024**3),
        ("1048576", 1_048_576),
        ("10B", 10),
        (" 0.5 MiB ", 524_288),
        (4096, 4096),
    ],
)
def test_parse_size_reads_units(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "-5MB", "1.2.3G", "1e3", "MB300"])
def test_parse_size_rejects_non_sizes(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_size(text)


def test_parse_size_rejects_negative_int() -> None:
    with pytest.raises(ConfigError):
        parse_size(-1)


@given(st.integers(min_value=0, max_value=2**50))
def test_parse_size_of_plain_digits_is_identity(n: int) -> None:
    assert parse_size(str(n)) == n


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["k", "M", "G", "KiB", "MiB"]))
def test_binary_units_agree_with_bare_letters(n: int, unit: str) -> None:
    bare = unit[0].upper()
    assert parse_size(f"{n}{unit}") == parse_size(f"{n}{bare}")


def test_format_size_uses_binary_units() -> None:
    assert format_size(1536 * 1024) == "1.5 MiB"
    assert format_size(-2048) == "-2.0 KiB"
    assert format_size(12) == "12 B"
