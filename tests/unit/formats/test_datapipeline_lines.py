"""The Data Pipeline line codec: exact bytes out, everything that exists in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbpipe.errors import DataError, ItemError
from ddbpipe.formats.datapipeline import (
    decode_line,
    decode_manifest,
    encode_item,
    encode_items,
    encode_manifest,
    encode_page,
    read_items,
)
from ddbpipe.formats.lines import LineStats, iter_lines
from ddbpipe.items import validate_item
from tests.support.samples import DATAPIPELINE, V1_DATA_FILES
from tests.support.strategies import ITEMS, nested

_GSON_KEYS = {
    "S": "s",
    "N": "n",
    "B": "b",
    "SS": "sS",
    "NS": "nS",
    "BS": "bS",
    "BOOL": "bOOL",
    "NULL": "nULLValue",
}


def gson_reference(item: dict[str, Any]) -> bytes:
    """What Gson writes, by the independent recipe the format spec verified."""

    def value(v: dict[str, Any]) -> dict[str, Any]:
        ((kind, data),) = v.items()
        if kind == "M":
            return {"m": {k: value(x) for k, x in data.items()}}
        if kind == "L":
            return {"l": [value(x) for x in data]}
        return {_GSON_KEYS[kind]: data}

    text = json.dumps(
        {k: value(v) for k, v in item.items()}, ensure_ascii=False, separators=(",", ":")
    )
    return (text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n").encode()


@pytest.mark.parametrize("path", V1_DATA_FILES, ids=lambda p: p.name)
def test_sample_data_files_reencode_byte_for_byte(path: Any) -> None:
    data = path.read_bytes()
    items = [item for _, item in read_items([data], source=str(path))]
    assert len(items) == data.count(b"\n")
    assert encode_items(items) == data


def test_sample_values_decode_to_wire_form() -> None:
    first = V1_DATA_FILES[0].read_bytes().splitlines()
    item = decode_line(first[2])
    assert item["Thumbnail"] == {"B": "AAEC/v8="}
    assert item["Discontinued"] == {"NULL": True}
    assert item["Big"] == {"N": "12345678901234567890123456789012345678"}
    assert item["Pictures"] == {"BS": ["aGVsbG8=", "3q2+7w=="]}
    second = V1_DATA_FILES[1].read_bytes().splitlines()
    nested_item = decode_line(second[0])
    assert nested_item["Address"]["M"]["empty"] == {
        "M": {"emptyMap": {"M": {}}, "emptyList": {"L": []}}
    }
    text_item = decode_line(second[1])
    assert text_item["Unicode"] == {"S": "café 青 😀 \u2028"}
    assert text_item["Controls"] == {"S": "tab\tnl\ncr\rstx\x02etx\x03nul\x00"}
    assert text_item["Tags"] == {"SS": ["red", "grün", ""]}


def test_legacy_hive_layout_reads_as_the_json_layout() -> None:
    legacy = (DATAPIPELINE / "synthetic-legacy-hive-format.txt").read_bytes()
    legacy_items = [i for _, i in read_items([legacy], source="legacy")]
    json_items = [i for _, i in read_items([V1_DATA_FILES[0].read_bytes()], source="v1")]
    assert legacy_items[1:] == json_items[1:]
    # The first JSON line carries the same attributes (the legacy one lists them in one order).
    assert legacy_items[0] == json_items[0]


def test_connector_legacy_test_line() -> None:
    data = (DATAPIPELINE / "connector-test-legacy-line.txt").read_bytes()
    [(number, item)] = list(read_items([data], source="connector"))
    assert number == 1
    assert item == {"attr1": {"S": "seattle"}, "attr2": {"NS": ["123", "456", "789"]}}


def test_public_blog_lines() -> None:
    data = (DATAPIPELINE / "public-blog-2016-import-lines.jsonl").read_bytes()
    items = [i for _, i in read_items([data], source="blog")]
    assert items[0] == {
        "BicycleType": {"S": "Hybrid"},
        "Brand": {"S": "Brand-Company C"},
        "Price": {"N": "100000"},
    }
    assert len(items) == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"a":{"S":"x"}}', {"a": {"S": "x"}}),
        (b'{"a":{"ss":["x"]},"b":{"Bool":true}}', {"a": {"SS": ["x"]}, "b": {"BOOL": True}}),
        (b'{"a":{"nULL":true}}', {"a": {"NULL": True}}),
        (b'{"a":{"NULL":true},"b":{"null":true}}', {"a": {"NULL": True}, "b": {"NULL": True}}),
        (b'{"a":{"n":123}}', {"a": {"N": "123"}}),
        (b'{"a":{"n":1.50}}', {"a": {"N": "1.50"}}),
        (
            b'{"a":{"n":123456789012345678901234567890123456}}',
            {"a": {"N": "123456789012345678901234567890123456"}},
        ),
        (b'{"a":{"nS":[1.10,"2"]}}', {"a": {"NS": ["1.10", "2"]}}),
        (b'{"a":{"b":"AAEC_v8"}}', {"a": {"B": "AAEC/v8="}}),
        (b'{"a":{"b":"AAEC-v8="}}', {"a": {"B": "AAEC+v8="}}),
        (b'{"a":{"bS":["aGVsbG8"]}}', {"a": {"BS": ["aGVsbG8="]}}),
        (b'{"a":{"bOOL":"true"}}', {"a": {"BOOL": True}}),
        (b'{"a":{"s":"x","n":null}}', {"a": {"S": "x"}}),
        (b'  {"a":{"s":"x"}}  ', {"a": {"S": "x"}}),
    ],
)
def test_reader_takes_every_known_spelling(line: bytes, expected: dict[str, Any]) -> None:
    assert decode_line(line) == expected


def test_crlf_blank_lines_and_bom() -> None:
    data = b'\xef\xbb\xbf{"a":{"s":"1"}}\r\n\r\n   \n{"a":{"s":"2"}}\r\n{"a":{"s":"3"}}'
    stats = LineStats()
    got = list(read_items([data], source="f", stats=stats))
    assert [(n, i["a"]["S"]) for n, i in got] == [(1, "1"), (4, "2"), (5, "3")]
    assert stats.blank_lines == 2
    assert stats.blank_line_numbers == [2, 3]
    assert stats.items == 3


def test_lines_split_across_chunks() -> None:
    data = encode_items([{"k": {"S": "x" * n}} for n in range(50)])
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert [n for n, _ in iter_lines(chunks)] == list(range(1, 51))
    assert [i for _, i in read_items(chunks, source="f")] == [
        {"k": {"S": "x" * n}} for n in range(50)
    ]


def test_u0085_is_not_a_line_break() -> None:
    data = '{"a":{"s":"x\u0085y\u2028z"}}\n'.encode()
    assert [i for _, i in read_items([data], source="f")] == [{"a": {"S": "x\u0085y\u2028z"}}]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"a":{"s":"trunc', "malformed JSON at column"),
        (b'{"a":{"s":"x","n":"1"}}', "has 2 types"),
        (b'{"a":{"sS":[]}}', "empty SS set"),
        (b'{"a":{"nS":[]}}', "empty NS set"),
        (b'{"a":{"bS":[]}}', "empty BS set"),
        (b'{"a":{}}', "has no type"),
        (b'{"a":{"q":"x"}}', "unknown type key 'q'"),
        (b'{"a":{"n":"1e999"}}', "too large"),
        (b'{"a":{"n":"abc"}}', "not a number"),
        (b'{"a":{"b":"%%%"}}', "not valid base64"),
        (b'{"a":{"nULLValue":false}}', "null value must be true"),
        (b'{"a":{"bOOL":1}}', "must be true or false"),
        (b'{"a":"plain"}', "must be an object"),
        (b"{}", "item has no attributes"),
        (b"[1,2]", "neither a JSON object"),
        (b"just text", "neither a JSON object nor the legacy"),
        (b'a\x03{"s":"x"}\x02b', "attribute 2 has no"),
        (b'{"a":{"s":"\xff"}}', "not valid UTF-8"),
    ],
)
def test_bad_lines_name_file_line_and_reason(line: bytes, reason: str) -> None:
    data = b'{"ok":{"s":"1"}}\n' + line + b"\n"
    with pytest.raises(DataError, match=reason) as caught:
        list(read_items([data], source="s3://bucket/backup/part-1"))
    assert caught.value.source == "s3://bucket/backup/part-1"
    assert caught.value.line == 2
    assert str(caught.value).startswith("s3://bucket/backup/part-1, line 2: ")


def test_value_errors_name_the_attribute() -> None:
    with pytest.raises(ItemError, match="attribute 'tags': empty SS set"):
        decode_line(b'{"id":{"s":"1"},"tags":{"sS":[]}}')


def test_nesting_to_32_levels_round_trips_and_33_fails() -> None:
    item = {"deep": nested(32)}
    assert decode_line(encode_item(item)) == item
    with pytest.raises(ItemError, match="nesting deeper than 32"):
        decode_line(encode_item({"deep": nested(33)}))


@settings(max_examples=400, deadline=None)
@given(ITEMS)
def test_round_trip_of_generated_items(item: dict[str, Any]) -> None:
    line = encode_item(item)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b"\r" not in line
    assert decode_line(line[:-1]) == item
    assert line == gson_reference(item)
    validate_item(item)


@settings(max_examples=50, deadline=None)
@given(st.lists(ITEMS, max_size=20), st.integers(min_value=1, max_value=64))
def test_streamed_files_round_trip(items: list[dict[str, Any]], chunk: int) -> None:
    data = encode_items(items)
    assert b"\n\n" not in data
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert [i for _, i in read_items(chunks, source="f")] == items


def test_every_sample_file_is_read() -> None:
    read = 0
    for path in sorted(DATAPIPELINE.rglob("*")):
        if path.is_dir() or path.name == "README.md":
            continue
        data = path.read_bytes()
        if path.name == "_SUCCESS":
            assert data == b""
        elif path.name == "manifest":
            assert encode_manifest(decode_manifest(data).urls) == data
        else:
            items = [i for _, i in read_items([data], source=str(path))]
            assert len(items) == data.count(b"\n") > 0
        read += 1
    assert read == 9  # 3 loose files; 2 data files, 2 manifests, 2 _SUCCESS in the folders


@settings(max_examples=100, deadline=None)
@given(st.lists(ITEMS, max_size=12))
def test_page_encoding_equals_item_encoding(items: list[dict[str, Any]]) -> None:
    assert encode_page(items) == encode_items(items)


@pytest.mark.parametrize(
    "items",
    [
        [{"s": {"S": 'a,null,b},"",{c'}}, {"t": {"SS": ["", ",null,", '},"",{']}}],
        [{"M": {"S": "attribute named M"}}, {"k": {"M": {"S": {"S": "attribute named S"}}}}],
        [{"k": {"M": {"M": {"M": {}}}}}, {"NULL": {"NULL": True}, "BOOL": {"BOOL": False}}],
        [{"x": {"S": '{"S":"not a type key'}}, {"\u2028": {"S": "\u2029"}}],
        [{"0": {"NULL": True}}, {"BOOL": {"M": {}}}],  # an item that begins with BOOL
    ],
)
def test_page_encoding_of_tricky_pages(items: list[dict[str, Any]]) -> None:
    assert encode_page(items) == encode_items(items)
    assert [decode_line(line) for line in encode_page(items).splitlines()] == items


@pytest.mark.parametrize(
    "value",
    [b'{"sS":["a","a"]}', b'{"nS":["1","1.0"]}', b'{"bS":["AA==","AA"]}', b'{"SS":["x","x"]}'],
)
def test_sets_with_duplicates_are_refused(value: bytes) -> None:
    with pytest.raises(ItemError, match="set has duplicate elements"):
        decode_line(b'{"a":' + value + b"}")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("0", True),
        ("-12.50", True),
        ("1" * 38, True),
        ("1" * 39, False),
        ("1e5", True),
        (".5", True),
        ("1.", True),
        ("-", False),
        ("١٢", False),
        ("1.2.3", False),
        ("+7", True),
    ],
)
def test_numbers_on_the_fast_and_general_paths(text: str, ok: bool) -> None:
    line = b'{"a":{"n":"' + text.encode() + b'"}}'
    if ok:
        assert decode_line(line) == {"a": {"N": text}}
    else:
        with pytest.raises(ItemError):
            decode_line(line)
