"""Checkpoints of unfinished jobs, from which a stopped export or import goes on.

An export keeps ``_checkpoint.json`` in its own folder: per segment, the data files
already complete and the key of the last item they hold, plus every option that shapes
the output (format, items per file, segments, consistency) and its pace (ratio, capacity
override), so that a resumed export writes what the first run would have. A resumed
export keeps those files, deletes any other data file (written after the last
checkpoint, so its items will be read again), and scans each unfinished segment from its
key.

An import keeps its checkpoint in the state folder (the source may be read-only), named
after the source's absolute URL and the table: per data file, the line every earlier
line is written up to, whether the file is done, and how many items DynamoDB
acknowledged.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ddbpipe.backups.layout import CHECKPOINT_NAME
from ddbpipe.backups.parts import Part
from ddbpipe.errors import ConfigError, DataError, NotFoundError
from ddbpipe.formats.detect import FORMAT_DATAPIPELINE
from ddbpipe.items import Item
from ddbpipe.stores import Store

__all__ = [
    "IMPORTS_FOLDER",
    "ExportCheckpoint",
    "FileState",
    "ImportCheckpoint",
    "SegmentState",
    "import_checkpoint_path",
]

IMPORTS_FOLDER = "imports"
_EXPORT_VERSION = 2
_IMPORT_VERSION = 2
_DEFAULT_ITEMS_PER_FILE = 100_000  # what version 1 checkpoints always used


@dataclass
class SegmentState:
    """How far one segment got."""

    done: bool = False
    resume_key: Item | None = None
    parts: list[Part] = field(default_factory=list)


@dataclass
class ExportCheckpoint:
    """Everything needed to finish an export that stopped; see the module doc."""

    table: str
    total_segments: int
    consistent_read: bool
    started: str
    segments: dict[int, SegmentState]
    format: str = FORMAT_DATAPIPELINE
    items_per_file: int = _DEFAULT_ITEMS_PER_FILE
    read_ratio: float | None = None
    max_rcu: float | None = None

    @property
    def parts(self) -> list[Part]:
        """Every complete data file, segment by segment."""
        return [part for s in sorted(self.segments) for part in self.segments[s].parts]

    @property
    def done(self) -> int:
        """Items in complete data files."""
        return sum(part.items for part in self.parts)

    def to_bytes(self) -> bytes:
        """The checkpoint as JSON."""
        return orjson.dumps(
            {
                "version": _EXPORT_VERSION,
                "table": self.table,
                "total_segments": self.total_segments,
                "consistent_read": self.consistent_read,
                "started": self.started,
                "format": self.format,
                "items_per_file": self.items_per_file,
                "read_ratio": self.read_ratio,
                "max_rcu": self.max_rcu,
                "segments": {
                    str(n): {
                        "done": s.done,
                        "resume_key": s.resume_key,
                        "parts": [[p.key, p.items, p.bytes, p.md5] for p in s.parts],
                    }
                    for n, s in sorted(self.segments.items())
                },
            }
        )

    def save(self, store: Store) -> None:
        """Write the checkpoint atomically into ``store``."""
        store.write_bytes(CHECKPOINT_NAME, self.to_bytes())

    @classmethod
    def load(cls, store: Store) -> ExportCheckpoint:
        """Read the checkpoint of ``store``; raises ``DataError`` if it is unusable."""
        source = store.url_for(CHECKPOINT_NAME)
        try:
            raw: Any = orjson.loads(store.read_bytes(CHECKPOINT_NAME))
            if raw.get("version") not in (1, _EXPORT_VERSION):
                raise DataError(f"checkpoint version {raw.get('version')!r} is unknown")
            return cls(
                table=raw["table"],
                total_segments=int(raw["total_segments"]),
                consistent_read=bool(raw["consistent_read"]),
                started=raw["started"],
                format=raw.get("format", FORMAT_DATAPIPELINE),
                items_per_file=int(raw.get("items_per_file", _DEFAULT_ITEMS_PER_FILE)),
                read_ratio=raw.get("read_ratio"),
                max_rcu=raw.get("max_rcu"),
                segments={
                    int(n): SegmentState(
                        done=bool(s["done"]),
                        resume_key=s["resume_key"],
                        parts=[Part(p[0], int(p[1]), int(p[2]), *p[3:4]) for p in s["parts"]],
                    )
                    for n, s in raw["segments"].items()
                },
            )
        except DataError as exc:
            raise exc.located(source, None) from None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"checkpoint is damaged ({exc!r})", source=source) from None


@dataclass
class FileState:
    """How far the import of one data file got: every line up to ``line`` is written,
    ``written`` items were acknowledged, and ``done`` once the file is finished."""

    line: int = 0
    done: bool = False
    written: int = 0


def import_checkpoint_path(state_dir: str | Path, source_url: str, table: str) -> Path:
    """Where the checkpoint of importing ``source_url`` (absolute) into ``table`` lies."""
    digest = hashlib.sha256(f"{source_url.rstrip('/')}\n{table}".encode()).hexdigest()[:16]
    return Path(state_dir) / IMPORTS_FOLDER / f"{table}-{digest}.json"


@dataclass
class ImportCheckpoint:
    """Progress of one import, kept in a local JSON file; see the module doc."""

    path: Path
    source: str
    table: str
    files: dict[str, FileState] = field(default_factory=dict)  # by data file URL

    @property
    def written(self) -> int:
        """Items DynamoDB acknowledged, in every file."""
        return sum(state.written for state in self.files.values())

    def file(self, url: str) -> FileState:
        """The state of the data file at ``url`` (a new one when unseen)."""
        state = self.files.get(url)
        if state is None:
            state = self.files[url] = FileState()
        return state

    def save(self) -> None:
        """Write the checkpoint atomically."""
        data = orjson.dumps(
            {
                "version": _IMPORT_VERSION,
                "source": self.source,
                "table": self.table,
                "files": {u: [s.line, s.done, s.written] for u, s in self.files.items()},
            }
        )
        temp = self.path.with_name(f".{self.path.name}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(data)
        os.replace(temp, self.path)

    def discard(self) -> None:
        """Remove the checkpoint: the import is complete."""
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, source: str, table: str) -> ImportCheckpoint:
        """The checkpoint at ``path``; ``NotFoundError`` when there is none."""
        try:
            raw = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotFoundError(
                f"no interrupted import of {source} into {table!r} to resume ({path} is missing)"
            ) from None
        except orjson.JSONDecodeError as exc:
            raise DataError(f"import checkpoint is damaged ({exc})", source=str(path)) from None
        if raw.get("source") != source or raw.get("table") != table:
            raise ConfigError(
                f"{path} belongs to the import of {raw.get('source')} into {raw.get('table')!r}"
            )
        files: dict[str, FileState] = {}
        for url, value in raw["files"].items():
            if isinstance(value, list):
                files[url] = FileState(int(value[0]), bool(value[1]), int(value[2]))
            else:  # version 1: the line reached, or -1 when done
                files[url] = FileState(max(int(value), 0), int(value) == -1)
        return cls(path, source, table, files)
