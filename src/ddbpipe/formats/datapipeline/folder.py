"""Which files of a Data Pipeline backup folder hold data (pure rules, no I/O)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ddbpipe.errors import DataError
from ddbpipe.formats.datapipeline.manifest import MANIFEST_NAME, Manifest

__all__ = ["SUCCESS_NAME", "is_data_file_name", "manifest_file_names"]

SUCCESS_NAME = "_SUCCESS"


def is_data_file_name(name: str) -> bool:
    """Whether the importer reads ``name`` when a folder has no manifest.

    Hadoop's listing skips names starting with ``_`` or ``.`` (``_SUCCESS``, ``_table.json``,
    temporary files); ``manifest`` itself is not data.
    """
    return not name.startswith(("_", ".")) and name != MANIFEST_NAME


def manifest_file_names(manifest: Manifest, *, source: str) -> list[str]:
    """The data file names a manifest lists, taken from the last part of each URL.

    The URLs are absolute and name the bucket the backup was first written to; mapping
    them onto the folder being read lets a copied backup be read where it now lies.
    """
    names: list[str] = []
    seen: set[str] = set()
    for url in manifest.urls:
        name = urlsplit(url).path.rstrip("/").rpartition("/")[2] or url.rpartition("/")[2]
        if not name:
            raise DataError(f"manifest entry {url!r} names no file", source=source)
        if name in seen:
            raise DataError(f"manifest lists {name!r} twice", source=source)
        seen.add(name)
        names.append(name)
    return names
