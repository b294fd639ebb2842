"""Records of a data file, shared by every line codec: split a byte stream into lines,
skip and count blank lines, decode each line.

Lines end at ``\\n``; a trailing ``\\r`` is dropped and a lone ``\\r`` also ends a line, as
Hadoop's reader did. A UTF-8 byte-order mark at the start is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["UTF8_BOM", "LineStats", "decode_lines", "iter_lines"]

T = TypeVar("T")
UTF8_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\f\v"
_BLANK_BYTES = frozenset(_BLANK)
_BLANK_LINES_KEPT = 100


@dataclass
class LineStats:
    """What a reader met: items, blank lines skipped, bytes of the lines consumed so far."""

    items: int = 0
    blank_lines: int = 0
    bytes: int = 0
    blank_line_numbers: list[int] = field(default_factory=list)


def iter_lines(
    chunks: Iterable[bytes], stats: LineStats | None = None
) -> Iterator[tuple[int, bytes]]:
    """Split a byte stream into ``(line number, line)`` pairs, skipping blank lines.

    Lines end at ``\\n``; a trailing ``\\r`` is dropped and a lone ``\\r`` also ends a line,
    as Hadoop's reader did. A UTF-8 byte-order mark at the start is dropped. Only one
    line's worth of bytes is held beyond the current chunk.
    """
    stats = stats if stats is not None else LineStats()
    carry = b""
    number = 0
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        if first:
            first = False
            if chunk.startswith(UTF8_BOM):
                chunk = chunk[len(UTF8_BOM) :]
        parts = (carry + chunk).split(b"\n") if carry else chunk.split(b"\n")
        carry = parts.pop()
        for part in parts:
            number += 1
            stats.bytes += len(part) + 1  # what is consumed, not read ahead: for estimates
            if part and part[0] not in _BLANK_BYTES and b"\r" not in part:
                yield number, part  # the common line, without a generator of its own
            else:
                yield from _split_line(number, part, stats)
    if carry:
        number += 1
        stats.bytes += len(carry)
        yield from _split_line(number, carry, stats)


def _split_line(number: int, part: bytes, stats: LineStats) -> Iterator[tuple[int, bytes]]:
    if part.endswith(b"\r"):
        part = part[:-1]
    pieces = part.split(b"\r") if b"\r" in part else (part,)
    for piece in pieces:
        if piece.strip(_BLANK):
            yield number, piece
        else:
            stats.blank_lines += 1
            if len(stats.blank_line_numbers) < _BLANK_LINES_KEPT:
                stats.blank_line_numbers.append(number)


def decode_lines(
    chunks: Iterable[bytes],
    decode: Callable[..., T],
    *,
    source: str,
    stats: LineStats | None = None,
) -> Iterator[tuple[int, T]]:
    """Stream ``(line number, decode(line))`` from a file's bytes; ``decode`` takes the line
    and the keywords ``source`` and ``line_number``."""
    stats = stats if stats is not None else LineStats()
    for number, line in iter_lines(chunks, stats):
        value = decode(line, source=source, line_number=number)
        stats.items += 1
        yield number, value
