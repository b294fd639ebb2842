"""The public API is exactly ``ddbpipe.__all__``, documented, and closed: every type
its signatures use can be imported from ``ddbpipe``."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType, UnionType
from typing import Any

import boto3

import ddbpipe

# Signatures name boto3's Session without importing boto3 (it is slow to import).
_NAMES = {"boto3": boto3}


def test_public_api_is_exactly_all() -> None:
    for name in ddbpipe.__all__:
        getattr(ddbpipe, name)  # every public name can be had
    # Subpackages become attributes when imported; they are not API.
    public = {
        name
        for name in dir(ddbpipe)
        if not name.startswith("_")
        and not isinstance(getattr(ddbpipe, name), ModuleType)
        and name not in {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    }
    assert public == set(ddbpipe.__all__) - {"__version__"}
    assert ddbpipe.__version__.count(".") == 2


def test_every_public_name_is_loaded_from_where_it_is_typed() -> None:
    # The names mypy sees (imported when type checking) are the ones loaded on use.
    tree = ast.parse(Path(ddbpipe.__file__).read_text())
    [typed] = [n for n in tree.body if isinstance(n, ast.If)]
    imported = {
        alias.name: node.module
        for node in typed.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == ddbpipe._MODULES
    assert set(imported) == set(ddbpipe.__all__) - {"__version__"}


def test_a_command_loads_only_what_it_runs() -> None:
    # ``ddbpipe export`` needs neither the server nor the pipeline engine.
    code = (
        "import sys, ddbpipe.cli; ddbpipe.cli.cli.get_command(None, 'export');"
        "print(sorted(m for m in sys.modules if m.startswith(('ddbpipe.server', "
        "'ddbpipe.pipeline', 'starlette', 'uvicorn', 'distributed'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


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
