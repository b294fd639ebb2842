"""A store backed by a local folder, with atomic writes."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ddbpipe.errors import AccessDeniedError, DdbpipeError, FatalError, NotFoundError
from ddbpipe.stores.base import DEFAULT_CHUNK_SIZE, Listing, ObjectInfo, Writer

__all__ = ["TEMP_PREFIX", "LocalStore"]

TEMP_PREFIX = ".tmp-"
"""Names of files still being written start with this; listings never show them."""

_TEMP_NAME_KEEP = 64


class LocalStore:
    """The Store protocol over a folder on the local file system."""

    def __init__(self, root: Path) -> None:
        self._root = Path(os.path.abspath(root))

    def __repr__(self) -> str:
        return f"LocalStore({str(self._root)!r})"

    @property
    def url(self) -> str:
        """The absolute path of the root folder."""
        return str(self._root)

    def url_for(self, key: str) -> str:
        """The absolute path of ``key``."""
        return str(self._path(key))

    def child(self, prefix: str) -> LocalStore:
        """A store rooted at the folder ``prefix`` under this one."""
        return LocalStore(self._path(prefix))

    def list_dir(self, prefix: str = "") -> Listing:
        """Files (with sizes) and subfolder names directly in ``prefix``, sorted.

        Files still being written are not listed. Raises ``NotFoundError`` when the
        folder does not exist.
        """
        folder = self._path(prefix)
        key_prefix = "/".join(_parts(prefix))
        files: list[ObjectInfo] = []
        folders: list[str] = []
        with _translated("list", folder), os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    if entry.is_dir():
                        folders.append(entry.name)
                    elif entry.is_file():
                        key = f"{key_prefix}/{entry.name}" if key_prefix else entry.name
                        files.append(ObjectInfo(key, entry.stat().st_size))
                except FileNotFoundError:
                    continue
        files.sort(key=lambda info: info.key)
        folders.sort()
        return Listing(files=files, folders=folders)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is an existing file (folders do not count)."""
        return self._file_path(key).is_file()

    def size(self, key: str) -> int | None:
        """Bytes in the file ``key``; None when it is missing or a folder."""
        path = self._file_path(key)
        return path.stat().st_size if path.is_file() else None

    def read_bytes(self, key: str) -> bytes:
        """The whole content of ``key``; ``NotFoundError`` when it is missing."""
        path = self._file_path(key)
        with _translated("read", path):
            return path.read_bytes()

    def iter_chunks(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream ``key`` in chunks of at most ``chunk_size`` bytes.

        ``NotFoundError`` is raised when iteration starts if the file is missing.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        path = self._file_path(key)
        with _translated("read", path), path.open("rb") as file:
            while chunk := file.read(chunk_size):
                yield chunk

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``key`` atomically, creating parent folders."""
        with self.open_write(key) as writer:
            writer.write(data)

    @contextmanager
    def open_write(self, key: str) -> Iterator[Writer]:
        """Stream a new file into ``key``; it replaces any old one only on success.

        Bytes go to a hidden temporary file in the same folder, which is synced and
        renamed over ``key`` when the block ends, or removed if the block raises.
        """
        path = self._file_path(key)
        temp = path.with_name(f"{TEMP_PREFIX}{path.name[:_TEMP_NAME_KEEP]}.{secrets.token_hex(6)}")
        with _translated("write", path):
            path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            file = os.fdopen(os.open(temp, flags, 0o666), "wb")
        try:
            with file:
                yield _FileWriter(file, path)
                with _translated("write", path):
                    file.flush()
                    os.fsync(file.fileno())
            with _translated("write", path):
                os.replace(temp, path)
                _sync_folder(path.parent)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        """Remove the file ``key``; a missing file is not an error."""
        path = self._file_path(key)
        with _translated("delete", path):
            path.unlink(missing_ok=True)

    def remove_empty_folders(self) -> None:
        """Remove the root and every folder below it that holds no file."""
        if not self._root.is_dir():
            return
        for folder, _, _ in sorted(os.walk(self._root), key=lambda entry: -len(entry[0])):
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # fails, as it should, when the folder holds anything

    def abort_incomplete_writes(self) -> int:
        """Remove the temporary files of writes that never finished (their process was
        killed) anywhere below the root; return how many."""
        removed = 0
        with _translated("clean", self._root):
            if not self._root.is_dir():
                return 0
            for temp in self._root.rglob(f"{TEMP_PREFIX}*"):
                if temp.is_file():
                    temp.unlink(missing_ok=True)
                    removed += 1
        return removed

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*_parts(key))

    def _file_path(self, key: str) -> Path:
        parts = _parts(key)
        if not parts:
            raise ValueError("a file key must not be empty")
        return self._root.joinpath(*parts)


class _FileWriter:
    """The ``Writer`` handed out by ``open_write``: only ``write``, errors translated."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        self._file = file
        self._path = path

    def write(self, data: bytes, /) -> int:
        with _translated("write", self._path):
            return self._file.write(data)


def _parts(key: str) -> list[str]:
    """The path segments of a relative ``/``-separated key; rejects keys leaving the root."""
    parts = [part for part in key.split("/") if part]
    if key.startswith("/") or any(part in (".", "..") for part in parts):
        raise ValueError(f"key {key!r} must be relative and stay inside the store")
    return parts


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fs_error(exc: OSError, action: str, path: Path) -> DdbpipeError:
    """The ddbpipe error for an ``OSError`` raised while doing ``action`` on ``path``."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return NotFoundError(f"not found: {path} ({reason})")
    if isinstance(exc, PermissionError):
        return AccessDeniedError(action, str(path), reason)
    return FatalError(f"cannot {action} {path}: {reason}")


@contextmanager
def _translated(action: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise _fs_error(exc, action, path) from exc
