"""Write a Data Pipeline backup folder: data files, manifest, ``_SUCCESS`` last."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ddbpipe.formats.datapipeline import MANIFEST_NAME, SUCCESS_NAME, encode_item, encode_manifest
from ddbpipe.items import Item
from ddbpipe.stores.base import Store, Writer

__all__ = ["MAX_ITEMS_PER_FILE", "FolderWriter", "WrittenFile", "manifest_url"]

MAX_ITEMS_PER_FILE = 100_000
_FLUSH_BYTES = 1 << 20


@dataclass(frozen=True)
class WrittenFile:
    """A finished data file: its key in the folder, items and bytes."""

    key: str
    items: int
    bytes: int


def manifest_url(store: Store, key: str) -> str:
    """The absolute URL a manifest lists for ``key``: ``s3://…`` or ``file://…``."""
    url = store.url_for(key)
    return url if "://" in url else Path(url).as_uri()


@dataclass
class FolderWriter:
    """Stream items into UUID-named data files of at most ``max_items_per_file`` items.

    Each data file appears in the store only once it is complete. ``finish`` writes the
    manifest and then ``_SUCCESS``; a writer that is never finished leaves no marker.
    """

    store: Store
    max_items_per_file: int = MAX_ITEMS_PER_FILE
    new_name: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    files: list[WrittenFile] = field(default_factory=list)

    def write(self, items: Iterable[Item]) -> list[WrittenFile]:
        """Write ``items`` into new data files; return the files written by this call."""
        written: list[WrittenFile] = []
        iterator = iter(items)
        while True:
            with ExitStack() as stack:
                first = next(iterator, None)
                if first is None:
                    break
                key = self.new_name()
                writer = stack.enter_context(self.store.open_write(key))
                count, size = self._fill(writer, first, iterator)
            done = WrittenFile(key, count, size)
            written.append(done)
            self.files.append(done)
        return written

    def _fill(self, writer: Writer, first: Item, rest: Iterator[Item]) -> tuple[int, int]:
        pending = [encode_item(first)]
        pending_bytes = len(pending[0])
        count, size = 1, 0
        for item in islice(rest, self.max_items_per_file - 1):
            line = encode_item(item)
            pending.append(line)
            pending_bytes += len(line)
            count += 1
            if pending_bytes >= _FLUSH_BYTES:
                writer.write(b"".join(pending))
                size += pending_bytes
                pending, pending_bytes = [], 0
        writer.write(b"".join(pending))
        return count, size + pending_bytes

    def finish(self) -> bytes:
        """Write the manifest listing every file written, then ``_SUCCESS``; return the manifest."""
        manifest = encode_manifest([manifest_url(self.store, f.key) for f in self.files])
        self.store.write_bytes(MANIFEST_NAME, manifest)
        self.store.write_bytes(SUCCESS_NAME, b"")
        return manifest
