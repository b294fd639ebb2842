"""Policy variables and wildcards in the strings of an IAM policy.

A policy string is read into a sequence of tokens: literal text and the two
wildcards, ``*`` (any run of characters) and ``?`` (one character). Under policy
language version ``2012-10-17`` a ``${key}`` takes the single value of that request
condition key, ``${key, 'default'}`` falls back to ``default`` when the key has no
value, and ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters. Text that
comes from a variable is always literal, so a user name holding ``*`` is never a
wildcard. Under ``2008-10-17`` there are no variables: ``${aws:username}`` is text.

A string whose variable has no value (and no default) cannot be resolved: a
``Resource`` holding it matches no resource, and a condition value holding it
matches no request value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = [
    "ANY_RUN",
    "ONE_CHAR",
    "Token",
    "Variable",
    "Wildcard",
    "arn_regex",
    "glob_regex",
    "has_variable",
    "literal_text",
    "parse_tokens",
    "resolve",
]


@dataclass(frozen=True)
class Wildcard:
    """``*`` (``char="*"``) or ``?`` (``char="?"``) written in the policy."""

    char: str


@dataclass(frozen=True)
class Variable:
    """``${name}`` or ``${name, 'default'}``."""

    name: str
    default: str | None


ANY_RUN: Final = Wildcard("*")
ONE_CHAR: Final = Wildcard("?")

# What a string resolves to: literal text and the wildcards.
Token = str | Wildcard
_Part = str | Wildcard | Variable

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_VARIABLE = re.compile(r"\$\{\s*([^{}',]+?)\s*(?:,\s*'([^']*)'\s*)?\}")


def parse_tokens(text: str, *, variables: bool) -> tuple[_Part, ...]:
    """Split ``text`` into literal text, wildcards and (when ``variables``) variables."""
    parts: list[_Part] = []
    position = 0
    if variables:
        for match in _VARIABLE.finditer(text):
            parts.extend(_split_wildcards(text[position : match.start()]))
            name, default = match.group(1), match.group(2)
            escaped = _ESCAPES.get(name) if default is None else None
            parts.append(escaped if escaped is not None else Variable(name, default))
            position = match.end()
    parts.extend(_split_wildcards(text[position:]))
    return tuple(parts)


def has_variable(text: str) -> bool:
    """Whether ``text`` holds a policy variable (other than the ``${*}`` escapes)."""
    return any(isinstance(part, Variable) for part in parse_tokens(text, variables=True))


def _split_wildcards(text: str) -> list[_Part]:
    parts: list[_Part] = []
    start = 0
    for index, char in enumerate(text):
        if char in "*?":
            if start < index:
                parts.append(text[start:index])
            parts.append(ANY_RUN if char == "*" else ONE_CHAR)
            start = index + 1
    if start < len(text):
        parts.append(text[start:])
    return parts


def resolve(
    text: str, lookup: Callable[[str], str | None], *, variables: bool
) -> tuple[Token, ...] | None:
    """The tokens of ``text`` with each variable replaced by ``lookup(name)``.

    ``lookup`` gives the single value of a condition key, or ``None`` when the request
    has no single value for it. The result is ``None`` when a variable without a
    default has no value.
    """
    tokens: list[Token] = []
    for part in _cached_parts(text, variables):
        if isinstance(part, Variable):
            value = lookup(part.name)
            if value is None:
                value = part.default
            if value is None:
                return None
            tokens.append(value)
        else:
            tokens.append(part)
    return tuple(tokens)


@lru_cache(maxsize=4096)
def _cached_parts(text: str, variables: bool) -> tuple[_Part, ...]:
    return parse_tokens(text, variables=variables)


def literal_text(tokens: Sequence[Token]) -> str:
    """The tokens as plain text: each wildcard stands for its own character."""
    return "".join(token.char if isinstance(token, Wildcard) else token for token in tokens)


@lru_cache(maxsize=4096)
def glob_regex(tokens: tuple[Token, ...], ignore_case: bool = False) -> re.Pattern[str]:
    """A regex for the whole string: ``*`` is any run of characters, ``?`` any one."""
    body = "".join(
        (".*" if token.char == "*" else ".") if isinstance(token, Wildcard) else re.escape(token)
        for token in tokens
    )
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=4096)
def arn_regex(tokens: tuple[Token, ...]) -> re.Pattern[str]:
    """A regex that matches an ARN component by component.

    An ARN has six components split by the first five colons; the last one (the
    resource part) may itself hold colons. A wildcard matches within its own
    component only, except in the pattern's last component, which takes the rest of
    the ARN: so ``*`` alone matches everything and ``arn:aws:s3:::bucket/*`` any key.
    """
    last = min(5, sum(token.count(":") for token in tokens if isinstance(token, str)))
    component = 0
    pieces: list[str] = []
    for token in tokens:
        if isinstance(token, Wildcard):
            inner = component >= last
            if token.char == "*":
                pieces.append(".*" if inner else "[^:]*")
            else:
                pieces.append("." if inner else "[^:]")
        else:
            pieces.append(re.escape(token))
            component += token.count(":")
    return re.compile("".join(pieces), re.DOTALL)
