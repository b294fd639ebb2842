"""DYNAMODB_JSON data lines: the spec's exact bytes out, strict validation in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbpipe.errors import DataError, ItemError
from ddbpipe.formats.ddbjson import (
    ChangeRecord,
    decode_change,
    decode_line,
    encode_item,
)
from ddbpipe.formats.lines import decode_lines
from ddbpipe.items import Item
from tests.support.strategies import ITEMS, nested

NATIVE = Path(__file__).resolve().parents[2] / "data" / "native"
AIRLINE_LINE = NATIVE / "transcribed" / "airline-2023-08-31" / "data-line-example.json"
SOURCE = "s3://bucket/AWSDynamoDB/01717200000123-1a2b3c4d/data/k7qv3xw2mzl5b4hrdyc6pnjt2e.json.gz"

# The two data lines of the spec's worked full export (§4), each ending in "\n".
SPEC_LINES = (
    b'{"Item":{"Artist":{"S":"Acme Band"},"SongTitle":{"S":"Happy Day"},"Year":{"N":"2019"},'
    b'"Price":{"N":"1.5"},"Plays":{"N":"2000"},"Tags":{"SS":["pop","rock"]},'
    b'"Cover":{"B":"iVBORw=="},"Explicit":{"BOOL":false},"Notes":{"NULL":true},'
    b'"Empty":{"S":""}}}\n'
    b'{"Item":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"},'
    b'"Year":{"N":"2020"},"Ratings":{"NS":["4.5","5"]},"Info":{"M":{"Label":{"S":"Indie"},'
    b'"Tracks":{"L":[{"N":"1"},{"S":"two"}]}}}}}\n'
)

# The spec's worked incremental export (§4), NEW_AND_OLD_IMAGES.
SPEC_CHANGES = (
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1717201234567890"}},'
    b'"Keys":{"Artist":{"S":"Acme Band"},"SongTitle":{"S":"Happy Day"}},'
    b'"OldImage":{"Artist":{"S":"Acme Band"},"SongTitle":{"S":"Happy Day"},"Plays":{"N":"2000"}},'
    b'"NewImage":{"Artist":{"S":"Acme Band"},"SongTitle":{"S":"Happy Day"},"Plays":{"N":"2500"}}}\n'
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1717202000000001"}},'
    b'"Keys":{"Artist":{"S":"Acme Band"},"SongTitle":{"S":"New Song"}},'
    b'"NewImage":{"Artist":{"S":"Acme Band"},"SongTitle":{"S":"New Song"},"Year":{"N":"2024"}}}\n'
    b'{"Metadata":{"WriteTimestampMicros":{"N":"1717203000000000"}},'
    b'"Keys":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"}},'
    b'"OldImage":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"},'
    b'"Year":{"N":"2020"}}}\n'
)


def read_items(chunks: Iterable[bytes], *, source: str) -> Iterator[tuple[int, Item]]:
    """The items of a file's bytes, with their line numbers."""
    return decode_lines(chunks, decode_line, source=source)


def read_changes(chunks: Iterable[bytes], *, source: str) -> Iterator[tuple[int, ChangeRecord]]:
    """The change records of a file's bytes, with their line numbers."""
    return decode_lines(chunks, decode_change, source=source)


def test_transcribed_real_line_decodes_and_reencodes() -> None:
    data = AIRLINE_LINE.read_bytes()
    item = decode_line(data.rstrip(b"\n"), source=str(AIRLINE_LINE), line_number=1)
    assert list(item)[:3] == ["Passenger ID", "Country Name", "Departure Date"]
    assert item["Passenger ID"] == {"N": "49010"}
    assert item["Age"] == {"S": "69"}
    assert len(item) == 15
    assert encode_item(item) == data


def test_spec_example_lines_round_trip_byte_for_byte() -> None:
    items = [item for _, item in read_items([SPEC_LINES], source=SOURCE)]
    assert items[0]["Cover"] == {"B": "iVBORw=="}
    assert items[0]["Notes"] == {"NULL": True}
    assert items[1]["Info"]["M"]["Tracks"] == {"L": [{"N": "1"}, {"S": "two"}]}
    assert b"".join(encode_item(item) for item in items) == SPEC_LINES


def test_encoding_is_compact_and_keeps_text_as_utf8() -> None:
    line = encode_item({"név": {"S": "日本\u2028😀"}, "b": {"B": "AAEC"}, "n": {"N": "-1.5"}})
    assert (
        line == '{"Item":{"név":{"S":"日本\u2028😀"},"b":{"B":"AAEC"},"n":{"N":"-1.5"}}}\n'.encode()
    )


@settings(max_examples=300)
@given(ITEMS)
def test_round_trip_of_generated_items(item: dict[str, Any]) -> None:
    line = encode_item(item)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b"\r" not in line
    assert line.startswith(b'{"Item":{')
    assert decode_line(line[:-1]) == item


@settings(max_examples=50)
@given(st.lists(ITEMS, min_size=1, max_size=6), st.integers(min_value=1, max_value=64))
def test_streamed_file_round_trips(items: list[dict[str, Any]], chunk: int) -> None:
    data = b"".join(encode_item(item) for item in items)
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert list(read_items(chunks, source=SOURCE)) == list(enumerate(items, start=1))


def test_nesting_to_32_levels_round_trips_and_33_fails() -> None:
    item = {"deep": nested(32)}
    assert decode_line(encode_item(item)) == item
    with pytest.raises(ItemError, match="nesting deeper than 32"):
        decode_line(encode_item({"deep": nested(33)}))


GOOD = b'{"Item":{"id":{"S":"a"}}}'


@pytest.mark.parametrize(
    ("line", "error", "reason"),
    [
        (b'{"Item":{"id":{"S":"a"}', DataError, "malformed JSON"),
        (b'{"Item":{"id":{"S":"a","N":"1"}}}', ItemError, "exactly one type"),
        (b'{"Item":{"id":{}}}', ItemError, "exactly one type"),
        (b'{"Item":{"tags":{"SS":[]}}}', ItemError, "empty SS set"),
        (b'{"Item":{"nums":{"NS":[]}}}', ItemError, "empty NS set"),
        (b'{"Item":{"bins":{"BS":[]}}}', ItemError, "empty BS set"),
        (b'{"Item":{"tags":{"SS":["a","a"]}}}', ItemError, "duplicate"),
        (b'{"Item":{"nums":{"NS":["1","1.0"]}}}', ItemError, "duplicate"),
        (b'{"Item":{"n":{"N":"dog"}}}', ItemError, "not a number"),
        (b'{"Item":{"n":{"N":"1e200"}}}', ItemError, "too large"),
        (b'{"Item":{"n":{"N":"1' + b"1" * 38 + b'"}}}', ItemError, "significant digits"),
        (b'{"Item":{"n":{"N":12}}}', ItemError, "must be a JSON string"),
        (b'{"Item":{"b":{"B":"not base64!"}}}', ItemError, "not valid base64"),
        (b'{"Item":{"x":{"NULL":false}}}', ItemError, "NULL value must be true"),
        (b'{"Item":{"x":{"s":"lower-case type key"}}}', ItemError, "unknown attribute type"),
        (b'{"Item":{"x":"bare"}}', ItemError, "exactly one type"),
        (b'{"Item":{}}', ItemError, "no attributes"),
        (b'{"Item":[]}', ItemError, "must be a JSON object"),
        (b'{"id":{"S":"a"}}', DataError, 'no "Item"'),
        (b'{"Keys":{"id":{"S":"a"}}}', DataError, "incremental export record"),
        (b'{"Item":{"id":{"S":"a"}},"Extra":1}', DataError, "besides"),
        (b"[]", DataError, "must hold a JSON object"),
        (b"\xff\xfe", DataError, "malformed JSON"),
    ],
)
def test_bad_lines_name_file_line_and_reason(
    line: bytes, error: type[DataError], reason: str
) -> None:
    with pytest.raises(error, match=reason) as caught:
        list(read_items([GOOD + b"\n" + line + b"\n" + GOOD + b"\n"], source=SOURCE))
    assert caught.value.source == SOURCE
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"{SOURCE}, line 2: ")


def test_value_errors_name_the_attribute() -> None:
    with pytest.raises(ItemError, match=r"attribute 'price': .*not a number") as caught:
        decode_line(b'{"Item":{"id":{"S":"a"},"price":{"N":"NaN"}}}', source="f", line_number=7)
    assert str(caught.value).startswith("f, line 7: Item: attribute 'price'")


def test_spec_change_records_decode() -> None:
    records = [r for _, r in read_changes([SPEC_CHANGES], source=SOURCE)]
    update, insert, delete = records
    assert update.keys == {"Artist": {"S": "Acme Band"}, "SongTitle": {"S": "Happy Day"}}
    assert update.old_image is not None
    assert update.old_image["Plays"] == {"N": "2000"}
    assert update.new_image is not None
    assert update.new_image["Plays"] == {"N": "2500"}
    assert update.write_timestamp_micros == 1717201234567890
    assert insert.old_image is None
    assert insert.new_image is not None
    assert insert.new_image["Year"] == {"N": "2024"}
    assert delete.new_image is None
    assert delete.old_image is not None
    assert delete.write_timestamp_micros == 1717203000000000


@pytest.mark.parametrize(
    ("metadata", "micros"),
    [
        (b'{"WriteTimestampMicros":{"N":"1746609560577628"}}', 1746609560577628),
        (b'{"WriteTimestampMicros":"1746609560577628"}', 1746609560577628),
        (b'{"WriteTimestampMicros":1746609560577628}', 1746609560577628),
        (None, None),
    ],
)
def test_change_with_keys_only_and_any_timestamp_spelling(
    metadata: bytes | None, micros: int | None
) -> None:
    head = b"{" if metadata is None else b'{"Metadata":' + metadata + b","
    record = decode_change(head + b'"Keys":{"id":{"N":"7"}}}')
    assert record == ChangeRecord(
        keys={"id": {"N": "7"}}, new_image=None, old_image=None, write_timestamp_micros=micros
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"NewImage":{"id":{"S":"a"}}}', 'no "Keys"'),
        (b'{"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"SS":[]}}}', r"NewImage: .*empty SS"),
        (b'{"Keys":{"id":{"S":"a"}},"Item":{"id":{"S":"a"}}}', "unexpected keys"),
        (b'{"Metadata":{"WriteTimestampMicros":"soon"},"Keys":{"id":{"S":"a"}}}', "whole number"),
        (b'{"Keys":{}}', "Keys has no attributes"),
    ],
)
def test_bad_change_records_name_file_and_line(line: bytes, reason: str) -> None:
    good = b'{"Keys":{"id":{"S":"a"}}}\n'
    with pytest.raises(DataError, match=reason) as caught:
        list(read_changes([good, good, line + b"\n"], source=SOURCE))
    assert (caught.value.source, caught.value.line) == (SOURCE, 3)
