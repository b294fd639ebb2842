"""ION data lines: the docs' exact bytes out, any Ion spelling in, strict validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ddbpipe.formats.ion as ion
from ddbpipe.errors import DataError, ItemError
from ddbpipe.formats.ddbjson import ChangeRecord as JsonChangeRecord
from ddbpipe.formats.ion import (
    ChangeRecord,
    decode_change,
    decode_line,
    encode_change,
    encode_item,
)
from ddbpipe.formats.lines import decode_lines
from ddbpipe.items import Item, normalize_number
from tests.support.strategies import ITEMS, nested

SOURCE = "s3://bucket/AWSDynamoDB/01717200000123-1a2b3c4d/data/k7qv3xw2mzl5b4hrdyc6pnjt2e.ion.gz"

# The docs' two example lines (spec §3.2), each ending in "\n", and the items they hold.
SPEC_LINES = (
    b'$ion_1_0 {Item:{Artist:"Acme Band",SongTitle:"Happy Day",Year:2019.,Price:1.5,'
    b'Plays:2d3,Tags:$dynamodb_SS::["pop","rock"],Cover:{{iVBORw==}},Explicit:false,'
    b'Notes:null,Empty:""}}\n'
    b'$ion_1_0 {Item:{Artist:"No One You Know",SongTitle:"Call Me Today",Year:202d1,'
    b'Ratings:$dynamodb_NS::[4.5,5.],Info:{Label:"Indie",Tracks:[1.,"two"]}}}\n'
)
SPEC_ITEMS = [
    {
        "Artist": {"S": "Acme Band"},
        "SongTitle": {"S": "Happy Day"},
        "Year": {"N": "2019"},
        "Price": {"N": "1.5"},
        "Plays": {"N": "2000"},
        "Tags": {"SS": ["pop", "rock"]},
        "Cover": {"B": "iVBORw=="},
        "Explicit": {"BOOL": False},
        "Notes": {"NULL": True},
        "Empty": {"S": ""},
    },
    {
        "Artist": {"S": "No One You Know"},
        "SongTitle": {"S": "Call Me Today"},
        "Year": {"N": "2020"},
        "Ratings": {"NS": ["4.5", "5"]},
        "Info": {"M": {"Label": {"S": "Indie"}, "Tracks": {"L": [{"N": "1"}, {"S": "two"}]}}},
    },
]
KEYS = {"Artist": {"S": "Acme Band"}, "SongTitle": {"S": "Happy Day"}}


def read_items(chunks: Iterable[bytes], *, source: str) -> Iterator[tuple[int, Item]]:
    """The items of a file's bytes, with their line numbers."""
    return decode_lines(chunks, decode_line, source=source)


def read_changes(chunks: Iterable[bytes], *, source: str) -> Iterator[tuple[int, ChangeRecord]]:
    """The change records of a file's bytes, with their line numbers."""
    return decode_lines(chunks, decode_change, source=source)


def test_public_api_is_exactly_all() -> None:
    # Submodules become attributes when imported; they are not API.
    public = {
        name
        for name, value in vars(ion).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(ion.__all__)
    assert ion.ChangeRecord is JsonChangeRecord
    for name in ion.__all__:
        assert getattr(ion, name).__doc__, name


def test_spec_lines_decode_to_wire_items() -> None:
    assert [item for _, item in read_items([SPEC_LINES], source=SOURCE)] == SPEC_ITEMS


def test_spec_items_encode_to_the_docs_bytes() -> None:
    assert b"".join(encode_item(item) for item in SPEC_ITEMS) == SPEC_LINES


def test_line_without_version_marker_parses() -> None:
    assert decode_line(b' {Item:{"id":"a", n : 1}} // comment') == {
        "id": {"S": "a"},
        "n": {"N": "1"},
    }


@settings(max_examples=300)
@given(ITEMS)
def test_round_trip_of_generated_items(item: dict[str, Any]) -> None:
    line = encode_item(item)
    assert line.startswith(b"$ion_1_0 {Item:{")
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert b"\r" not in line
    assert decode_line(line[:-1]) == item


@settings(max_examples=50)
@given(st.lists(ITEMS, min_size=1, max_size=6), st.integers(min_value=1, max_value=64))
def test_streamed_file_round_trips(items: list[dict[str, Any]], chunk: int) -> None:
    data = b"".join(encode_item(item) for item in items)
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert list(read_items(chunks, source=SOURCE)) == list(enumerate(items, start=1))


@settings(max_examples=150)
@given(
    ITEMS,
    st.one_of(st.none(), ITEMS),
    st.one_of(st.none(), ITEMS),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1)),
)
def test_round_trip_of_generated_change_records(
    keys: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None, micros: int | None
) -> None:
    record = ChangeRecord(keys=keys, new_image=new, old_image=old, write_timestamp_micros=micros)
    line = encode_change(record)
    assert line.startswith(b"$ion_1_0 {")
    assert b"\n" not in line[:-1]
    assert b"\r" not in line
    assert decode_change(line[:-1]) == record


def test_encode_change_writes_metadata_as_an_int_and_omits_what_is_absent() -> None:
    update = ChangeRecord(
        keys=KEYS,
        old_image={**KEYS, "Plays": {"N": "2000"}},
        new_image={**KEYS, "Plays": {"N": "2500"}},
        write_timestamp_micros=1717201234567890,
    )
    assert encode_change(update) == (
        b'$ion_1_0 {Metadata:{WriteTimestampMicros:1717201234567890},Keys:{Artist:"Acme Band",'
        b'SongTitle:"Happy Day"},OldImage:{Artist:"Acme Band",SongTitle:"Happy Day",Plays:2d3},'
        b'NewImage:{Artist:"Acme Band",SongTitle:"Happy Day",Plays:25d2}}\n'
    )
    delete = ChangeRecord(keys={"id": {"N": "7"}}, new_image=None, old_image=None)
    assert encode_change(delete) == b"$ion_1_0 {Keys:{id:7.}}\n"


def test_nesting_to_32_levels_round_trips_and_33_fails() -> None:
    item = {"deep": nested(32)}
    assert decode_line(encode_item(item)[:-1]) == item
    with pytest.raises(ItemError, match="nesting deeper than 32"):
        decode_line(encode_item({"deep": nested(33)})[:-1])


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("number", "ion_text"),
    [
        ("0", "0."),
        ("103", "103."),
        ("2019", "2019."),
        ("2000", "2d3"),
        ("2020", "202d1"),
        ("600", "6d2"),
        ("-2000", "-2d3"),
        ("-3", "-3."),
        ("1.5", "1.5"),
        ("0.001", "0.001"),
        ("-12.25", "-12.25"),
        ("1" + "0" * 125, "1d125"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678."),
        # Spellings DynamoDB itself would not return are normalised on the way out.
        ("-0", "0."),
        ("0.0", "0."),
        ("1.50", "1.5"),
        ("007", "7."),
        ("+5", "5."),
        ("1e3", "1d3"),
        ("1E-130", "0." + "0" * 129 + "1"),
        (".5", "0.5"),
    ],
)
def test_numbers_are_written_as_ion_decimals(number: str, ion_text: str) -> None:
    line = encode_item({"n": {"N": number}})
    assert line == b"$ion_1_0 {Item:{n:" + ion_text.encode() + b"}}\n"
    assert normalize_number(decode_line(line[:-1])["n"]["N"]) == normalize_number(number)


@pytest.mark.parametrize(
    ("ion_text", "number"),
    [
        ("103.", "103"),
        ("6d2", "600"),
        ("2d3", "2000"),
        ("202d1", "2020"),
        ("1.5", "1.5"),
        ("15d-1", "1.5"),
        ("1.50", "1.5"),
        ("0.00100", "0.001"),
        ("1d-3", "0.001"),
        ("-12.25", "-12.25"),
        ("0x1F", "31"),
        ("-0b101", "-5"),
        ("1_000", "1000"),
        ("-3", "-3"),
        ("0", "0"),
        ("0.", "0"),
        ("-0.", "0"),
        ("-0d5", "0"),
        ("0d-10", "0"),
        ("1d125", "1" + "0" * 125),
        ("1d-130", "0." + "0" * 129 + "1"),
        ("9" * 38 + "d88", "9" * 38 + "0" * 88),
        (
            "12345678901234567890123456789012345678" + "0" * 10,
            "123456789012345678901234567890123456780000000000",
        ),
    ],
)
def test_any_ion_number_reads_as_dynamodb_plain_notation(ion_text: str, number: str) -> None:
    item = decode_line(b"{Item:{n:" + ion_text.encode() + b"}}")
    assert item == {"n": {"N": number}}
    assert type(item["n"]["N"]) is str


def test_number_sets_accept_ints_and_keep_order() -> None:
    item = decode_line(b"{Item:{ns:$dynamodb_NS::[0x10,2d3,1.5,-1]}}")
    assert item == {"ns": {"NS": ["16", "2000", "1.5", "-1"]}}
    assert encode_item(item) == b"$ion_1_0 {Item:{ns:$dynamodb_NS::[16.,2d3,1.5,-1.]}}\n"


# ---------------------------------------------------------------------------- text


def test_strings_escape_quotes_backslashes_and_every_control_character() -> None:
    text = 'a"b\\c\nd\re\tf\x00g\x1fh\x7fi'
    line = encode_item({"s": {"S": text}})
    assert line == b'$ion_1_0 {Item:{s:"a\\"b\\\\c\\nd\\re\\tf\\x00g\\x1fh\\x7fi"}}\n'
    assert decode_line(line[:-1]) == {"s": {"S": text}}


def test_other_text_stays_raw_utf8() -> None:
    text = "日本\u2028\u2029\u0085😀'"
    line = encode_item({"s": {"S": text}, "ss": {"SS": [text, "x"]}})
    assert line == f'$ion_1_0 {{Item:{{s:"{text}",ss:$dynamodb_SS::["{text}","x"]}}}}\n'.encode()
    assert decode_line(line[:-1])["s"] == {"S": text}


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Artist", "Artist"),
        ("_under_score1", "_under_score1"),
        ("A1", "A1"),
        ("1a", "'1a'"),
        ("a b", "'a b'"),
        ("a-b", "'a-b'"),
        ("it's", "'it\\'s'"),
        ('say "hi"', "'say \"hi\"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("line\nbreak", "'line\\nbreak'"),
        ("\x00", "'\\x00'"),
        (" ", "' '"),
        ("$x", "'$x'"),
        ("$1", "'$1'"),
        ("$ion_1_0", "'$ion_1_0'"),
        ("$dynamodb_SS", "'$dynamodb_SS'"),
        ("null", "'null'"),
        ("true", "'true'"),
        ("false", "'false'"),
        ("nan", "'nan'"),
        ("名前", "'名前'"),
        ("😀", "'😀'"),
    ],
)
def test_names_needing_quotes_round_trip(name: str, written: str) -> None:
    item = {name: {"S": "v"}, "m": {"M": {name: {"N": "1"}}}}
    line = encode_item(item)
    assert line == f'$ion_1_0 {{Item:{{{written}:"v",m:{{{written}:1.}}}}}}\n'.encode()
    assert decode_line(line[:-1]) == item


def test_symbol_values_read_as_strings() -> None:
    line = b"{Item:{a:hello,b:'two words',ss:$dynamodb_SS::[x,\"y\"]}}"
    assert decode_line(line) == {
        "a": {"S": "hello"},
        "b": {"S": "two words"},
        "ss": {"SS": ["x", "y"]},
    }


def test_binary_sets_and_empty_blobs() -> None:
    item = {"b": {"B": ""}, "bs": {"BS": ["AAEC", "/w==", ""]}}
    line = encode_item(item)
    assert line == b"$ion_1_0 {Item:{b:{{}},bs:$dynamodb_BS::[{{AAEC}},{{/w==}},{{}}]}}\n"
    assert decode_line(line[:-1]) == item
    assert decode_line(b"{Item:{b:{{ AA EC }}}}") == {"b": {"B": "AAEC"}}


# ---------------------------------------------------------------------------- rejections

GOOD = b'$ion_1_0 {Item:{id:"a"}}'


@pytest.mark.parametrize(
    ("line", "error", "reason"),
    [
        (b'{Item:{id:"a"}', DataError, "malformed Ion"),
        (b'{Item:{id:"a"}} {Item:{id:"b"}}', DataError, "malformed Ion .*more than 1 value"),
        (b"$ion_1_0", DataError, "no Ion value"),
        (b'{Item:{id:"\xff"}}', DataError, r"malformed Ion \(not UTF-8 at byte 11\)"),
        # amazon-ion 0.15's C reader segfaults on bad UTF-8 inside quoted symbols.
        (b"{Item:{'x\xaa':\"a\"}}", DataError, r"malformed Ion \(not UTF-8 at byte 9\)"),
        (b"{Item:{a:'\xc3'}}", DataError, r"malformed Ion \(not UTF-8 at byte 10\)"),
        (b"[1]", DataError, "the line must be an Ion struct, got Ion list"),
        (b"null.struct", DataError, "the line must be an Ion struct, got typed null"),
        (b'x::{Item:{id:"a"}}', DataError, "the line: annotation x:: is not allowed"),
        (b'{id:"a"}', DataError, "no field Item$"),
        (b'{Keys:{id:"a"}}', DataError, "incremental export record"),
        (b'{Item:{id:"a"},Extra:1}', DataError, "besides Item: 'Extra'"),
        (b'{Item:{id:"a"},Item:{id:"b"}}', DataError, "the line repeats the field 'Item'"),
        (b"{Item:[1]}", ItemError, "Item must be an Ion struct, got Ion list"),
        (b"{Item:{}}", ItemError, "Item has no attributes"),
        (b"{Item:{'':\"a\"}}", ItemError, "attribute name is empty"),
        (b'{Item:{$0:"a"}}', ItemError, "field name with no text"),
        (b"{Item:{a:1.,a:2.}}", ItemError, "Item repeats the field 'a'"),
        (
            b"{Item:{price:1.5e0}}",
            ItemError,
            r"Item: attribute 'price': Ion float 1\.5e0 is not a DynamoDB number; "
            r"write it as a decimal \(1\.5\)$",
        ),
        (b"{Item:{f:1e20}}", ItemError, r"Ion float 1e20 .*decimal \(100000000000000000000\)"),
        (b"{Item:{f:nan}}", ItemError, "'f': Ion float nan is not a DynamoDB number; .*NaN"),
        (b"{Item:{f:+inf}}", ItemError, r"Ion float \+inf is not a DynamoDB number"),
        (b"{Item:{f:-inf}}", ItemError, "Ion float -inf is not a DynamoDB number"),
        (b"{Item:{f:1e300}}", ItemError, "Ion float 1e300 is not a DynamoDB number"),
        (b"{Item:{t:2020-01-01T}}", ItemError, "'t': Ion timestamp is not a DynamoDB value; .*str"),
        (b"{Item:{x:(1 2)}}", ItemError, "'x': Ion sexp is not a DynamoDB value; write a list"),
        (b'{Item:{c:{{"text"}}}}', ItemError, "'c': Ion clob is not a DynamoDB value; .*blob"),
        (b"{Item:{s:null.string}}", ItemError, "'s': typed null null.string is not a Dyn"),
        (b"{Item:{n:null.decimal}}", ItemError, "typed null null.decimal"),
        (b"{Item:{m:null.struct}}", ItemError, "typed null null.struct"),
        (b"{Item:{s:$dynamodb_SS::null.list}}", ItemError, "typed null null.list"),
        (b'{Item:{s:foo::"x"}}', ItemError, "'s': annotation foo:: is not allowed"),
        (b'{Item:{s:$dynamodb_SS::"x"}}', ItemError, r"annotation \$dynamodb_SS:: is not all"),
        (b'{Item:{s:$dynamodb_XS::["x"]}}', ItemError, "annotation .dynamodb_XS::"),
        (b'{Item:{s:$dynamodb_SS::$dynamodb_SS::["x"]}}', ItemError, "_SS::.dynamodb_SS:: is"),
        (b"{Item:{m:$dynamodb_SS::{a:1}}}", ItemError, "annotation .dynamodb_SS:: is not"),
        (b'{Item:{l:[a::"x"]}}', ItemError, "'l': annotation a:: is not allowed"),
        (
            b'{Item:{ns:$dynamodb_NS::["1"]}}',
            ItemError,
            "NS set holds numbers .Ion decimals., got Ion string$",
        ),
        (
            b"{Item:{ns:$dynamodb_NS::[1e0]}}",
            ItemError,
            "NS set holds numbers .*, got Ion float 1.0e0$",
        ),
        (b"{Item:{ss:$dynamodb_SS::[1.]}}", ItemError, "SS set holds strings, got Ion decimal$"),
        (b'{Item:{bs:$dynamodb_BS::["AAEC"]}}', ItemError, "BS set holds blobs, got Ion string$"),
        (b"{Item:{ss:$dynamodb_SS::[null]}}", ItemError, "SS set holds strings, got null$"),
        (b'{Item:{ss:$dynamodb_SS::[a::"x"]}}', ItemError, "SS set element: annotation a::"),
        (b"{Item:{ss:$dynamodb_SS::[]}}", ItemError, "'ss': empty SS set"),
        (b"{Item:{ns:$dynamodb_NS::[]}}", ItemError, "empty NS set"),
        (b"{Item:{bs:$dynamodb_BS::[]}}", ItemError, "empty BS set"),
        (b'{Item:{ss:$dynamodb_SS::["a","a"]}}', ItemError, "'ss': SS set has duplicate"),
        (b"{Item:{ns:$dynamodb_NS::[1.,1.0,1]}}", ItemError, "NS set has duplicate"),
        (b"{Item:{bs:$dynamodb_BS::[{{AA==}},{{AA==}}]}}", ItemError, "BS set has duplicate"),
        (b"{Item:{m:{a:1.,b:{c:1,c:2}}}}", ItemError, "'m': a struct repeats the field 'c'"),
        (b"{Item:{n:1d200}}", ItemError, "'n': number .* is too large"),
        (b"{Item:{n:1d-200}}", ItemError, "'n': number .* is too small"),
        (b"{Item:{n:1" + b"1" * 38 + b".}}", ItemError, "significant digits"),
        (b"{Item:{n:1" + b"0" * 130 + b"}}", ItemError, "'n': Ion int of .* too large"),
        (b"{Item:{n:1" + b"0" * 126 + b"}}", ItemError, "'n': number .* is too large"),
        (b"{Item:{s:$0}}", ItemError, r"'s': symbol \$0 has no text"),
    ],
)
def test_bad_lines_name_file_line_and_reason(
    line: bytes, error: type[DataError], reason: str
) -> None:
    with pytest.raises(error, match=reason) as caught:
        list(read_items([GOOD + b"\n" + line + b"\n" + GOOD + b"\n"], source=SOURCE))
    assert type(caught.value) is error
    assert (caught.value.source, caught.value.line) == (SOURCE, 2)
    assert str(caught.value).startswith(f"{SOURCE}, line 2: ")


def test_value_errors_name_the_attribute_file_and_line() -> None:
    with pytest.raises(ItemError) as caught:
        decode_line(b'{Item:{id:"a",price:1.5e0}}', source="f.ion.gz", line_number=7)
    assert str(caught.value) == (
        "f.ion.gz, line 7: Item: attribute 'price': Ion float 1.5e0 is not a DynamoDB number; "
        "write it as a decimal (1.5)"
    )


def test_nesting_too_deep_for_the_ion_parser_is_malformed() -> None:
    with pytest.raises(DataError, match="malformed Ion") as caught:
        decode_line(b"{Item:{l:" + b"[" * 5000 + b"]" * 5000 + b"}}", source="f", line_number=3)
    assert (caught.value.source, caught.value.line) == ("f", 3)


# ---------------------------------------------------------------------------- change records

SPEC_CHANGES = (
    b"$ion_1_0 {Metadata:{WriteTimestampMicros:1717201234567890},"
    b'Keys:{Artist:"Acme Band",SongTitle:"Happy Day"},'
    b'OldImage:{Artist:"Acme Band",SongTitle:"Happy Day",Plays:2d3},'
    b'NewImage:{Artist:"Acme Band",SongTitle:"Happy Day",Plays:25d2}}\n'
    b"$ion_1_0 {Metadata:{WriteTimestampMicros:1717202000000001},"
    b'Keys:{Artist:"Acme Band",SongTitle:"New Song"},'
    b'NewImage:{Artist:"Acme Band",SongTitle:"New Song",Year:2024.}}\n'
    b'$ion_1_0 {Keys:{Artist:"No One You Know",SongTitle:"Call Me Today"},'
    b'OldImage:{Artist:"No One You Know",SongTitle:"Call Me Today",Year:202d1}}\n'
)


def test_change_records_decode_and_reencode_byte_for_byte() -> None:
    records = [r for _, r in read_changes([SPEC_CHANGES], source=SOURCE)]
    update, insert, delete = records
    assert update.keys == KEYS
    assert update.old_image == {**KEYS, "Plays": {"N": "2000"}}
    assert update.new_image == {**KEYS, "Plays": {"N": "2500"}}
    assert update.write_timestamp_micros == 1717201234567890
    assert insert.old_image is None
    assert insert.new_image is not None
    assert insert.new_image["Year"] == {"N": "2024"}
    assert delete.new_image is None
    assert delete.old_image is not None
    assert delete.old_image["Year"] == {"N": "2020"}
    assert delete.write_timestamp_micros is None
    assert b"".join(encode_change(r) for r in records) == SPEC_CHANGES


@pytest.mark.parametrize(
    ("metadata", "micros"),
    [
        (b"{WriteTimestampMicros:1746609560577628}", 1746609560577628),
        (b"{WriteTimestampMicros:1746609560577628.}", 1746609560577628),
        (b"{WriteTimestampMicros:1746609560577628d0}", 1746609560577628),
        (b"{WriteTimestampMicros:17466095605776280d-1}", 1746609560577628),
        (b'{WriteTimestampMicros:"1746609560577628"}', 1746609560577628),
        (b'{WriteTimestampMicros:{N:"1746609560577628"}}', 1746609560577628),
        (b"{WriteTimestampMicros:null}", None),
        (b"{}", None),
        (b"null", None),
        (None, None),
    ],
)
def test_change_with_keys_only_and_any_timestamp_spelling(
    metadata: bytes | None, micros: int | None
) -> None:
    head = b"{" if metadata is None else b"{Metadata:" + metadata + b","
    record = decode_change(head + b"Keys:{id:7}}")
    assert record == ChangeRecord(
        keys={"id": {"N": "7"}}, new_image=None, old_image=None, write_timestamp_micros=micros
    )


def test_null_images_read_as_absent() -> None:
    record = decode_change(b'{Keys:{id:"a"},OldImage:null,NewImage:{id:"a"}}')
    assert record.old_image is None
    assert record.new_image == {"id": {"S": "a"}}


@pytest.mark.parametrize(
    ("line", "error", "reason"),
    [
        (b'{NewImage:{id:"a"}}', DataError, "no field Keys"),
        (b'{Keys:{id:"a"},Item:{id:"a"}}', DataError, r"unexpected fields .*\['Item'\]"),
        (b'{Keys:{id:"a"},Keys:{id:"b"}}', DataError, "repeats the field 'Keys'"),
        (b"{Keys:{}}", ItemError, "Keys has no attributes"),
        (b"{Keys:[]}", ItemError, "Keys must be an Ion struct"),
        (b'{Keys:{id:"a"},NewImage:{s:$dynamodb_SS::[]}}', ItemError, "NewImage: .*empty SS"),
        (b'{Keys:{id:"a"},OldImage:{f:1e0}}', ItemError, "OldImage: attribute 'f': Ion float"),
        (b'{Keys:{id:"a"},NewImage:"x"}', ItemError, "NewImage must be an Ion struct"),
        (b'{Metadata:[],Keys:{id:"a"}}', DataError, "Metadata must be an Ion struct"),
        (b'{Metadata:{WriteTimestampMicros:"soon"},Keys:{id:"a"}}', DataError, "whole number"),
        (b'{Metadata:{WriteTimestampMicros:1.5},Keys:{id:"a"}}', DataError, "whole number"),
        (b'{Metadata:{WriteTimestampMicros:1e15},Keys:{id:"a"}}', DataError, "got Ion float"),
        (b'{Metadata:{WriteTimestampMicros:-1},Keys:{id:"a"}}', DataError, "whole number"),
        (b'{Metadata:{WriteTimestampMicros:1d30},Keys:{id:"a"}}', DataError, "whole number"),
        (b'{Metadata:{WriteTimestampMicros:"-1"},Keys:{id:"a"}}', DataError, "whole number"),
        (b'{Keys:{id:"a"}} {Keys:{id:"b"}}', DataError, "malformed Ion"),
    ],
)
def test_bad_change_records_name_file_and_line(
    line: bytes, error: type[DataError], reason: str
) -> None:
    good = b'$ion_1_0 {Keys:{id:"a"}}\n'
    with pytest.raises(error, match=reason) as caught:
        list(read_changes([good, good, line + b"\n"], source=SOURCE))
    assert type(caught.value) is error
    assert (caught.value.source, caught.value.line) == (SOURCE, 3)
    assert str(caught.value).startswith(f"{SOURCE}, line 3: ")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"X": "1"}, "unknown attribute type 'X'"),
        ({}, "holds no type"),
        ({"N": "dog"}, "'dog' is not a number"),
    ],
)
def test_encoding_a_value_not_in_wire_form_raises_item_error(
    value: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ItemError, match=reason):
        encode_item({"x": value})
