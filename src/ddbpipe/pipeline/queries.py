"""QueryObjects selectors and how they read as SQL over the ``objects`` table.

A selector names a field, an operator and values: ``EQ`` and ``REF_EQ`` (any of the
values) work on ``name``, ``@sphere``, ``parent``, ``@componentParent``,
``@instanceParent``, ``@status`` and the four time fields; ``LE``, ``GE`` and ``BETWEEN``
only on the time fields (``YYYY-MM-DDTHH:MM:SS`` text, which sorts as time does). A
selector on a field no object has matches nothing; every selector must match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ddbpipe.errors import ConfigError

__all__ = [
    "MAX_SELECTORS",
    "QUERY_FIELDS",
    "TIME_FIELDS",
    "Selector",
    "selector_clause",
    "selector_matches",
]

QUERY_FIELDS = {
    "name": "name",
    "@sphere": "sphere",
    "parent": "parent_id",
    "@componentParent": "component_id",
    "@instanceParent": "instance_id",
    "@status": "status",
    "@scheduledStartTime": "scheduled_start",
    "@scheduledEndTime": "scheduled_end",
    "@actualStartTime": "actual_start",
    "@actualEndTime": "actual_end",
}
"""The fields QueryObjects selects on, and their columns."""
TIME_FIELDS = frozenset(
    {"@scheduledStartTime", "@scheduledEndTime", "@actualStartTime", "@actualEndTime"}
)
"""The fields that LE, GE and BETWEEN work on."""
MAX_SELECTORS = 10


@dataclass(frozen=True)
class Selector:
    """One QueryObjects selector: ``field`` (``@status``, ``name``…), an operator
    (``EQ``, ``REF_EQ``, ``LE``, ``GE``, ``BETWEEN``) and its values."""

    field: str
    operator: str
    values: tuple[str, ...]

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Selector:
        """A selector from its API form, ``{fieldName, operator: {type, values}}``."""
        operator = raw.get("operator") or {}
        values = operator.get("values") or []
        if not isinstance(raw.get("fieldName"), str) or not isinstance(operator.get("type"), str):
            raise ConfigError("a selector needs a fieldName and an operator type")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError("a selector's values must be a list of strings")
        return cls(raw["fieldName"], operator["type"], tuple(values))


def selector_clause(selector: Selector) -> tuple[str, list[str]]:
    """The SQL condition of ``selector`` and its parameters; ``ConfigError`` when the
    API refuses it."""
    column = QUERY_FIELDS.get(selector.field)
    if column is None:
        return "0", []  # a field no object has: nothing matches
    operator = selector.operator.upper()
    values = list(selector.values)
    if operator in ("EQ", "REF_EQ"):
        if not values:
            raise ConfigError(f"selector on {selector.field!r}: {operator} needs a value")
        return f"{column} IN ({', '.join('?' for _ in values)})", values
    if operator in ("LE", "GE", "BETWEEN"):
        if selector.field not in TIME_FIELDS:
            raise ConfigError(
                f"selector on {selector.field!r}: {operator} works only on "
                + ", ".join(sorted(TIME_FIELDS))
            )
        if operator == "BETWEEN":
            if len(values) != 2:
                raise ConfigError(f"selector on {selector.field!r}: BETWEEN needs two values")
            return f"{column} BETWEEN ? AND ?", values
        if len(values) != 1:
            raise ConfigError(f"selector on {selector.field!r}: {operator} needs one value")
        return f"{column} {'<=' if operator == 'LE' else '>='} ?", values
    raise ConfigError(
        f"selector on {selector.field!r}: operator {selector.operator!r} is not one of "
        "EQ, REF_EQ, LE, GE, BETWEEN"
    )


def selector_matches(selector: Selector, values: Mapping[str, str | None]) -> bool:
    """Whether an object whose columns (``QUERY_FIELDS``' values) hold ``values``
    matches ``selector``, as ``selector_clause`` reads in SQL; ``ConfigError`` when the
    API refuses the selector."""
    selector_clause(selector)  # the same refusals
    column = QUERY_FIELDS.get(selector.field)
    value = values.get(column) if column is not None else None
    if value is None:
        return False
    operator = selector.operator.upper()
    if operator in ("EQ", "REF_EQ"):
        return value in selector.values
    if operator == "BETWEEN":
        return selector.values[0] <= value <= selector.values[1]
    if operator == "LE":
        return value <= selector.values[0]
    return value >= selector.values[0]
