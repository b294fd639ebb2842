"""CSV rows read the way DynamoDB's Import from S3 reads them.

Rows end at ``\\n`` or ``\\r\\n``. A field quoted with ``"`` may hold the delimiter,
line breaks and doubled quotes (``""`` is one ``"``); a quote anywhere else, text after
a closing quote, a quote that never closes and a carriage return outside quotes are
errors. Lines that are empty or hold only whitespace between rows are skipped and
counted.

The first row of every file is its header unless the user gives a header list. Only the
table's key attributes and its indexes' key attributes are typed (S, N or B, from the
table's attribute definitions); every other column becomes a string. A CSV cell cannot
tell an empty string from a missing value, so an empty cell (``""`` included) leaves
its attribute out of the item, and an empty cell of a table key attribute is an error.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from ddbpipe.errors import ConfigError, DataError, ItemError
from ddbpipe.formats.lines import UTF8_BOM, LineStats
from ddbpipe.items import MAX_NUMBER_DIGITS, Item, check_number

__all__ = ["CSV_DELIMITERS", "CsvOptions", "CsvRowDecoder", "iter_records"]

CSV_DELIMITERS = ",;:|\t "
_MAX_HEADER_NAMES = 255
_MAX_NAME_CHARS = 65536
_HEADER_NAME = re.compile(r"[\x20-\x21\x23-\x2B\x2D-\x7E]+")
# A row longer than this cannot become a DynamoDB item (400 KB): most likely a quote
# was left open, and reading on would hold the rest of the file in memory.
_MAX_ROW_BYTES = 16 * 1024 * 1024
_TOO_LONG = "the row starting here is over 16 MiB, far beyond an item's 400 KB: is a quote open?"
_QUOTED_BODY = r'[^"]*+(?:""[^"]*+)*+'  # what a quoted field holds between its quotes


@dataclass(frozen=True)
class CsvOptions:
    """How CSV files are read: DynamoDB's ``InputFormatOptions.Csv``."""

    delimiter: str = ","
    header: tuple[str, ...] | None = None

    def problems(self) -> list[str]:
        """Every invalid setting, in the user's terms; empty when all are valid."""
        found: list[str] = []
        if len(self.delimiter) != 1 or self.delimiter not in CSV_DELIMITERS:
            found.append(
                f"the CSV delimiter must be one of , ; : | TAB or space, not {self.delimiter!r}"
            )
        if self.header is not None:
            found.extend(_header_list_problems(self.header))
        return found


def _header_list_problems(header: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    if not 1 <= len(header) <= _MAX_HEADER_NAMES:
        found.append(f"the CSV header list must have 1 to 255 names, not {len(header)}")
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not 1 <= len(name) <= _MAX_NAME_CHARS:
            found.append(f"CSV header name {position} must be 1 to 65536 characters long")
        elif not _HEADER_NAME.fullmatch(name):
            found.append(
                f"CSV header name {name[:40]!r} may hold only printable ASCII characters "
                'other than " and ,'
            )
        elif name in seen:
            found.append(f"CSV header name {name[:40]!r} appears more than once")
        seen.add(name)
    return found


# ------------------------------------------------------------------------------ records


@functools.cache
def _line_patterns(delimiter: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Patterns that match a whole line only when it leaves no quoted field open: one
    for a line that starts a row, one for a line that goes on inside a quoted field."""
    d = re.escape(delimiter)
    field = rf'(?>"{_QUOTED_BODY}"[^{d}]*+|[^"{d}][^{d}]*+|)'
    rest = rf"(?:{d}{field})*+"
    start = re.compile((field + rest).encode())
    inside = re.compile(rf'{_QUOTED_BODY}"[^{d}]*+{rest}'.encode())
    return start, inside


def iter_records(
    chunks: Iterable[bytes],
    *,
    source: str,
    stats: LineStats | None = None,
    delimiter: str = ",",
) -> Iterator[tuple[int, bytes]]:
    """``(first line number, row bytes)`` for each row of a CSV byte stream.

    A row goes on over line breaks while a quoted field is open, and keeps them; its
    final line ending is dropped. Blank lines between rows are skipped and counted in
    ``stats`` (``stats.items`` is left to the caller). A quoted field still open at the
    end of the file is a ``DataError`` naming the line where its row started.
    """
    stats = stats if stats is not None else LineStats()
    start_pattern, inside_pattern = _line_patterns(delimiter)
    number = 0
    row: list[bytes] = []  # the lines so far of a row whose quoted field is open
    started = size = 0
    for lines, pending in _split_lines(chunks, stats):
        for line in lines:
            number += 1
            if row:
                row.append(line)
                size += len(line)
                if inside_pattern.fullmatch(line) is None:
                    continue
                yield started, b"\n".join(row).removesuffix(b"\r")
                row = []
            elif b'"' in line and start_pattern.fullmatch(line) is None:
                row, started, size = [line], number, len(line)
            elif line and not line.isspace():
                yield number, line.removesuffix(b"\r")
            else:
                stats.blank_lines += 1
                if len(stats.blank_line_numbers) < 100:
                    stats.blank_line_numbers.append(number)
        if (size if row else 0) + pending > _MAX_ROW_BYTES:
            raise DataError(_TOO_LONG, source=source, line=started if row else number + 1)
    if row:
        raise DataError(
            "a quoted field opened in this row never closes before the end of the file",
            source=source,
            line=started,
        )


def _split_lines(chunks: Iterable[bytes], stats: LineStats) -> Iterator[tuple[list[bytes], int]]:
    """``(whole lines without their \\n, bytes of the line still open)`` for each chunk,
    then the last line. The byte-order mark is dropped."""
    carry = b""
    head = True
    for chunk in chunks:
        stats.bytes += len(chunk)
        if head:
            carry += chunk
            if len(carry) < len(UTF8_BOM) and UTF8_BOM.startswith(carry):
                continue
            head, carry, chunk = False, b"", carry.removeprefix(UTF8_BOM)
        lines = (carry + chunk).split(b"\n") if carry else chunk.split(b"\n")
        carry = lines.pop()
        yield lines, len(carry)
    if head:
        carry = carry.removeprefix(UTF8_BOM)
    if carry:
        yield [carry], 0


# ------------------------------------------------------------------------------ decoding


@functools.cache
def _field_patterns(delimiter: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """One well-formed field; a whole well-formed row; each field of a well-formed row."""
    d = re.escape(delimiter)
    field = rf'(?>"({_QUOTED_BODY})"|([^"{d}\r\n]*+))'
    row = re.compile(rf"{field}(?:{d}{field})*+")
    cells = re.compile(rf"(?:\A|{d}){field}")
    return re.compile(field), row, cells


class CsvRowDecoder:
    """Turns the rows of one CSV file into items for a table.

    ``key_types`` maps every typed attribute (table and index keys) to ``S``, ``N`` or
    ``B``; ``key_names`` are the table's own key attributes, which every row must have.
    Raises ``ConfigError`` when a header list lacks a key attribute.
    """

    def __init__(
        self,
        options: CsvOptions,
        key_types: Mapping[str, str],
        key_names: Sequence[str],
        *,
        source: str,
    ) -> None:
        self._delimiter = options.delimiter
        self._key_types = dict(key_types)
        self._key_names = tuple(key_names)
        self._source = source
        self._one_field, self._row, self._cells = _field_patterns(options.delimiter)
        self._names: tuple[str, ...] = ()
        self._typed: tuple[tuple[int, str, str, bool], ...] = ()
        if options.header is not None:
            missing = [name for name in self._key_names if name not in options.header]
            if missing:
                raise ConfigError(f"the CSV header list has no column for the key {missing[0]!r}")
            self._use_header(options.header)

    @property
    def needs_header(self) -> bool:
        """Whether the next row is the file's header."""
        return not self._names

    def read_header(self, record: bytes, line: int) -> None:
        """Take the column names from the file's header row."""
        names = self._fields(record, line, ())
        seen: set[str] = set()
        for position, name in enumerate(names, start=1):
            if not name:
                self._fail(f"header column {position} has no name", line)
            if name in seen:
                self._fail(f"column {name!r} appears twice in the header", line)
            seen.add(name)
        for name in self._key_names:
            if name not in names:
                self._fail(f"the header has no column for the key {name!r}", line)
        self._use_header(tuple(names))

    def _use_header(self, names: tuple[str, ...]) -> None:
        keys = set(self._key_names)
        self._names = names
        self._typed = tuple(
            (index, name, self._key_types.get(name, "S"), name in keys)
            for index, name in enumerate(names)
            if name in keys or self._key_types.get(name, "S") != "S"
        )

    def decode(self, record: bytes, line: int) -> Item:
        """The item held by one data row."""
        if not self._names:
            raise RuntimeError("CsvRowDecoder.decode before the header is known")
        fields = self._fields(record, line, self._names)
        if len(fields) != len(self._names):
            self._fail(f"row has {len(fields)} fields, the header has {len(self._names)}", line)
        # Lengths were checked just above; zip(strict=True) would check them again per row.
        item = {name: {"S": cell} for name, cell in zip(self._names, fields, strict=False) if cell}
        for index, name, kind, required in self._typed:
            cell = fields[index]
            if not cell:
                if required:
                    raise ItemError(
                        f"missing the key {name!r}: its cell is empty",
                        source=self._source,
                        line=line,
                    )
            elif kind == "N":
                if not (len(cell) <= MAX_NUMBER_DIGITS and cell.isdigit() and cell.isascii()):
                    self._check_cell(kind, name, cell, line)
                item[name] = {"N": cell}
            elif kind == "B":
                self._check_cell(kind, name, cell, line)
                item[name] = {"B": cell}
        return item

    def _check_cell(self, kind: str, name: str, cell: str, line: int) -> None:
        try:
            if kind == "N":
                check_number(cell)
            else:
                binascii.a2b_base64(cell, strict_mode=True)
        except ItemError as exc:
            reason = exc.reason
        except ValueError as exc:  # binascii.Error, or text that is not ASCII
            reason = f"{cell[:40]!r} is not valid base64 ({exc})"
        else:
            return
        raise ItemError(f"column {name!r}: {reason}", source=self._source, line=line)

    def _fields(self, record: bytes, line: int, names: tuple[str, ...]) -> list[str]:
        try:
            text = record.decode()
        except UnicodeDecodeError as exc:
            where = line + record.count(b"\n", 0, exc.start)
            self._fail(f"not valid UTF-8 ({exc.reason} at byte {exc.start + 1} of the row)", where)
        if '"' not in text and "\r" not in text and "\n" not in text:
            return text.split(self._delimiter)
        if self._row.fullmatch(text) is None:
            self._fail(self._quote_problem(text, names), line)
        return [quoted.replace('""', '"') or plain for quoted, plain in self._cells.findall(text)]

    def _quote_problem(self, text: str, names: tuple[str, ...]) -> str:
        index = position = 0
        while True:
            match = self._one_field.match(text, position)
            assert match is not None  # the unquoted alternative matches the empty string
            after = text[match.end() : match.end() + 1]
            if after != self._delimiter:
                break
            index, position = index + 1, match.end() + 1
        column = f"column {names[index]!r}" if index < len(names) else f"field {index + 1}"
        if match.group(1) is not None:
            return f"{column}: text after the closing quote (a quote inside must be doubled)"
        if after in ("\r", "\n"):
            return f"{column}: a line break ({after!r}) outside quotes"
        if match.end() == position:
            return f"{column}: a quoted value never closes"
        return f'{column}: a quote inside an unquoted value (quote it and double the quote: "a""b")'

    def _fail(self, reason: str, line: int) -> NoReturn:
        raise DataError(reason, source=self._source, line=line)
