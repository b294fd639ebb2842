"""Data Pipeline backups on disk: a folder's data files, counting their items, writing one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dataset import make_item


def backup_data_files(folder: Path) -> list[Path]:
    """The data files of a Data Pipeline backup folder, in manifest order when it has one.

    Looks in ``folder`` and, if it holds no data itself, in its subfolders (an exporter
    may add a dated folder under the destination).
    """
    from ddbpipe.formats.datapipeline import (
        MANIFEST_NAME,
        decode_manifest,
        is_data_file_name,
        manifest_file_names,
    )

    candidates = [folder, *sorted(p.parent for p in folder.rglob(MANIFEST_NAME))]
    for candidate in candidates:
        manifest = candidate / MANIFEST_NAME
        if manifest.is_file():
            names = manifest_file_names(decode_manifest(manifest.read_bytes()), source="manifest")
            return [candidate / name for name in names]
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and is_data_file_name(p.name) and p.stat().st_size
    ]
    return sorted(files)


def count_lines(files: Sequence[Path]) -> int:
    """Non-blank lines in ``files`` (items, for Data Pipeline data files)."""
    total = 0
    for path in files:
        with open(path, "rb") as data:
            for block in iter(lambda data=data: data.read(1 << 20), b""):
                total += block.count(b"\n")
            if path.stat().st_size and not _ends_with_newline(path):
                total += 1
    return total


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as data:
        data.seek(-1, os.SEEK_END)
        return data.read(1) == b"\n"


def write_backup(folder: Path, count: int, *, lines_per_file: int = 100_000) -> list[Path]:
    """A Data Pipeline backup of items ``0 .. count-1`` (as loaded), written by the project's
    own encoder: data files of at most ``lines_per_file`` lines, ``manifest``, ``_SUCCESS``."""
    from ddbpipe.formats.datapipeline import MANIFEST_NAME, encode_items, encode_manifest

    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for number, first in enumerate(range(0, count, lines_per_file)):
        last = min(first + lines_per_file, count)
        path = folder / f"{number:05d}-bench-{first:09d}"
        with open(path, "wb") as data:
            for block in range(first, last, 10_000):
                items = (make_item(i) for i in range(block, min(block + 10_000, last)))
                data.write(encode_items(items))
        files.append(path)
    urls = [f"s3://bench-backups/{folder.name}/{p.name}" for p in files]
    (folder / MANIFEST_NAME).write_bytes(encode_manifest(urls))
    (folder / "_SUCCESS").write_bytes(b"")
    return files
