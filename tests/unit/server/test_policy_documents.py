"""Checking policy documents: each kind of mistake is named, with where it is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.server.policy import PolicyDocumentError, parse_policy

TABLE = "arn:aws:dynamodb:us-west-2:123456789012:table/Forum"


def statement(**elements: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE}
    base.update(elements)
    return {key: value for key, value in base.items() if value is not None}


def policy(*statements: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements), **top}


def conditioned(block: Any) -> dict[str, Any]:
    return policy(statement(Condition=block))


def problems_of(document: Any, name: str = "") -> tuple[str, ...]:
    with pytest.raises(PolicyDocumentError) as caught:
        parse_policy(document, name=name)
    return caught.value.problems


INVALID: list[tuple[str, Any, str]] = [
    (
        "not JSON",
        '{"Version": "2012-10-17",',
        "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 26",
    ),
    ("not an object", "[]", "a policy document is a JSON object"),
    (
        "unknown policy element",
        policy(statement(), Statements=[]),
        "unknown element 'Statements' (Version, Statement)",
    ),
    (
        "Id in identity policy",
        policy(statement(), Id="Admin_Policy"),
        "Id is not allowed in an identity-based policy",
    ),
    (
        "unknown Version",
        policy(statement(), Version="2012-10-18"),
        'Version must be "2012-10-17" or "2008-10-17", not \'2012-10-18\'',
    ),
    ("no Statement", {"Version": "2012-10-17"}, "Statement is missing"),
    ("empty Statement", {"Version": "2012-10-17", "Statement": []}, "Statement is empty"),
    (
        "statement not an object",
        {"Version": "2012-10-17", "Statement": ["Allow"]},
        "Statement[0]: a statement is a JSON object",
    ),
    (
        "unknown statement element",
        policy(statement(Actions="s3:*")),
        "Statement[0]: unknown element 'Actions'",
    ),
    (
        "Principal",
        policy(statement(Principal={"AWS": "123456789012"})),
        "Statement[0]: Principal is not allowed in an identity-based policy",
    ),
    (
        "NotPrincipal",
        policy(statement(NotPrincipal="*")),
        "Statement[0]: NotPrincipal is not allowed in an identity-based policy",
    ),
    (
        "Sid characters",
        policy(statement(Sid="Read tables")),
        (
            "Statement[0] (Sid \"Read tables\"): Sid 'Read tables' may hold only the letters A-Z, "
            "a-z and digits"
        ),
    ),
    (
        "Sid not text",
        policy(statement(Sid=7)),
        "Statement[0]: Sid 7 may hold only the letters A-Z, a-z and digits",
    ),
    (
        "Sid repeated",
        policy(statement(Sid="Read"), statement(Sid="Write"), statement(Sid="Read")),
        'Sid "Read" is used by Statement[0] and Statement[2]; a Sid must be unique in a policy',
    ),
    ("Effect missing", policy(statement(Effect=None)), "Statement[0]: Effect is missing"),
    (
        "Effect case",
        policy(statement(Effect="allow")),
        'Statement[0]: Effect must be "Allow" or "Deny" (case-sensitive), not \'allow\'',
    ),
    (
        "Effect unknown",
        policy(statement(Sid="S1", Effect="Permit")),
        'Statement[0] (Sid "S1"): Effect must be "Allow" or "Deny" (case-sensitive), '
        "not 'Permit'",
    ),
    (
        "Action and NotAction",
        policy(statement(NotAction="iam:*")),
        "Statement[0]: has both Action and NotAction; use one",
    ),
    ("no Action", policy(statement(Action=None)), "Statement[0]: needs Action or NotAction"),
    (
        "no Resource",
        policy(statement(Resource=None)),
        "Statement[0]: needs Resource or NotResource",
    ),
    (
        "Resource and NotResource",
        policy(statement(NotResource=TABLE)),
        "Statement[0]: has both Resource and NotResource; use one",
    ),
    ("empty Action list", policy(statement(Action=[])), "Statement[0]: Action is an empty list"),
    (
        "Action not text",
        policy(statement(Action=["s3:GetObject", 5])),
        "Statement[0]: Action value 5 is not a non-empty string",
    ),
    (
        "empty NotResource value",
        policy(statement(Resource=None, NotResource="")),
        "Statement[0]: NotResource value '' is not a non-empty string",
    ),
    (
        "Action without service",
        policy(statement(Action="Scan")),
        "Statement[0]: Action 'Scan' must be service:action, such as dynamodb:Scan, or *",
    ),
    (
        "Action service wildcard",
        policy(statement(Action="*:Scan")),
        "Statement[0]: Action '*:Scan': the service prefix cannot hold wildcards",
    ),
    (
        "Resource not an ARN",
        policy(statement(Resource="table/Forum")),
        (
            "Statement[0]: Resource 'table/Forum' must be an ARN "
            '(arn:partition:service:region:account:resource) or "*"'
        ),
    ),
    (
        "Resource short ARN",
        policy(statement(Resource="arn:aws:dynamodb")),
        (
            "Statement[0]: Resource 'arn:aws:dynamodb' must be an ARN "
            '(arn:partition:service:region:account:resource) or "*"'
        ),
    ),
    (
        "Resource service wildcard",
        policy(statement(Resource="arn:aws:dynamo*:us-west-2:123456789012:table/Forum")),
        (
            "Statement[0]: Resource 'arn:aws:dynamo*:us-west-2:123456789012:table/Forum': the "
            "service part of an ARN cannot hold wildcards"
        ),
    ),
    (
        "Resource variable in account",
        policy(statement(Resource="arn:aws:dynamodb:us-west-2:${aws:userid}:table/Forum")),
        (
            "Statement[0]: Resource 'arn:aws:dynamodb:us-west-2:${aws:userid}:table/Forum': a "
            "policy variable may stand only in the resource part of an ARN, after the fifth colon"
        ),
    ),
    (
        "Condition not an object",
        conditioned(["StringEquals"]),
        "Statement[0]: Condition must be an object of operators",
    ),
    (
        "unknown operator",
        conditioned({"StringEqual": {"aws:username": "a"}}),
        "Statement[0]: Condition operator 'StringEqual': unknown operator",
    ),
    (
        "unknown set prefix",
        conditioned({"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}),
        (
            "Statement[0]: Condition operator 'ForSomeValues:StringEquals': unknown prefix "
            "'ForSomeValues' (ForAnyValue or ForAllValues)"
        ),
    ),
    (
        "Null with IfExists",
        conditioned({"NullIfExists": {"aws:username": "true"}}),
        "Statement[0]: Condition operator 'NullIfExists': IfExists cannot be added to Null",
    ),
    (
        "operator without keys",
        conditioned({"StringEquals": "aws:username"}),
        "Statement[0]: Condition operator 'StringEquals' must map condition keys to values",
    ),
    (
        "operator empty",
        conditioned({"StringEquals": {}}),
        "Statement[0]: Condition operator 'StringEquals' must map condition keys to values",
    ),
    (
        "key without service",
        conditioned({"StringEquals": {"username": "a"}}),
        (
            "Statement[0]: Condition StringEquals 'username': a condition key is service:name, "
            "such as aws:username"
        ),
    ),
    (
        "value not scalar",
        conditioned({"StringEquals": {"aws:username": {"a": 1}}}),
        (
            "Statement[0]: Condition StringEquals 'aws:username': value {'a': 1} is not a string, "
            "number or boolean"
        ),
    ),
    (
        "value null",
        conditioned({"StringEquals": {"aws:username": None}}),
        (
            "Statement[0]: Condition StringEquals 'aws:username': value None is not a string, "
            "number or boolean"
        ),
    ),
    (
        "no values",
        conditioned({"StringEquals": {"aws:username": []}}),
        "Statement[0]: Condition StringEquals 'aws:username': no values",
    ),
    (
        "number",
        conditioned({"NumericLessThan": {"s3:max-keys": "ten"}}),
        "Statement[0]: Condition NumericLessThan 's3:max-keys': 'ten' is not a number",
    ),
    (
        "number NaN",
        conditioned({"NumericEquals": {"s3:max-keys": "NaN"}}),
        "Statement[0]: Condition NumericEquals 's3:max-keys': 'NaN' is not a number",
    ),
    (
        "number variable",
        conditioned({"NumericEquals": {"s3:max-keys": "${aws:username}"}}),
        "Statement[0]: Condition NumericEquals 's3:max-keys': '${aws:username}' is not a number",
    ),
    (
        "date",
        conditioned({"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}),
        (
            "Statement[0]: Condition DateGreaterThan 'aws:CurrentTime': 'yesterday' is not an ISO "
            "8601 date or epoch seconds"
        ),
    ),
    (
        "date out of range",
        conditioned({"DateLessThan": {"aws:CurrentTime": "2020-13-01T00:00:00Z"}}),
        (
            "Statement[0]: Condition DateLessThan 'aws:CurrentTime': '2020-13-01T00:00:00Z' is not "
            "an ISO 8601 date or epoch seconds"
        ),
    ),
    (
        "bool",
        conditioned({"Bool": {"aws:SecureTransport": "yes"}}),
        "Statement[0]: Condition Bool 'aws:SecureTransport': 'yes' is not \"true\" or \"false\"",
    ),
    (
        "binary",
        conditioned({"BinaryEquals": {"custom:blob": "not base64!"}}),
        "Statement[0]: Condition BinaryEquals 'custom:blob': 'not base64!' is not base64",
    ),
    (
        "ip",
        conditioned({"IpAddress": {"aws:SourceIp": "203.0.113.0/33"}}),
        (
            "Statement[0]: Condition IpAddress 'aws:SourceIp': '203.0.113.0/33' is not an IP "
            "address or CIDR range"
        ),
    ),
    (
        "null",
        conditioned({"Null": {"aws:TokenIssueTime": "maybe"}}),
        "Statement[0]: Condition Null 'aws:TokenIssueTime': 'maybe' is not \"true\" or \"false\"",
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"), [(d, e) for _, d, e in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_each_problem_is_named(document: Any, expected: str) -> None:
    assert expected in problems_of(document)


def test_repeated_elements_are_problems() -> None:
    text = (
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
        ' "Action": "s3:*", "Resource": "*", "Effect": "Deny", "Condition": {"StringEquals":'
        ' {"aws:username": "a", "aws:username": "b"}, "Bool": {"aws:SecureTransport": "true"},'
        ' "Bool": {"aws:SecureTransport": "false"}}}]}'
    )
    assert problems_of(text) == (
        "policy: element 'Version' appears more than once",
        "Statement[0]: element 'Effect' appears more than once",
        "Statement[0]: Condition: element 'Bool' appears more than once",
        "Statement[0]: Condition StringEquals: key 'aws:username' appears more than once",
    )


def test_every_problem_is_reported_at_once_with_the_policy_name() -> None:
    document = policy(
        statement(Sid="Good"),
        statement(Sid="Bad1", Effect="deny", Action="Scan"),
        statement(Resource=None, Condition={"Bool": {"aws:SecureTransport": "maybe"}}),
    )
    problems = problems_of(document, name="TablesPolicy")
    assert problems == (
        'policy \'TablesPolicy\': Statement[1] (Sid "Bad1"): Effect must be "Allow" or "Deny"'
        " (case-sensitive), not 'deny'",
        "policy 'TablesPolicy': Statement[1] (Sid \"Bad1\"): Action 'Scan' must be "
        "service:action, such as dynamodb:Scan, or *",
        "policy 'TablesPolicy': Statement[2]: needs Resource or NotResource",
        "policy 'TablesPolicy': Statement[2]: Condition Bool 'aws:SecureTransport': 'maybe' is "
        'not "true" or "false"',
    )


def test_the_error_is_a_config_error_whose_message_joins_the_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(policy(statement(Effect="allow", Action=None)))
    assert str(caught.value) == (
        'Statement[0]: Effect must be "Allow" or "Deny" (case-sensitive), not \'allow\'; '
        "Statement[0]: needs Action or NotAction"
    )


def test_bytes_that_are_not_utf8() -> None:
    assert problems_of(b"\xff\xfe{") == ("not valid JSON: the text is not UTF-8",)


def test_valid_forms_are_accepted() -> None:
    single = parse_policy(
        json.dumps(
            {
                "Version": "2008-10-17",
                "Statement": {
                    "Sid": "",
                    "Effect": "Deny",
                    "NotAction": ["iam:*", "sts:*"],
                    "NotResource": "arn:aws:s3:::bucket/${aws:username}/*",
                    "Condition": {
                        "ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["a*", 1, True]},
                        "NumericLessThan": {"s3:max-keys": 10.5},
                        "DateGreaterThan": {"aws:CurrentTime": 1577836800},
                    },
                },
            }
        )
    )
    assert single.version == "2008-10-17"
    assert not single.variables
    (only,) = single.statements
    assert only.sid is None
    assert only.effect == "Deny"
    assert only.not_action
    assert only.actions == ("iam:*", "sts:*")
    assert only.not_resource
    assert only.label == "Statement[0]"
    first = only.conditions[0]
    assert (first.qualifier, first.base, first.if_exists) == ("ForAllValues", "StringLike", True)
    assert first.values == ("a*", "1", "true")
    assert only.conditions[1].values == ("10.5",)


def test_statement_labels_carry_the_sid() -> None:
    parsed = parse_policy(policy(statement(Sid="ReadForum")))
    assert parsed.statements[0].label == 'Statement[0] (Sid "ReadForum")'
    assert parsed.variables
