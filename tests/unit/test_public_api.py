"""The public API is exactly ``ddbpipe.__all__``, documented, and closed: every type
its signatures use can be imported from ``ddbpipe``."""

from __future__ import annotations

import inspect
import typing
from types import ModuleType, UnionType
from typing import Any

import boto3

import ddbpipe

# Signatures name boto3's Session without importing boto3 (it is slow to import).
_NAMES = {"boto3": boto3}


def test_public_api_is_exactly_all() -> None:
    # Subpackages become attributes when imported; they are not API.
    public = {
        name
        for name, value in vars(ddbpipe).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(ddbpipe.__all__) - {"__version__"}
    assert ddbpipe.__version__.count(".") == 2


def test_every_public_name_has_a_written_docstring() -> None:
    for name in ddbpipe.__all__:
        if name == "__version__":
            continue
        doc = inspect.getdoc(getattr(ddbpipe, name)) or ""
        # A dataclass without a docstring gets its signature as one: that is not writing.
        assert doc, name
        assert not doc.startswith(f"{name}("), name


def _ddbpipe_types(hint: Any) -> set[type]:
    """The ddbpipe classes a type hint mentions, however deeply nested."""
    found: set[type] = set()
    if isinstance(hint, type) and hint.__module__.startswith("ddbpipe"):
        found.add(hint)
    if isinstance(hint, UnionType) or typing.get_origin(hint) is not None:
        for argument in typing.get_args(hint):
            found |= _ddbpipe_types(argument)
    return found


def _signature_types(value: Any) -> set[type]:
    if inspect.isclass(value):
        hints = {}
        if "__init__" in vars(value):
            hints = typing.get_type_hints(value.__init__, localns=_NAMES)
        if hasattr(value, "__dataclass_fields__"):
            hints = typing.get_type_hints(value, localns=_NAMES)
    elif callable(value):
        hints = typing.get_type_hints(value, localns=_NAMES)
    else:
        return set()
    return {t for hint in hints.values() for t in _ddbpipe_types(hint)}


def test_every_type_of_a_public_signature_is_exported() -> None:
    exported = {getattr(ddbpipe, name) for name in ddbpipe.__all__ if name != "__version__"}
    for name in ddbpipe.__all__:
        if name == "__version__":
            continue
        missing = {t.__name__ for t in _signature_types(getattr(ddbpipe, name)) - exported}
        assert not missing, f"{name} uses {sorted(missing)}, which ddbpipe does not export"
