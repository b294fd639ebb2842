"""Counts in sentences agree with their nouns."""

from __future__ import annotations

import pytest

from ddbpipe.wording import plural


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (1, "worker", "1 worker"),
        (2, "worker", "2 workers"),
        (0, "item", "0 items"),
        (1, "bad line", "1 bad line"),
        (3, "bad line", "3 bad lines"),
        (1, "backup run", "1 backup run"),
        (2, "backup run", "2 backup runs"),
        (12_000, "item", "12,000 items"),
        (2, "entry", "2 entries"),
        (2, "day", "2 days"),
        (2, "match", "2 matches"),
        (2, "index", "2 indexes"),
        (2, "is", "2 are"),
    ],
)
def test_the_noun_agrees_with_the_count(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


def test_an_irregular_plural_is_given() -> None:
    assert plural(1, "data file", "data files") == "1 data file"
    assert plural(5, "child", "children") == "5 children"
