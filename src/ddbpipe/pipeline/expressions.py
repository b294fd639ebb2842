"""The ``#{…}`` expressions of pipeline definitions: parse once, evaluate many times.

A string field holds text with any number of ``#{expr}``. An expression is made of

- names and dotted references: ``myVar``, ``@scheduledStartTime``, ``output.directoryPath``,
  ``node.@scheduledStartTime``, ``parent.@id`` (a leading ``*`` is allowed, for masked
  parameters such as ``*myPassword``);
- strings in double or single quotes, where a backslash takes the next character as it
  is (``"say \\"hi\\""``, ``'YYYY-MM-dd'``);
- whole numbers (``30``, ``-1``) and decimals (``0.25``), kept as ``int`` and ``Decimal``;
- function calls, nested as deep as needed:
  ``format(minusMinutes(@scheduledStartTime,30),'YYYY-MM-dd hh:mm:ss')``;
- ``+``, which joins values as text (non-strings are converted first);
- parentheses for grouping.

Lists expand element by element: with ``myList`` = ``["one", "two"]``,
``#{'this is ' + myList}`` gives ``this is one`` and ``this is two``. When several
lists meet, every combination is produced, in order.

The evaluator knows nothing of pipeline objects: it asks a ``Scope`` to resolve each
dotted name, so one evaluator serves definition fields, runtime fields and references
followed across objects.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol, TypeAlias

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.functions import FUNCTIONS, FunctionError, Scalar, Value, to_text

__all__ = [
    "ExpressionError",
    "MappingScope",
    "ResolveError",
    "Scalar",
    "Scope",
    "Template",
    "Value",
]

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_PARSED_TEMPLATES = 8192  # parsed templates kept: the fields of many definitions


class ExpressionError(ConfigError):
    """An expression that cannot be parsed or evaluated.

    ``object_id`` and ``field`` name where it was written (when known), ``position`` is
    the 1-based character in the field's text, ``reason`` says what was expected or
    what went wrong.
    """

    def __init__(
        self,
        reason: str,
        *,
        position: int,
        object_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.position = position
        self.object_id = object_id
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.object_id is not None:
            where.append(f"object {self.object_id!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{self.reason} at character {self.position}"

    def located(self, object_id: str | None, field: str | None) -> ExpressionError:
        """A copy of this error naming ``object_id`` and ``field``."""
        return ExpressionError(
            self.reason, position=self.position, object_id=object_id, field=field
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_expression_error, (self.reason, self.position, self.object_id, self.field))


def _rebuild_expression_error(
    reason: str, position: int, object_id: str | None, field: str | None
) -> ExpressionError:
    return ExpressionError(reason, position=position, object_id=object_id, field=field)


class ResolveError(Exception):
    """Raised by a ``Scope`` for a name it cannot resolve; the message says why."""


class Scope(Protocol):
    """Gives the value of a dotted name such as ``("output", "directoryPath")``."""

    def resolve(self, name: tuple[str, ...]) -> Value:
        """The value of ``name``; raises ``ResolveError`` when there is none."""
        ...


@dataclass(frozen=True)
class MappingScope:
    """A scope over a mapping of dotted names (``"output.directoryPath"``) to values."""

    values: Mapping[str, Value]

    def resolve(self, name: tuple[str, ...]) -> Value:
        """The value stored under the dotted ``name``."""
        dotted = ".".join(name)
        try:
            return self.values[dotted]
        except KeyError:
            raise ResolveError(f"{dotted!r} is not defined") from None


# --- syntax tree --------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    value: Scalar
    position: int


@dataclass(frozen=True)
class _Reference:
    parts: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Node, ...]
    position: int


@dataclass(frozen=True)
class _Concat:
    parts: tuple[_Node, ...]
    position: int


_Node: TypeAlias = _Literal | _Reference | _Call | _Concat


# --- parser -------------------------------------------------------------------------


class _Parser:
    """A recursive-descent parser over one field's text, starting after ``#{``."""

    def __init__(self, text: str, start: int) -> None:
        self.text = text
        self.index = start

    def fail(self, reason: str, index: int | None = None) -> ExpressionError:
        return ExpressionError(reason, position=(self.index if index is None else index) + 1)

    def peek(self) -> str:
        self.skip_spaces()
        return self.text[self.index] if self.index < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.index < len(self.text) and self.text[self.index] in " \t":
            self.index += 1

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = self.peek()
            seen = f"found {found!r}" if found else "found the end of the text"
            raise self.fail(f"expected {what}, {seen}")
        self.index += 1

    def expression(self) -> _Node:
        start = self.index
        parts = [self.primary()]
        while self.peek() == "+":
            self.index += 1
            parts.append(self.primary())
        if len(parts) == 1:
            return parts[0]
        return _Concat(tuple(parts), start + 1)

    def primary(self) -> _Node:
        char = self.peek()
        start = self.index
        if char in ("'", '"'):
            return _Literal(self.string(char), start + 1)
        if char in _DIGITS or (
            char == "-" and self.text[self.index + 1 : self.index + 2].isdigit()
        ):
            return _Literal(self.number(), start + 1)
        if char == "(":
            self.index += 1
            inner = self.expression()
            self.expect(")", "')'")
            return inner
        if char and (char in _NAME_START or char in "@*"):
            return self.name_or_call()
        found = f"found {char!r}" if char else "found the end of the text"
        raise self.fail(f"expected a name, a string, a number or '(', {found}")

    def string(self, quote: str) -> str:
        start = self.index
        self.index += 1
        out: list[str] = []
        while self.index < len(self.text):
            char = self.text[self.index]
            if char == "\\" and self.index + 1 < len(self.text):
                out.append(self.text[self.index + 1])
                self.index += 2
                continue
            if char == quote:
                self.index += 1
                return "".join(out)
            if char in "\r\n":
                break
            out.append(char)
            self.index += 1
        raise self.fail(f"string is not closed: expected {quote}", start)

    def number(self) -> int | Decimal:
        start = self.index
        if self.text[self.index] == "-":
            self.index += 1
        while self.index < len(self.text) and self.text[self.index] in _DIGITS:
            self.index += 1
        if (
            self.index + 1 < len(self.text)
            and self.text[self.index] == "."
            and self.text[self.index + 1] in _DIGITS
        ):
            self.index += 1
            while self.index < len(self.text) and self.text[self.index] in _DIGITS:
                self.index += 1
            return Decimal(self.text[start : self.index])
        return int(self.text[start : self.index])

    def name(self) -> str:
        start = self.index
        if self.index < len(self.text) and self.text[self.index] in "@*":
            self.index += 1
        if self.index >= len(self.text) or self.text[self.index] not in _NAME_START:
            raise self.fail("expected a name", self.index)
        while self.index < len(self.text) and self.text[self.index] in _NAME_CHARS:
            self.index += 1
        return self.text[start : self.index]

    def name_or_call(self) -> _Node:
        start = self.index
        first = self.name()
        if self.peek() == "(":
            return self.call(first, start)
        parts = [first]
        while self.index < len(self.text) and self.text[self.index] == ".":
            self.index += 1
            parts.append(self.name())
        return _Reference(tuple(parts), start + 1)

    def call(self, name: str, start: int) -> _Call:
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.fail(f"unknown function {name}()", start)
        self.index += 1  # the "("
        args: list[_Node] = []
        if self.peek() != ")":
            args.append(self.expression())
            while self.peek() == ",":
                self.index += 1
                args.append(self.expression())
        self.expect(")", "',' or ')'")
        if len(args) != function.arity:
            raise self.fail(f"{name}() takes {function.arity} arguments, not {len(args)}", start)
        return _Call(name, tuple(args), start + 1)


# --- templates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A field's text split into literal text and parsed ``#{…}`` expressions."""

    text: str
    segments: tuple[str | _Node, ...]
    object_id: str | None = None
    field: str | None = None

    @classmethod
    def parse(
        cls, text: str, *, object_id: str | None = None, field: str | None = None
    ) -> Template:
        """Parse ``text``; raises ``ExpressionError`` naming the object, field and position.

        A template is immutable, so each (text, object, field) is parsed once and kept:
        a server reads and checks the same definitions' fields again and again."""
        return _parse_template(text, object_id, field)

    @property
    def is_literal(self) -> bool:
        """Whether the text holds no expression."""
        return all(isinstance(segment, str) for segment in self.segments)

    def references(self) -> frozenset[str]:
        """Every dotted name the expressions use, such as ``output.directoryPath``."""
        return frozenset(
            ".".join(node.parts) for node in self._nodes() if isinstance(node, _Reference)
        )

    def functions(self) -> frozenset[str]:
        """The names of the functions the expressions call."""
        return frozenset(node.name for node in self._nodes() if isinstance(node, _Call))

    def _nodes(self) -> Iterator[_Node]:
        stack = [segment for segment in self.segments if not isinstance(segment, str)]
        while stack:
            node = stack.pop()
            yield node
            if isinstance(node, _Call | _Concat):
                stack.extend(node.args if isinstance(node, _Call) else node.parts)

    def render(self, scope: Scope) -> str:
        """The text with every expression replaced by its value.

        Raises ``ExpressionError`` when an expression fails or when a list makes the
        field more than one value (use ``render_all`` for those).
        """
        values = self.render_all(scope)
        if len(values) != 1:
            raise ExpressionError(
                f"the text gives {len(values)} values where one is needed",
                position=1,
                object_id=self.object_id,
                field=self.field,
            )
        return values[0]

    def render_all(self, scope: Scope) -> tuple[str, ...]:
        """Every value of the text: one, or one per combination of list elements."""
        choices: list[Sequence[str]] = []
        for segment in self.segments:
            if isinstance(segment, str):
                choices.append((segment,))
            else:
                choices.append([to_text(item) for item in _items(self._evaluate(segment, scope))])
        return tuple("".join(combination) for combination in itertools.product(*choices))

    def _evaluate(self, node: _Node, scope: Scope) -> Value:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Reference):
            try:
                return scope.resolve(node.parts)
            except ResolveError as exc:
                raise self._error(str(exc), node.position) from None
        if isinstance(node, _Concat):
            parts = [
                [to_text(item) for item in _items(self._evaluate(part, scope))]
                for part in node.parts
            ]
            return _collapse(["".join(combination) for combination in itertools.product(*parts)])
        function = FUNCTIONS[node.name]
        arguments = [_items(self._evaluate(arg, scope)) for arg in node.args]
        try:
            return _collapse([function(args) for args in itertools.product(*arguments)])
        except FunctionError as exc:
            raise self._error(str(exc), node.position) from None

    def _error(self, reason: str, position: int) -> ExpressionError:
        return ExpressionError(
            reason, position=position, object_id=self.object_id, field=self.field
        )


@lru_cache(maxsize=_PARSED_TEMPLATES)
def _parse_template(text: str, object_id: str | None, field: str | None) -> Template:
    segments: list[str | _Node] = []
    literal_start = 0
    index = text.find("#{")
    while index >= 0:
        if index > literal_start:
            segments.append(text[literal_start:index])
        parser = _Parser(text, index + 2)
        try:
            segments.append(parser.expression())
            parser.expect("}", "'}'")
        except ExpressionError as exc:
            raise exc.located(object_id, field) from None
        literal_start = parser.index
        index = text.find("#{", literal_start)
    if literal_start < len(text):
        segments.append(text[literal_start:])
    return Template(text, tuple(segments), object_id, field)


def _items(value: Value) -> tuple[Scalar, ...]:
    return value if isinstance(value, tuple) else (value,)


def _collapse(values: list[Scalar]) -> Value:
    return values[0] if len(values) == 1 else tuple(values)
