"""Parameter values as the AWS CLI takes them, parameter declarations, typed values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import (
    ParameterAttribute,
    ParameterObject,
    ParameterValue,
    PipelineDefinition,
)
from ddbpipe.pipeline.parameters import (
    MAX_VALUES_FILE_BYTES,
    ParameterSpec,
    check_parameter_value,
    parameter_spec,
    parameter_values_from_args,
    parameter_values_from_cli,
    parameter_values_from_document,
    read_parameter_values_uri,
    resolve_parameters,
    typed_value,
)


def declared(parameter_id: str, **attributes: str | list[str]) -> ParameterObject:
    pairs = [
        ParameterAttribute(key, item)
        for key, value in sorted(attributes.items())
        for item in (value if isinstance(value, list) else [value])
    ]
    return ParameterObject(parameter_id, tuple(pairs))


def test_inline_values_split_at_the_first_equals_sign() -> None:
    assert parameter_values_from_args(["myQuery=a=b", "myEmpty=", "myTable=Orders"]) == (
        ParameterValue("myQuery", "a=b"),
        ParameterValue("myEmpty", ""),
        ParameterValue("myTable", "Orders"),
    )


def test_repeated_inline_keys_become_a_list_in_cli_order() -> None:
    assert parameter_values_from_args(["myA=1", "myB=2", "myA=3"]) == (
        ParameterValue("myA", "1"),
        ParameterValue("myA", "3"),
        ParameterValue("myB", "2"),
    )


def test_inline_values_without_equals_are_all_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parameter_values_from_args(["myA", "myB=1", "myC"])
    assert caught.value.problems == (
        "Invalid inline parameter format: myA",
        "Invalid inline parameter format: myC",
    )


def test_values_document_with_lists() -> None:
    text = json.dumps({"values": {"myTable": "Orders", "myTags": ["a", "b"]}})
    assert parameter_values_from_document(text, source="values.json") == (
        ParameterValue("myTable", "Orders"),
        ParameterValue("myTags", "a"),
        ParameterValue("myTags", "b"),
    )


def test_values_document_without_values_gives_none() -> None:
    assert parameter_values_from_document("{}", source="values.json") == ()


def test_values_document_of_15_kb_is_accepted_and_one_byte_more_refused() -> None:
    head = '{"values": {"myA": "'
    tail = '"}}'
    exact = head + "x" * (MAX_VALUES_FILE_BYTES - len(head) - len(tail)) + tail
    assert len(exact.encode()) == 15 * 1024
    assert parameter_values_from_document(exact, source="v.json")[0].id == "myA"
    with pytest.raises(ConfigError, match="at most 15360 bytes"):
        parameter_values_from_document(exact + " ", source="v.json")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "v.json is not valid JSON"),
        ("[]", "v.json must be a JSON object"),
        ('{"values": []}', 'v.json: "values" must be a JSON object'),
        (
            '{"values": {"myA": 1.5}}',
            "v.json: value of 'myA' must be a string or a list of strings",
        ),
    ],
)
def test_values_document_problems(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parameter_values_from_document(text, source="v.json")
    assert caught.value.problems[0].startswith(problem)


def test_values_uri_reads_file_urls_and_plain_paths(tmp_path: Path) -> None:
    path = tmp_path / "values.json"
    path.write_text('{"values": {"myTable": "Orders"}}')
    assert read_parameter_values_uri(f"file://{path}") == path.read_text()
    assert read_parameter_values_uri(str(path)) == path.read_text()


def test_values_uri_refuses_a_big_file_and_a_missing_one(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_VALUES_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match="15 KB"):
        read_parameter_values_uri(str(big))
    with pytest.raises(ConfigError, match="cannot read parameter values"):
        read_parameter_values_uri(str(tmp_path / "missing.json"))


def test_cli_options_are_exclusive() -> None:
    with pytest.raises(ConfigError) as caught:
        parameter_values_from_cli(["myA=1"], uri="file://values.json", uri_text="{}")
    assert caught.value.problems == ("Only parameter-values or parameter-values-uri is allowed",)


def test_cli_options_each_alone(tmp_path: Path) -> None:
    assert parameter_values_from_cli() is None
    assert parameter_values_from_cli(["myA=1"]) == (ParameterValue("myA", "1"),)
    text = '{"values": {"myA": "2"}}'
    assert parameter_values_from_cli(uri="file:///nowhere.json", uri_text=text) == (
        ParameterValue("myA", "2"),
    )
    path = tmp_path / "v.json"
    path.write_text(text)
    assert parameter_values_from_cli(uri=f"file://{path}") == (ParameterValue("myA", "2"),)


def test_spec_reads_every_attribute() -> None:
    spec = parameter_spec(
        declared(
            "myRatio",
            type="Double",
            description="Read ratio",
            optional="TRUE",
            allowedValues=["0.25", "0.5"],
            default="0.25",
            isArray="false",
            watermark="0.1-1.0",
            helpText="x",
        )
    )
    assert spec == ParameterSpec(
        id="myRatio",
        type="Double",
        description="Read ratio",
        optional=True,
        allowed_values=("0.25", "0.5"),
        defaults=("0.25",),
        is_array=False,
        watermark="0.1-1.0",
        unknown_attributes=("helpText",),
    )


def test_spec_defaults_to_a_required_string() -> None:
    assert parameter_spec(ParameterObject("myA")) == ParameterSpec(id="myA")


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("Integer", "42", 42),
        ("Integer", "-7", -7),
        ("Integer", "4.2", None),
        ("Integer", "", None),
        ("Double", "0.25", Decimal("0.25")),
        ("Double", "1", Decimal("1")),
        ("Double", "1e-1", Decimal("0.1")),
        ("Double", ".5", Decimal("0.5")),
        ("Double", "NaN", None),
        ("Double", "Infinity", None),
        ("Double", "0x10", None),
        ("String", "anything", "anything"),
        ("AWS::S3::ObjectKey", "s3://bucket/prefix/", "s3://bucket/prefix/"),
        ("AWS::S3::ObjectKey", "s3://bucket", "s3://bucket"),
        ("AWS::S3::ObjectKey", "s3://b/x", "s3://b/x"),
        ("AWS::S3::ObjectKey", "s3://my bucket/x", None),
        ("AWS::S3::ObjectKey", "/var/backups", "/var/backups"),
        ("AWS::S3::ObjectKey", "backups/today", "backups/today"),
        ("AWS::S3::ObjectKey", "file:///var/backups", "file:///var/backups"),
        ("AWS::S3::ObjectKey", "s3://", None),
        ("AWS::S3::ObjectKey", "s3:///key", None),
        ("AWS::S3::ObjectKey", "http://example.com/x", None),
        ("AWS::S3::ObjectKey", "", None),
    ],
)
def test_typed_values_never_use_float(kind: str, text: str, expected: object) -> None:
    value = typed_value(kind, text)
    assert value == expected
    assert not isinstance(value, float)


def test_check_value_names_what_is_wrong() -> None:
    spec = ParameterSpec(id="myMode", allowed_values=("fast", "slow"))
    assert check_parameter_value(spec, "fast") is None
    assert check_parameter_value(spec, "medium") == (
        "INVALID_PARAMETER_VALUE: value 'medium' is not one of the allowed values: fast, slow."
    )


def test_resolution_prefers_values_then_defaults_and_keeps_extra_values() -> None:
    definition = PipelineDefinition(
        (),
        (
            declared("myRegion", default="us-east-1"),
            declared("myTable"),
            declared("myTags", isArray="true", default=["a", "b"]),
            declared("myNote", optional="true"),
        ),
        (
            ParameterValue("myTable", "Orders"),
            ParameterValue("myRegion", "eu-west-1"),
            ParameterValue("mySubnet", "subnet-1"),
        ),
    )
    resolution = resolve_parameters(definition)
    assert resolution.errors == {}
    assert resolution.values == {
        "myRegion": ("eu-west-1",),
        "myTable": ("Orders",),
        "myTags": ("a", "b"),
        "mySubnet": ("subnet-1",),
    }
    assert resolution.scope_values() == {
        "myNote": "",
        "myRegion": "eu-west-1",
        "myTable": "Orders",
        "myTags": ("a", "b"),
        "mySubnet": "subnet-1",
    }
