"""CSV import rows: DynamoDB's Import from S3 rules, streamed from chunks of any size."""

from __future__ import annotations

import base64
import csv
import io
import itertools
from collections.abc import Iterable, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ddbpipe.formats.csv
from ddbpipe.errors import ConfigError, DataError, ItemError
from ddbpipe.formats.csv import CSV_DELIMITERS, CsvOptions, CsvRowDecoder, iter_records
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import Item
from tests.support.strategies import numbers

SOURCE = "s3://music-src/imports/music.csv"
MUSIC_TYPES = {"Artist": "S", "SongTitle": "S", "Year": "N"}
MUSIC_KEYS = ("Artist", "SongTitle")

# The spec's worked CSV import (§5.7).
SPEC_FILE = (
    b"Artist,SongTitle,Year,Price,Tags\n"
    b'Acme Band,Happy Day,2019,1.50,"pop,rock"\n'
    b'No One You Know,"Call ""Me"" Today",2020,0.99,indie\n'
)
SPEC_ITEMS = [
    {
        "Artist": {"S": "Acme Band"},
        "SongTitle": {"S": "Happy Day"},
        "Year": {"N": "2019"},
        "Price": {"S": "1.50"},
        "Tags": {"S": "pop,rock"},
    },
    {
        "Artist": {"S": "No One You Know"},
        "SongTitle": {"S": 'Call "Me" Today'},
        "Year": {"N": "2020"},
        "Price": {"S": "0.99"},
        "Tags": {"S": "indie"},
    },
]

# Header, BOM, CRLF, quoted delimiters and line breaks, blank lines, a numeric hash key,
# a string range key and multi-byte characters: every case a chunk boundary can split.
ORDERS = (
    b"\xef\xbb\xbfcustomer,order,note,total\r\n"
    b'17,A-1,"plain, with comma",12.50\r\n'
    b"\r\n"
    b'18,"B-2","two\r\nlines ""quoted"" \xc3\xa9\xf0\x9f\x98\x80",\r\n'
    b'19,C-3,"lf\nonly",\r\n'
    b"   \r\n"
    b"20,D-4,,7\r\n"
)
ORDERS_TYPES = {"customer": "N", "order": "S"}
ORDERS_KEYS = ("customer", "order")


def read(
    chunks: Iterable[bytes],
    options: CsvOptions | None = None,
    key_types: Mapping[str, str] = MUSIC_TYPES,
    key_names: Sequence[str] = MUSIC_KEYS,
    stats: LineStats | None = None,
) -> list[tuple[int, Item]]:
    """What an import reads from one file: ``(line, item)`` for each data row."""
    options = options or CsvOptions()
    decoder = CsvRowDecoder(options, key_types, key_names, source=SOURCE)
    records = iter_records(chunks, source=SOURCE, stats=stats, delimiter=options.delimiter)
    items = []
    for line, record in records:
        if decoder.needs_header:
            decoder.read_header(record, line)
        else:
            items.append((line, decoder.decode(record, line)))
    return items


def test_public_api_is_exactly_all() -> None:
    public = {name for name in vars(ddbpipe.formats.csv) if not name.startswith("_")}
    assert public - {"rows"} == set(ddbpipe.formats.csv.__all__)


def test_spec_example_types_only_keys_and_index_keys() -> None:
    assert [item for _, item in read([SPEC_FILE])] == SPEC_ITEMS


def test_spec_semicolon_file_with_header_list() -> None:
    options = CsvOptions(delimiter=";", header=("Artist", "SongTitle", "Year", "Price", "Tags"))
    assert options.problems() == []
    data = (
        b"Acme Band;Happy Day;2019;1.50;pop,rock\n"
        b'No One You Know;"Call ""Me"" Today";2020;0.99;indie'
    )
    assert read([data], options) == list(enumerate(SPEC_ITEMS, start=1))


def test_quoted_multiline_crlf_file_with_numeric_hash_key() -> None:
    stats = LineStats()
    items = read([ORDERS], key_types=ORDERS_TYPES, key_names=ORDERS_KEYS, stats=stats)
    assert items == [
        (2, {"customer": {"N": "17"}, "order": {"S": "A-1"}, "note": {"S": "plain, with comma"},
             "total": {"S": "12.50"}}),
        (4, {"customer": {"N": "18"}, "order": {"S": "B-2"},
             "note": {"S": 'two\r\nlines "quoted" é😀'}}),
        (6, {"customer": {"N": "19"}, "order": {"S": "C-3"}, "note": {"S": "lf\nonly"}}),
        (9, {"customer": {"N": "20"}, "order": {"S": "D-4"}, "total": {"S": "7"}}),
    ]  # fmt: skip
    assert (stats.blank_lines, stats.blank_line_numbers, stats.bytes) == (2, [3, 8], len(ORDERS))


def test_bad_row_after_multiline_rows_names_its_physical_line() -> None:
    data = ORDERS + b'21,"E\n5",x\r\n'
    with pytest.raises(DataError, match="row has 3 fields, the header has 4") as caught:
        read([data], key_types=ORDERS_TYPES, key_names=ORDERS_KEYS)
    assert (caught.value.source, caught.value.line) == (SOURCE, 10)
    assert str(caught.value).startswith(f"{SOURCE}, line 10: ")


def test_records_keep_inner_line_breaks_and_drop_the_final_one() -> None:
    records = list(iter_records([ORDERS], source=SOURCE))
    assert [line for line, _ in records] == [1, 2, 4, 6, 9]
    assert records[2][1] == b'18,"B-2","two\r\nlines ""quoted"" \xc3\xa9\xf0\x9f\x98\x80",'
    assert records[3][1] == b'19,C-3,"lf\nonly",'


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=len(ORDERS)), max_size=12))
def test_chunk_boundaries_anywhere_give_the_same_rows(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(ORDERS)]
    chunks = [ORDERS[a:b] for a, b in itertools.pairwise(bounds)]
    stats = LineStats()
    assert list(iter_records(chunks, source=SOURCE, stats=stats)) == list(
        iter_records([ORDERS], source=SOURCE)
    )
    assert (stats.blank_line_numbers, stats.bytes) == ([3, 8], len(ORDERS))
    whole = read([ORDERS], key_types=ORDERS_TYPES, key_names=ORDERS_KEYS)
    assert read(chunks, key_types=ORDERS_TYPES, key_names=ORDERS_KEYS) == whole


# Any text a CSV can hold: quotes, every delimiter, line breaks, unicode.
CELLS = st.lists(
    st.one_of(
        st.sampled_from(['"', '""', "\n", "\r\n", "\r", *CSV_DELIMITERS]),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=8,
).map("".join)
KEYS = CELLS.filter(lambda text: text.strip(" \t\r\n\x0b\x0c") != "")
BINARY = st.binary(min_size=1, max_size=12).map(lambda raw: base64.b64encode(raw).decode())


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(KEYS, st.one_of(st.just(""), numbers()), BINARY, CELLS, CELLS),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(CSV_DELIMITERS),
    st.booleans(),
    st.integers(min_value=1, max_value=40),
)
def test_rows_written_by_python_csv_read_back(
    rows: list[tuple[str, ...]], delimiter: str, quote_all: bool, chunk: int
) -> None:
    header = ("pk", "Rank", "Blob", "a", "b")
    out = io.StringIO()
    # Unquoted, a lone "\r" is an error; a "\n" line end leaves it unquoted unless all are.
    if quote_all:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
    else:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([header, *rows])
    data = out.getvalue().encode()
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    types = {"pk": "S", "Rank": "N", "Blob": "B"}
    items = read(chunks, CsvOptions(delimiter=delimiter), types, ["pk"])
    kinds = ("S", "N", "B", "S", "S")
    expected = [
        {name: {kind: cell} for name, kind, cell in zip(header, kinds, row, strict=True) if cell}
        for row in rows
    ]
    assert [item for _, item in items] == expected


def test_empty_cells_leave_attributes_out_but_not_keys() -> None:
    types = {**MUSIC_TYPES, "Cover": "B"}
    data = b'Artist,SongTitle,Year,Cover,Notes\nA,T,,,\nA,U,2001,AAEC,""\n'
    full = {
        "Artist": {"S": "A"},
        "SongTitle": {"S": "U"},
        "Year": {"N": "2001"},
        "Cover": {"B": "AAEC"},
    }
    assert [item for _, item in read([data], key_types=types)] == [
        {"Artist": {"S": "A"}, "SongTitle": {"S": "T"}},
        full,
    ]


def test_header_list_makes_the_first_row_data_and_header_names_are_exact() -> None:
    options = CsvOptions(header=("Artist", "SongTitle"))
    assert read([b"A,T\n"], options) == [(1, {"Artist": {"S": "A"}, "SongTitle": {"S": "T"}})]
    with pytest.raises(DataError, match="no column for the key 'SongTitle'"):
        read([b"Artist,songtitle\nA,T\n"])


HEADER = b"Artist,SongTitle,Year\n"


@pytest.mark.parametrize(
    ("data", "error", "line", "reason"),
    [
        (b"A,T,1,extra\n", DataError, 2, "row has 4 fields, the header has 3"),
        (b"\nA,T\n", DataError, 3, "row has 2 fields, the header has 3"),
        (b'A,"T\n\n",1\n,T,1\n', ItemError, 5, "missing the key 'Artist': its cell is empty"),
        (b'A,"",1\n', ItemError, 2, "missing the key 'SongTitle'"),
        (b"A,T,1.5.0\n", ItemError, 2, "column 'Year': '1.5.0' is not a number"),
        (b"A,T,1e200\n", ItemError, 2, "column 'Year': .*too large"),
        (b"A,T, 7\n", ItemError, 2, "column 'Year': ' 7' is not a number"),
        (b'A,"T\n",1\nA,"never closed,1\n', DataError, 4, "quoted field opened in this row never"),
        (b'A,T"x,1\n', DataError, 2, "column 'SongTitle': a quote inside an unquoted value"),
        (b'A,"T"x,1\n', DataError, 2, "column 'SongTitle': text after the closing quote"),
        (b"A,T\r,1\n", DataError, 2, r"column 'SongTitle': a line break \('\\r'\) outside quotes"),
        (b'A,"x\n\xff",1\n', DataError, 3, "not valid UTF-8"),
    ],
)
def test_bad_rows_name_file_line_column_and_reason(
    data: bytes, error: type[DataError], line: int, reason: str
) -> None:
    with pytest.raises(error, match=reason) as caught:
        read([HEADER + data])
    assert (caught.value.source, caught.value.line) == (SOURCE, line)
    assert str(caught.value).startswith(f"{SOURCE}, line {line}: ")


def test_bad_binary_key_names_the_column() -> None:
    types = {"id": "B"}
    with pytest.raises(ItemError, match="column 'id': 'AAE' is not valid base64") as caught:
        read([b"id\nAAEC\nAAE\n"], key_types=types, key_names=["id"])
    assert (caught.value.source, caught.value.line) == (SOURCE, 3)
    with pytest.raises(ItemError, match="column 'id': 'é' is not valid base64"):
        read([b"id\n\xc3\xa9\n"], key_types=types, key_names=["id"])


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"Artist,Year\n", "the header has no column for the key 'SongTitle'"),
        (b"Artist,SongTitle,Artist\n", "column 'Artist' appears twice in the header"),
        (b"Artist,,SongTitle\n", "header column 2 has no name"),
        (b'Artist,"Song\nTitle,Year\n', "quoted field opened in this row never closes"),
        (b'\xef\xbb\xbfArtist,Song"Title\n', "field 2: a quote inside an unquoted value"),
    ],
)
def test_bad_header_rows_name_line_one(header: bytes, reason: str) -> None:
    with pytest.raises(DataError, match=reason) as caught:
        read([header + b"A,T\n"])
    assert (caught.value.source, caught.value.line) == (SOURCE, 1)


def test_header_list_without_a_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="header list has no column for the key 'SongTitle'"):
        CsvRowDecoder(CsvOptions(header=("Artist",)), MUSIC_TYPES, MUSIC_KEYS, source=SOURCE)


def test_options_report_every_problem() -> None:
    assert CsvOptions().problems() == []
    assert all(CsvOptions(delimiter=d).problems() == [] for d in CSV_DELIMITERS)
    assert CsvOptions(header=("a" * 65536, "x y!~")).problems() == []
    problems = CsvOptions(delimiter=",;", header=("ok", "", "a,b", 'q"', "ok", "é")).problems()
    assert problems == [
        "the CSV delimiter must be one of , ; : | TAB or space, not ',;'",
        "CSV header name 2 must be 1 to 65536 characters long",
        "CSV header name 'a,b' may hold only printable ASCII characters other than \" and ,",
        "CSV header name 'q\"' may hold only printable ASCII characters other than \" and ,",
        "CSV header name 'ok' appears more than once",
        "CSV header name 'é' may hold only printable ASCII characters other than \" and ,",
    ]
    assert CsvOptions(delimiter="").problems()[0].endswith("not ''")
    assert CsvOptions(header=()).problems() == [
        "the CSV header list must have 1 to 255 names, not 0"
    ]
    too_many = CsvOptions(header=tuple(f"c{i}" for i in range(256)))
    assert too_many.problems() == ["the CSV header list must have 1 to 255 names, not 256"]
    assert "1 to 65536" in CsvOptions(header=("a" * 65537,)).problems()[0]


def test_runaway_quote_stops_at_the_row_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ddbpipe.formats.csv.rows._MAX_ROW_BYTES", 64)
    data = HEADER + b"A,T,1\n" + b'A,"open,1\n' + b"more,lines,here\n" * 10
    with pytest.raises(DataError, match="over 16 MiB") as caught:
        read([data[i : i + 16] for i in range(0, len(data), 16)])
    assert (caught.value.source, caught.value.line) == (SOURCE, 3)
    with pytest.raises(DataError, match="over 16 MiB") as caught:
        read([HEADER + b"A,T,1\n" + b"x" * 100])
    assert caught.value.line == 3
