"""Dependencies point down only: a module imports from its own layer or the layers below
(docs/architecture.md), so the front ends, the engine and the jobs stay apart."""

from __future__ import annotations

import ast
from pathlib import Path

import ddbpipe

LAYERS = ["cli", "server", "pipeline", "transfer", "backups", "dynamo", "stores", "formats"]
BASE = "base"  # errors, items, retry, sessions, wording: below every layer
PACKAGE = Path(ddbpipe.__file__).parent


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else BASE


def rank(layer: str) -> int:
    return len(LAYERS) if layer == BASE else LAYERS.index(layer)


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ddbpipe.")
    ]
    found += [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("ddbpipe.")
    ]
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        if module in ("ddbpipe", "ddbpipe.__main__"):  # the package's front door
            continue
        here = layer_of(module)
        upward += [
            f"{module} imports {target}"
            for target in imports_of(path)
            if rank(layer_of(target)) < rank(here)
        ]
    assert upward == []


def test_the_layers_named_here_are_the_packages_there_are() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS)
