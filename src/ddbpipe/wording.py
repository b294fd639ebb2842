"""Counts in sentences: ``1 worker``, ``2 workers``, ``12,000 items``."""

from __future__ import annotations

__all__ = ["plural"]

_IRREGULAR = {"is": "are", "was": "were", "has": "have"}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun that agrees with it, with thousands separators."""
    if count == 1:
        return f"1 {singular}"
    word = plural_form or _IRREGULAR.get(singular) or _plural_of(singular)
    return f"{count:,} {word}"


def _plural_of(noun: str) -> str:
    """The regular English plural of the last word of ``noun``."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return f"{noun}es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return f"{noun[:-1]}ies"
    return f"{noun}s"
