"""Compare items the way DynamoDB does: set order and number spelling carry no meaning."""

from __future__ import annotations

from typing import Any

from ddbpipe.items import normalize_number


def canonical_value(value: dict[str, Any]) -> Any:
    """A comparable form of one wire-form value."""
    ((kind, data),) = value.items()
    if kind == "N":
        return ("N", normalize_number(data))
    if kind == "NS":
        return ("NS", frozenset(normalize_number(n) for n in data))
    if kind in ("SS", "BS"):
        return (kind, frozenset(data))
    if kind == "M":
        return ("M", {k: canonical_value(v) for k, v in data.items()})
    if kind == "L":
        return ("L", [canonical_value(v) for v in data])
    return (kind, data)


def canonical(item: dict[str, Any]) -> dict[str, Any]:
    """A comparable form of one item."""
    return {name: canonical_value(value) for name, value in item.items()}


def canonical_set(items: list[dict[str, Any]], key: str = "pk") -> dict[Any, dict[str, Any]]:
    """Items keyed by ``key``'s canonical value; fails on duplicate keys."""
    out = {canonical_value(i[key]): canonical(i) for i in items}
    assert len(out) == len(items), "duplicate keys"
    return out
