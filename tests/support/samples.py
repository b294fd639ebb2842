"""Where the sample backups used by the tests lie (tests/data)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
DATAPIPELINE = DATA / "datapipeline"
NATIVE = DATA / "native"
V1_EXPORT = DATAPIPELINE / "synthetic-v1-export" / "2019-06-01-00-00-00"
V1_EMPTY = DATAPIPELINE / "synthetic-v1-export-empty-table" / "2019-06-02-00-00-00"
V1_DATA_FILES = sorted(
    p for p in V1_EXPORT.iterdir() if not p.name.startswith("_") and p.name != "manifest"
)
