"""The Store protocol: where backup files live, whatever the medium."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ddbpipe.sessions import StaticCredentials, region_problems

__all__ = ["DEFAULT_CHUNK_SIZE", "Listing", "ObjectInfo", "Store", "StoreConfig", "Writer"]

DEFAULT_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class StoreConfig:
    """How to reach a store: used for ``s3://`` URLs, ignored for local folders.

    ``credentials`` (set by a job started with a session of the caller's) take the place
    of the profile's; ``retry`` governs every S3 call.
    """

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    credentials: StaticCredentials | None = None
    retry: RetryPolicy = DEFAULT_RETRY_POLICY

    def problems(self) -> list[str]:
        """Every invalid setting, in the words of the command line."""
        return region_problems("S3", self.region)


@dataclass(frozen=True)
class ObjectInfo:
    """One file: its key relative to the store's root, and its size in bytes."""

    key: str
    size: int


@dataclass(frozen=True)
class Listing:
    """The direct children of a folder: files, and the names of subfolders."""

    files: list[ObjectInfo] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)


class Writer(Protocol):
    """A file being written; it becomes visible only when closed without error."""

    def write(self, data: bytes, /) -> int: ...


@runtime_checkable
class Store(Protocol):
    """A folder of files, local or remote. Keys are relative and use ``/``."""

    @property
    def url(self) -> str:
        """The root's URL: ``s3://bucket/prefix`` or an absolute local path."""
        ...

    def url_for(self, key: str) -> str:
        """The URL of ``key`` under the root."""
        ...

    def child(self, prefix: str) -> Store:
        """A store rooted at ``prefix`` under this one."""
        ...

    def list_dir(self, prefix: str = "") -> Listing:
        """Direct children of the folder ``prefix`` (sorted by key)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the file ``key`` exists."""
        ...

    def size(self, key: str) -> int | None:
        """Bytes in the file ``key``; None when there is no such file."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The whole content of ``key``."""
        ...

    def iter_chunks(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream ``key`` in chunks of at most ``chunk_size`` bytes."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``key`` atomically: readers see all of it or none."""
        ...

    def open_write(self, key: str) -> AbstractContextManager[Writer]:
        """Stream a new file; it appears only if the ``with`` block ends without error."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing file is not an error."""
        ...

    def abort_incomplete_writes(self) -> int:
        """Remove what unfinished writes below the root left behind (temporary files, open
        multipart uploads) after a process was killed; return how many."""
        ...
