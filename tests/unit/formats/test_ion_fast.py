"""The fast ION reader: what it takes it reads exactly as amazon-ion does; the rest it
leaves to amazon-ion."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from ddbpipe.errors import DataError
from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.formats.ion import decode_change, decode_line, encode_change, encode_item
from ddbpipe.formats.ion import reader as slow
from ddbpipe.formats.ion.fast import fast_change, fast_item
from tests.support.strategies import ITEMS


def slow_item(line: bytes) -> dict[str, Any]:
    """The item amazon-ion's path reads, bypassing the fast reader."""
    fields = slow._fields(slow._parse(line), "the line", ValueError)
    return slow._attribute_map("Item", fields["Item"])


@given(ITEMS)
def test_every_item_ddbpipe_writes_takes_the_fast_path(item: dict[str, Any]) -> None:
    line = encode_item(item)[:-1]
    assert fast_item(line) == item
    assert slow_item(line) == item


@given(ITEMS, ITEMS)
def test_change_records_take_the_fast_path(old: dict[str, Any], new: dict[str, Any]) -> None:
    record = ChangeRecord(keys=new, new_image=new, old_image=old, write_timestamp_micros=17)
    line = encode_change(record)[:-1]
    assert fast_change(line) == record
    delete = ChangeRecord(keys=old, new_image=None, old_image=None)
    assert fast_change(encode_change(delete)[:-1]) == delete


@pytest.mark.parametrize(
    "line",
    [
        b"$ion_1_0 {Item:{a:1.50,b:2d3,c:-0.,d:5,e:0.000d2,f:12.5d-3}}",
        b'{Item:{s:"t\\x01\\u00e9\\n\\"q\\"\\\\ \\/ \\\'",\'odd name\':"",n:null}}',
        b"{Item:{l:[1.,[],{}],m:{x:{{AAEC}}},bs:$dynamodb_BS::[{{AA==}},{{AQ==}}]}}",
        b'{Item:{ns:$dynamodb_NS::[1.,2d1,0.5],ss:$dynamodb_SS::["a","b"],t:true}}',
    ],
)
def test_spellings_read_the_same_on_both_paths(line: bytes) -> None:
    fast = fast_item(line)
    assert fast is not None
    assert fast == slow_item(line)


@pytest.mark.parametrize(
    "line",
    [
        b"{Item:{a:1.5e0}}",  # an Ion float
        b"{Item:{a:symbol}}",  # a symbol value (read as S by amazon-ion's path)
        b"{Item:{a:null.string}}",  # a typed null
        b"{Item:{a:x::1.}}",  # an annotation
        b"{Item:{a:1.,a:2.}}",  # a repeated field
        b"{Item: {a:1.}}",  # whitespace between tokens
        b'{Item:{a:"\\a"}}',  # an escape the fast reader does not know
        b'{Item:{a:"\\ud83d\\ude00"}}',  # a surrogate pair
        b"{Item:{a:{{AAE}}}}",  # base64 without its padding
        b"{Item:{a:1234567890123456789012345678901234567890.}}",  # 40 digits
        b"{Item:{a:0x1F}}",  # a hexadecimal int
        b"{Item:{a:1.}} // note",  # a comment
        b"{Item:{a:1.},Other:{b:1.}}",  # a field besides Item
        b"{Item:{}}",  # no attributes
        b"{Item:{a:$dynamodb_SS::[]}}",  # an empty set
        b'{Item:{a:$dynamodb_SS::["x","x"]}}',  # a set with a repeated element
        b"{Item:{a:1.}}}",  # trailing text
        b"{Item:{a:1.}",  # cut short
        b"{Item:{'':1.}}",  # an empty name
        b"[1.]",  # not a struct
        b"{Item:{a:'''long'''}}",  # a long string
        '{Item:{a:"caf\xe9"}}'.encode("latin-1"),  # not UTF-8
    ],
)
def test_other_spellings_are_left_to_amazon_ion(line: bytes) -> None:
    assert fast_item(line) is None


def test_errors_still_name_file_and_line() -> None:
    with pytest.raises(DataError, match=r"f\.ion, line 3: .*float"):
        decode_line(b"{Item:{a:1.5e0}}", source="f.ion", line_number=3)
    with pytest.raises(DataError, match=r"f\.ion, line 4: .*repeat"):
        decode_change(b"{Keys:{a:1.,a:1.}}", source="f.ion", line_number=4)
