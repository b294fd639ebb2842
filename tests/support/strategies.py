"""Hypothesis strategies for DynamoDB items in wire form."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

from ddbpipe.items import normalize_number

# Any Unicode scalar value: surrogates cannot be encoded as UTF-8, so DynamoDB never holds them.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=24)
# Characters that JSON writers tend to get wrong.
TRICKY = st.sampled_from(["\u2028", "\u2029", "\u0085", "\x00", "\x02", "\x7f", "😀", '"', "\\"])
STRINGS = st.one_of(TEXT, st.lists(st.one_of(TRICKY, TEXT), max_size=6).map("".join))
NAMES = STRINGS.filter(bool)


@st.composite
def numbers(draw: st.DrawFn) -> str:
    """A DynamoDB number as it comes back from DynamoDB: up to 38 digits, plain notation."""
    digits = draw(st.integers(min_value=1, max_value=38))
    significant = str(draw(st.integers(min_value=10 ** (digits - 1), max_value=10**digits - 1)))
    significant = significant.rstrip("0") or "0"
    point = draw(st.integers(min_value=-20, max_value=45))
    sign = draw(st.sampled_from(["", "-"]))
    if point <= 0:
        text = "0." + "0" * -point + significant
    elif point >= len(significant):
        text = significant + "0" * (point - len(significant))
    else:
        text = significant[:point] + "." + significant[point:]
    return sign + text


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BINARY = st.binary(max_size=48).map(_b64)
ALL_BYTES = st.just(_b64(bytes(range(256))))
SCALARS: st.SearchStrategy[dict[str, Any]] = st.one_of(
    STRINGS.map(lambda s: {"S": s}),
    numbers().map(lambda n: {"N": n}),
    st.one_of(BINARY, ALL_BYTES).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(STRINGS, min_size=1, max_size=5, unique=True).map(lambda v: {"SS": v}),
    st.lists(numbers(), min_size=1, max_size=5, unique_by=normalize_number).map(
        lambda v: {"NS": v}
    ),
    st.lists(st.binary(max_size=16), min_size=1, max_size=5, unique=True).map(
        lambda v: {"BS": [_b64(b) for b in v]}
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(NAMES, children, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=12,
)
ITEMS = st.dictionaries(NAMES, VALUES, min_size=1, max_size=8)


def nested(depth: int, leaf: dict[str, Any] | None = None) -> dict[str, Any]:
    """A value with ``depth`` levels of alternating maps and lists."""
    value = leaf or {"S": "bottom"}
    for level in range(depth):
        value = {"M": {f"level{level}": value}} if level % 2 else {"L": [value]}
    return value
