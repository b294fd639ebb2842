"""The checkpoint of an unfinished export, kept in its folder as ``_checkpoint.json``.

It lists, per segment, the data files already complete and the key of the last item
they hold. A resumed export keeps those files, deletes any other data file (written
after the last checkpoint, so its items will be read again), and scans each unfinished
segment from its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ddbpipe.backups.layout import CHECKPOINT_NAME
from ddbpipe.backups.parts import Part
from ddbpipe.errors import DataError
from ddbpipe.items import Item
from ddbpipe.stores import Store

__all__ = ["ExportCheckpoint", "SegmentState"]

_VERSION = 1


@dataclass
class SegmentState:
    """How far one segment got."""

    done: bool = False
    resume_key: Item | None = None
    parts: list[Part] = field(default_factory=list)


@dataclass
class ExportCheckpoint:
    """Everything needed to finish an export that stopped."""

    table: str
    total_segments: int
    consistent_read: bool
    started: str
    segments: dict[int, SegmentState]
    format: str = "datapipeline"

    @property
    def parts(self) -> list[Part]:
        """Every complete data file, segment by segment."""
        return [part for s in sorted(self.segments) for part in self.segments[s].parts]

    def to_bytes(self) -> bytes:
        """The checkpoint as JSON."""
        return orjson.dumps(
            {
                "version": _VERSION,
                "table": self.table,
                "total_segments": self.total_segments,
                "consistent_read": self.consistent_read,
                "started": self.started,
                "format": self.format,
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
            if raw.get("version") != _VERSION:
                raise DataError(f"checkpoint version {raw.get('version')!r} is unknown")
            return cls(
                table=raw["table"],
                total_segments=int(raw["total_segments"]),
                consistent_read=bool(raw["consistent_read"]),
                started=raw["started"],
                format=raw.get("format", "datapipeline"),
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
