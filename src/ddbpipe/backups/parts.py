"""Data files written from a stream of items, in any export format.

A ``PartSink`` rolls over to a new data file every ``max_items`` items. Each file becomes
visible only once complete (the store's atomic write, or a completed multipart upload);
a finished file is then reported as a ``Part``, with the last item written to it.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ddbpipe.backups.layout import data_file_name
from ddbpipe.formats import ddbjson, ion
from ddbpipe.formats.datapipeline import encode_page
from ddbpipe.formats.detect import FORMAT_ION, NATIVE_FORMATS
from ddbpipe.items import Item
from ddbpipe.stores import Store, Writer

__all__ = ["Part", "PartSink"]


@dataclass(frozen=True)
class Part:
    """A complete data file: its key in the folder, items, bytes before compression, and
    for native exports the base64 MD5 of its compressed bytes."""

    key: str
    items: int
    bytes: int
    md5: str | None = None


class PartSink:
    """Data files being written from a stream of items; see the module doc.

    ``on_part(part, last_item)`` is called as each file is finished; ``parts`` lists them.
    """

    def __init__(
        self,
        store: Store,
        *,
        format: str,
        max_items: int,
        on_part: Callable[[Part, Item], None] | None = None,
        new_name: Callable[[], str] | None = None,
    ) -> None:
        self._store = store
        self._format = format
        self._max_items = max_items
        self._on_part = on_part
        self._new_name = new_name or (lambda: data_file_name(format))
        self._opened: AbstractContextManager[Writer] | None = None
        self._writer: Writer | None = None
        self._key = ""
        self._items = 0
        self._bytes = 0
        self._last: Item | None = None
        self._native = format in NATIVE_FORMATS
        self._encode = ion.encode_item if format == FORMAT_ION else ddbjson.encode_item
        self._compressor: Any = None
        self._digest = hashlib.md5()
        self.parts: list[Part] = []

    def write(self, items: list[Item]) -> int:
        """Append ``items``; return the bytes written (before compression)."""
        written = 0
        while items:
            if self._writer is None:
                self._key = self._new_name()
                self._opened = self._store.open_write(self._key)
                self._writer = self._opened.__enter__()
                if self._native:
                    self._compressor = zlib.compressobj(wbits=31)
                    self._digest = hashlib.md5()
            room = self._max_items - self._items
            chunk, items = items[:room], items[room:]
            if self._native:
                data = b"".join(map(self._encode, chunk))
                self._put(self._compressor.compress(data))
            else:
                data = encode_page(chunk)
                self._writer.write(data)
            self._items += len(chunk)
            self._bytes += len(data)
            self._last = chunk[-1]
            written += len(data)
            if self._items >= self._max_items:
                self.close()
        return written

    def close(self) -> None:
        """Finish the current data file, if any, and report it."""
        if self._opened is None or self._last is None:
            return
        md5 = None
        if self._native:
            self._put(self._compressor.flush())
            md5 = base64.b64encode(self._digest.digest()).decode("ascii")
        self._opened.__exit__(None, None, None)
        part = Part(self._key, self._items, self._bytes, md5)
        self.parts.append(part)
        if self._on_part is not None:
            self._on_part(part, self._last)
        self._opened, self._writer, self._items, self._bytes, self._last = None, None, 0, 0, None

    def _put(self, data: bytes) -> None:
        """Write compressed bytes, hashing them as DynamoDB's manifest does."""
        if data and self._writer is not None:
            self._digest.update(data)
            self._writer.write(data)

    def abort(self, error: BaseException) -> None:
        """Drop the current data file: it never becomes visible."""
        if self._opened is not None:
            self._opened.__exit__(type(error), error, error.__traceback__)
            self._opened, self._writer = None, None
