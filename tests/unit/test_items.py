"""DynamoDB's value rules: numbers, sets, sizes, keys."""

from __future__ import annotations

import base64

import pytest

from ddbpipe.errors import ItemError
from ddbpipe.items import (
    KeyAttribute,
    KeySchema,
    attribute_size,
    check_key,
    check_number,
    is_plain_spelling,
    item_size,
    key_of,
    normalize_number,
    plain_number,
    plain_spelling,
    validate_item,
)
from tests.support.strategies import nested


@pytest.mark.parametrize(
    "text",
    [
        "3",
        "-7.1234",
        "-17e5",
        "-17.4E37",
        "+3",
        ".123",
        "0001.23",
        "1e+5",
        "0e1000",
        "0",
        "12345678901234567890123456789012345678",
        "1E-130",
        "9.9999999999999999999999999999999999999E+125",
        "-0.000001",
        "100",
    ],
)
def test_numbers_dynamodb_accepts(text: str) -> None:
    check_number(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("NaN", "not a number"),
        ("Infinity", "not a number"),
        ("dog", "not a number"),
        (" 1", "not a number"),
        ("1 ", "not a number"),
        ("", "not a number"),
        ("1.2.3", "not a number"),
        ("\u0661\u0662", "not a number"),
        ("123456789012345678901234567890123456789", "39 significant digits"),
        ("1e126", "too large"),
        ("1E-131", "too small"),
    ],
)
def test_numbers_dynamodb_rejects(text: str, reason: str) -> None:
    with pytest.raises(ItemError, match=reason):
        check_number(text)


def test_numbers_compare_by_value() -> None:
    assert normalize_number("1.50") == normalize_number("15e-1") == normalize_number("+1.5")
    assert normalize_number("0.0") == normalize_number("-0") == ("", "", 0)
    assert normalize_number("-100") == ("-", "1", 3)


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("27", 2),
        ("-27", 3),
        ("461", 3),
        ("0", 1),
        ("1786461547", 6),
        ("100", 2),
        ("0.5", 2),
        ("12345678901234567890123456789012345678", 20),
    ],
)
def test_number_sizes_match_dynamodb(number: str, size: int) -> None:
    assert attribute_size({"N": number}) == size


def test_item_size_of_documented_examples() -> None:
    assert item_size({"shirt-color": {"S": "R"}, "shirt-size": {"S": "M"}}) == 23
    info = {"M": {"a": {"S": "hello"}, "nested": {"L": [{"N": "12"}, {"S": "abc"}]}}}
    # 3 + (1+1+5) + (1+6+(3+(1+2)+(1+3)))
    assert attribute_size(info) == 3 + 7 + 7 + 10
    raw = bytes(range(256))
    assert attribute_size({"B": base64.b64encode(raw).decode()}) == 256
    assert attribute_size({"BS": ["AA==", "AAE=", ""]}) == 3


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"SS": []}, "empty SS set"),
        ({"NS": []}, "empty NS set"),
        ({"BS": []}, "empty BS set"),
        ({"SS": ["a", "a"]}, "duplicate"),
        ({"NS": ["1", "1.0"]}, "duplicate"),
        ({"BS": ["AA==", "AA=="]}, "duplicate"),
        ({"NULL": False}, "must be true"),
        ({"S": "x", "N": "1"}, "exactly one type"),
        ({}, "exactly one type"),
        ({"X": "1"}, "unknown attribute type"),
        ({"B": "not base64!"}, "not valid base64"),
        ({"N": "1e200"}, "too large"),
    ],
)
def test_invalid_values_are_named(value: dict[str, object], reason: str) -> None:
    with pytest.raises(ItemError, match=reason) as caught:
        validate_item({"id": {"S": "k"}, "bad": value})
    assert "'bad'" in str(caught.value)


def test_empty_strings_and_binary_are_allowed_outside_keys() -> None:
    validate_item({"id": {"S": "k"}, "s": {"S": ""}, "b": {"B": ""}, "ss": {"SS": ["", "a"]}})


def test_nesting_limit_is_32_levels() -> None:
    validate_item({"deep": nested(32)})
    with pytest.raises(ItemError, match="nesting deeper than 32"):
        validate_item({"deep": nested(33)})


def test_item_over_400_kb_is_rejected() -> None:
    validate_item({"id": {"S": "k"}, "blob": {"S": "x" * (400 * 1024 - 7)}})
    with pytest.raises(ItemError, match="409601 bytes"):
        validate_item({"id": {"S": "k"}, "blob": {"S": "x" * (400 * 1024 - 6)}})


SCHEMA = KeySchema(KeyAttribute("pk", "S"), KeyAttribute("sk", "N"))


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"sk": {"N": "1"}}, "'pk' is missing"),
        ({"pk": {"S": "a"}}, "'sk' is missing"),
        ({"pk": {"N": "1"}, "sk": {"N": "1"}}, "type N; the table wants S"),
        ({"pk": {"S": ""}, "sk": {"N": "1"}}, "'pk' is empty"),
        ({"pk": {"S": "x" * 2049}, "sk": {"N": "1"}}, "2049 bytes; the limit is 2048"),
    ],
)
def test_key_checks(item: dict[str, dict[str, str]], reason: str) -> None:
    with pytest.raises(ItemError, match=reason):
        check_key(item, SCHEMA)


def test_key_limits_and_identity() -> None:
    check_key({"pk": {"S": "é" * 1024}, "sk": {"N": "1"}}, SCHEMA)
    binary_schema = KeySchema(KeyAttribute("pk", "S"), KeyAttribute("sk", "B"))
    raw = base64.b64encode(b"x" * 1025).decode()
    with pytest.raises(ItemError, match="1025 bytes; the limit is 1024"):
        check_key({"pk": {"S": "a"}, "sk": {"B": raw}}, binary_schema)
    assert key_of({"pk": {"S": "a"}, "sk": {"N": "1.0"}}, SCHEMA) == key_of(
        {"pk": {"S": "a"}, "sk": {"N": "1"}, "other": {"S": "z"}}, SCHEMA
    )


@pytest.mark.parametrize(
    ("spelling", "plain"),
    [
        ("2e3", "2000"),
        ("1.50", "1.5"),
        ("-0", "0"),
        ("0001.23", "1.23"),
        ("1E-3", "0.001"),
        ("-12.5e1", "-125"),
        ("000", "0"),
        ("1e125", "1" + "0" * 125),
    ],
)
def test_plain_number_is_how_dynamodb_returns_numbers(spelling: str, plain: str) -> None:
    assert plain_number(*normalize_number(spelling)) == plain
    assert plain_spelling(spelling) == plain
    assert is_plain_spelling(plain)
    assert is_plain_spelling(spelling) == (spelling == plain)
