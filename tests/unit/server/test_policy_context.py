"""The request context, date and number reading, and the errors' round trips."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ddbpipe.server.managed_policies import UnknownManagedPolicyError
from ddbpipe.server.policy import PolicyDocumentError, RequestContext, request_context
from ddbpipe.server.policy_conditions import parse_date, parse_number


def test_key_names_are_case_insensitive_and_keep_their_spelling() -> None:
    context = RequestContext({"aws:RequestTag/Env": "prod", "aws:TagKeys": ["Env"]})
    assert context["AWS:requesttag/env"] == "prod"
    assert "aws:requesttag/ENV" in context
    assert 7 not in context
    assert list(context) == ["aws:RequestTag/Env", "aws:TagKeys"]
    assert context.values_of("aws:tagkeys") == ("Env",)
    assert context.values_of("aws:requesttag/env") == ("prod",)
    assert context.values_of("aws:username") is None


def test_a_list_is_multivalued_even_with_one_element() -> None:
    context = RequestContext({"aws:TagKeys": ["Env"], "aws:username": "alice"})
    assert context.single("aws:TagKeys") is None
    assert context.single("AWS:USERNAME") == "alice"


def test_names_differing_only_in_case_are_refused() -> None:
    with pytest.raises(ValueError, match="'aws:RequestTag/Env' and 'aws:RequestTag/env' differ"):
        RequestContext({"aws:RequestTag/Env": "a", "aws:RequestTag/env": "b"})


@pytest.mark.parametrize("value", [b"bytes", [b"bytes"], [1]])
def test_values_must_be_text(value: object) -> None:
    with pytest.raises(ValueError, match="aws:username"):
        RequestContext({"aws:username": value})  # type: ignore[dict-item]


def test_with_keys_replaces_regardless_of_case() -> None:
    context = RequestContext({"aws:username": "alice", "aws:userid": "AIDA1"})
    changed = context.with_keys({"AWS:UserName": "bob"})
    assert changed.single("aws:username") == "bob"
    assert changed.single("aws:userid") == "AIDA1"
    assert context.single("aws:username") == "alice"
    assert len(changed) == 2


def test_request_context_builds_the_documented_keys() -> None:
    context = request_context(
        username="alice",
        userid="AIDA1",
        current_time=datetime(2024, 5, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2))),
        secure_transport=False,
        source_ip="203.0.113.7",
        request_tags={"dynamodbdatapipeline": "true", "Env": "prod"},
        resource_tags={"Owner": "alice"},
        pipeline_tags={"environment": "test"},
        pipeline_creator="AIDA1",
        worker_group="dev-1",
        emr_request_tags={"dynamodbdatapipeline": "true"},
        extra={"dynamodb:Attributes": ["ID"]},
    )
    assert dict(context) == {
        "aws:username": "alice",
        "aws:userid": "AIDA1",
        "aws:SourceIp": "203.0.113.7",
        "datapipeline:PipelineCreator": "AIDA1",
        "datapipeline:workerGroup": "dev-1",
        "aws:CurrentTime": "2024-05-01T12:30:05Z",
        "aws:EpochTime": "1714566605",
        "aws:SecureTransport": "false",
        "aws:RequestTag/dynamodbdatapipeline": "true",
        "aws:RequestTag/Env": "prod",
        "aws:ResourceTag/Owner": "alice",
        "datapipeline:Tag/environment": "test",
        "elasticmapreduce:RequestTag/dynamodbdatapipeline": "true",
        "aws:TagKeys": ("dynamodbdatapipeline", "Env"),
        "dynamodb:Attributes": ("ID",),
    }


def test_request_context_leaves_out_what_is_not_given() -> None:
    assert dict(request_context()) == {}
    assert dict(request_context(request_tags={})) == {"aws:TagKeys": ()}


def test_request_context_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        request_context(current_time=datetime(2024, 5, 1))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2020-01-01T00:00:00Z", Decimal(1577836800)),
        ("2020-01-01T00:00:00.25Z", Decimal("1577836800.25")),
        ("2020-01-01T02:00:00+02:00", Decimal(1577836800)),
        ("2020-01-01T00:00-0130", Decimal(1577836800 + 5400)),
        ("2020-01-01T00:00:00", Decimal(1577836800)),
        ("2020-01-01", Decimal(1577836800)),
        ("2020-01", Decimal(1577836800)),
        ("1577836800", Decimal(1577836800)),
        ("1577836800.5", Decimal("1577836800.5")),
        (" 2020-01-01T00:00:00Z ", Decimal(1577836800)),
    ],
)
def test_dates_read_as_exact_epoch_seconds(text: str, seconds: Decimal) -> None:
    assert parse_date(text) == seconds


@pytest.mark.parametrize("text", ["", "yesterday", "2020-02-30", "2020-01-01T25:00:00Z", "20-1-1"])
def test_bad_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("text", "number"),
    [("10", Decimal(10)), ("-1.5e3", Decimal(-1500)), (".5", Decimal("0.5")), ("7.", Decimal(7))],
)
def test_numbers_read_as_decimals(text: str, number: Decimal) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["", "NaN", "Infinity", "1_000", "0x10", "ten"])
def test_bad_numbers_are_none(text: str) -> None:
    assert parse_number(text) is None


def test_errors_survive_pickling() -> None:
    error = PolicyDocumentError(["Statement[0]: Effect is missing", "Statement is empty"])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems
    assert str(copy) == str(error)
    unknown = pickle.loads(pickle.dumps(UnknownManagedPolicyError("Nope")))
    assert unknown.name == "Nope"
    assert str(unknown).startswith("unknown managed policy 'Nope'; known policies: ")
