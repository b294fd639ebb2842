"""The formats ddbpipe reads and writes, and what a file's name says of its format and
compression."""

from __future__ import annotations

__all__ = [
    "COMPRESSIONS",
    "EXPORT_FORMATS",
    "FORMAT_CSV",
    "FORMAT_DATAPIPELINE",
    "FORMAT_DYNAMODB_JSON",
    "FORMAT_ION",
    "INPUT_FORMATS",
    "NATIVE_FORMATS",
    "NO_COMPRESSION",
    "guess_compression",
    "guess_format",
]

FORMAT_DATAPIPELINE = "datapipeline"
FORMAT_DYNAMODB_JSON = "dynamodb-json"
FORMAT_ION = "ion"
FORMAT_CSV = "csv"
INPUT_FORMATS = (FORMAT_DYNAMODB_JSON, FORMAT_ION, FORMAT_CSV)
"""Formats of plain data files, as DynamoDB's Import from S3 takes them."""
EXPORT_FORMATS = (FORMAT_DATAPIPELINE, FORMAT_DYNAMODB_JSON, FORMAT_ION)
"""Formats an export or a conversion writes."""
NATIVE_FORMATS = (FORMAT_DYNAMODB_JSON, FORMAT_ION)
"""Formats written in DynamoDB's native export layout."""
NO_COMPRESSION = "none"
COMPRESSIONS = ("gzip", "zstd", NO_COMPRESSION)

_COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMAT_SUFFIXES = {
    ".json": FORMAT_DYNAMODB_JSON,
    ".jsonl": FORMAT_DYNAMODB_JSON,
    ".ion": FORMAT_ION,
    ".csv": FORMAT_CSV,
}


def _split_suffix(name: str, table: dict[str, str]) -> tuple[str, str | None]:
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and f".{suffix.lower()}" in table:
        return stem, table[f".{suffix.lower()}"]
    return name, None


def guess_compression(name: str) -> str | None:
    """``gzip`` or ``zstd`` by the file name's last suffix; None when it has neither."""
    return _split_suffix(name, _COMPRESSION_SUFFIXES)[1]


def guess_format(name: str) -> str | None:
    """The input format a file name suggests (``x.csv.gz`` is CSV); None when unknown."""
    stem, _ = _split_suffix(name, _COMPRESSION_SUFFIXES)
    return _split_suffix(stem, _FORMAT_SUFFIXES)[1]
