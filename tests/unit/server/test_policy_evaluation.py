"""Policy evaluation, case by case, from the rules of the IAM User Guide.

Each expected outcome comes from the guide's text (elements, condition operators,
multivalued conditions, variables, evaluation logic), several from its own examples:
``allow`` (a statement allowed and none denied), ``deny`` (an explicit deny) or
``implicit`` (nothing applied).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from ddbpipe.server.policy import Decision, evaluate, parse_policy

TABLE = "arn:aws:dynamodb:us-west-2:123456789012:table/"
FORUM = TABLE + "Forum"
ORDERS = TABLE + "Orders"
BUCKET = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/"
ARN_PATTERN = "arn:aws:someservice:*:111122223333:finance/*"
ARN_TRICKY = (
    "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
)
BINARY = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="

Context = Mapping[str, str | Iterable[str]]


@dataclass(frozen=True)
class Case:
    """One request against one set of policies (each a list of statements)."""

    id: str
    policies: list[list[dict[str, Any]]]
    action: str
    resource: str
    expected: str
    context: Context = field(default_factory=dict)
    version: str | None = "2012-10-17"


def allow(
    action: str | list[str] = "dynamodb:Scan", resource: Any = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(
    action: str | list[str] = "dynamodb:Scan", resource: Any = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def when(operator: str, key: str, value: Any) -> dict[str, Any]:
    """A statement's Condition element with one operator and key."""
    return {"Condition": {operator: {key: value}}}


def on(operator: str, key: str, value: Any, context: Context, expected: str, id: str) -> Case:
    """An Allow of dynamodb:Scan on * under one condition."""
    return Case(
        id, [[allow(**when(operator, key, value))]], "dynamodb:Scan", "*", expected, context
    )


ACTIONS = [
    Case("action exact", [[allow("dynamodb:Scan")]], "dynamodb:Scan", "*", "allow"),
    Case("action other", [[allow("dynamodb:Scan")]], "dynamodb:Query", "*", "implicit"),
    Case("action case-insensitive", [[allow("DynamoDB:scan")]], "dynamodb:Scan", "*", "allow"),
    Case(
        "action request case", [[allow("iam:ListAccessKeys")]], "IAM:listaccesskeys", "*", "allow"
    ),
    Case("service star", [[allow("dynamodb:*")]], "dynamodb:BatchWriteItem", "*", "allow"),
    Case("service star other service", [[allow("dynamodb:*")]], "dax:GetItem", "*", "implicit"),
    Case("infix star", [[allow("iam:*AccessKey*")]], "iam:UpdateAccessKey", "*", "allow"),
    Case("infix star plural", [[allow("iam:*AccessKey*")]], "iam:ListAccessKeys", "*", "allow"),
    Case("infix star no match", [[allow("iam:*AccessKey*")]], "iam:ListUsers", "*", "implicit"),
    Case("question one char", [[allow("dynamodb:Get?tem")]], "dynamodb:GetItem", "*", "allow"),
    Case("question not two", [[allow("dynamodb:Get?tem")]], "dynamodb:GetIItem", "*", "implicit"),
    Case("question not zero", [[allow("dynamodb:Get?tem")]], "dynamodb:Gettem", "*", "implicit"),
    Case("star alone", [[allow("*")]], "elasticmapreduce:RunJobFlow", "*", "allow"),
    Case(
        "prefix wildcard",
        [[allow("datapipeline:Describe*")]],
        "datapipeline:DescribeObjects",
        "*",
        "allow",
    ),
    Case(
        "prefix wildcard no",
        [[allow("datapipeline:Describe*")]],
        "datapipeline:ListPipelines",
        "*",
        "implicit",
    ),
    Case(
        "action list", [[allow(["s3:GetObject", "dynamodb:Scan"])]], "dynamodb:Scan", "*", "allow"
    ),
]

RESOURCES = [
    Case("resource exact", [[allow(resource=FORUM)]], "dynamodb:Scan", FORUM, "allow"),
    Case("resource other table", [[allow(resource=FORUM)]], "dynamodb:Scan", ORDERS, "implicit"),
    Case(
        "resource case-sensitive",
        [[allow(resource=TABLE + "forum")]],
        "dynamodb:Scan",
        FORUM,
        "implicit",
    ),
    Case("resource list", [[allow(resource=[ORDERS, FORUM])]], "dynamodb:Scan", FORUM, "allow"),
    Case(
        "region wildcard",
        [[allow(resource="arn:aws:dynamodb:*:123456789012:table/*")]],
        "dynamodb:Scan",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders",
        "allow",
    ),
    Case(
        "account differs",
        [[allow(resource="arn:aws:dynamodb:*:123456789012:table/*")]],
        "dynamodb:Scan",
        "arn:aws:dynamodb:eu-west-1:210987654321:table/Orders",
        "implicit",
    ),
    Case(
        "star spans slashes",
        [[allow("s3:GetObject", BUCKET + "*/test/*")]],
        "s3:GetObject",
        BUCKET + "1/2/test/3/object.jpg",
        "allow",
    ),
    Case(
        "star matches empty",
        [[allow("s3:GetObject", BUCKET + "*/test/*")]],
        "s3:GetObject",
        BUCKET + "/test/object.jpg",
        "allow",
    ),
    Case(
        "star needs the slashes",
        [[allow("s3:GetObject", BUCKET + "*/test/*")]],
        "s3:GetObject",
        BUCKET + "test/object.jpg",
        "implicit",
    ),
    Case(
        "star literal rest",
        [[allow("s3:GetObject", BUCKET + "*/test/*")]],
        "s3:GetObject",
        BUCKET + "1-test/object.jpg",
        "implicit",
    ),
    Case(
        "question in resource",
        [[allow(resource=TABLE + "Thread?")]],
        "dynamodb:Scan",
        TABLE + "Thread1",
        "allow",
    ),
    Case(
        "question needs a char",
        [[allow(resource=TABLE + "Thread?")]],
        "dynamodb:Scan",
        TABLE + "Thread",
        "implicit",
    ),
    Case(
        "star stays in its component",
        [[allow(resource=ARN_PATTERN)]],
        "dynamodb:Scan",
        ARN_TRICKY,
        "implicit",
    ),
    Case(
        "resource part takes colons",
        [[allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:*")]],
        "logs:PutLogEvents",
        "arn:aws:logs:us-east-1:123456789012:log-group:app:log-stream:web",
        "allow",
    ),
    Case(
        "star resource, star request",
        [[allow("datapipeline:*")]],
        "datapipeline:ListPipelines",
        "*",
        "allow",
    ),
    Case(
        "table resource, star request",
        [[allow("datapipeline:*", FORUM)]],
        "datapipeline:ListPipelines",
        "*",
        "implicit",
    ),
]

NOT_ELEMENTS = [
    Case(
        "NotAction allow other",
        [[{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]],
        "dynamodb:Scan",
        FORUM,
        "allow",
    ),
    Case(
        "NotAction allow listed",
        [[{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]],
        "iam:CreateUser",
        "*",
        "implicit",
    ),
    Case(
        "NotAction scoped by resource",
        [[{"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"}]],
        "dynamodb:Scan",
        FORUM,
        "implicit",
    ),
    Case(
        "NotAction in scope",
        [[{"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"}]],
        "s3:GetObject",
        "arn:aws:s3:::bucket/key",
        "allow",
    ),
    Case(
        "NotAction deny unlisted",
        [[allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]],
        "dynamodb:Scan",
        FORUM,
        "deny",
    ),
    Case(
        "NotAction deny listed passes",
        [[allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]],
        "iam:ListUsers",
        "*",
        "allow",
    ),
    Case(
        "NotResource deny outside",
        [
            [
                allow("s3:*"),
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": [
                        "arn:aws:s3:::HRBucket/Payroll",
                        "arn:aws:s3:::HRBucket/Payroll/*",
                    ],
                },
            ]
        ],
        "s3:GetObject",
        "arn:aws:s3:::HRBucket/Other/file",
        "deny",
    ),
    Case(
        "NotResource deny inside",
        [
            [
                allow("s3:*"),
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": [
                        "arn:aws:s3:::HRBucket/Payroll",
                        "arn:aws:s3:::HRBucket/Payroll/*",
                    ],
                },
            ]
        ],
        "s3:GetObject",
        "arn:aws:s3:::HRBucket/Payroll/march.csv",
        "allow",
    ),
    Case(
        "NotResource allow other",
        [[{"Effect": "Allow", "Action": "dynamodb:*", "NotResource": ORDERS}]],
        "dynamodb:Scan",
        FORUM,
        "allow",
    ),
    Case(
        "NotResource allow listed",
        [[{"Effect": "Allow", "Action": "dynamodb:*", "NotResource": ORDERS}]],
        "dynamodb:Scan",
        ORDERS,
        "implicit",
    ),
]

DECISIONS = [
    Case(
        "deny beats allow",
        [[allow("dynamodb:*"), deny("dynamodb:Scan", ORDERS)]],
        "dynamodb:Scan",
        ORDERS,
        "deny",
    ),
    Case(
        "deny in another policy",
        [[allow("dynamodb:*")], [deny("dynamodb:*")]],
        "dynamodb:Scan",
        FORUM,
        "deny",
    ),
    Case(
        "deny elsewhere leaves allow",
        [[allow("dynamodb:*"), deny("dynamodb:Scan", ORDERS)]],
        "dynamodb:Scan",
        FORUM,
        "allow",
    ),
    Case("nothing applies", [[allow("s3:*")]], "dynamodb:Scan", FORUM, "implicit"),
    Case("no policies", [], "dynamodb:Scan", FORUM, "implicit"),
]

STRINGS = [
    on(
        "StringEquals",
        "aws:username",
        "johndoe",
        {"aws:username": "johndoe"},
        "allow",
        "StringEquals",
    ),
    on(
        "StringEquals",
        "aws:username",
        "johndoe",
        {"aws:username": "JohnDoe"},
        "implicit",
        "StringEquals case",
    ),
    on("StringEquals", "aws:username", "johndoe", {}, "implicit", "StringEquals missing"),
    on(
        "StringEquals",
        "aws:username",
        ["alice", "johndoe"],
        {"aws:username": "johndoe"},
        "allow",
        "StringEquals values OR",
    ),
    on(
        "StringEquals",
        "aws:username",
        "a*",
        {"aws:username": "abc"},
        "implicit",
        "StringEquals star literal",
    ),
    on(
        "StringEquals",
        "aws:username",
        "a*",
        {"aws:username": "a*"},
        "allow",
        "StringEquals star itself",
    ),
    on(
        "StringNotEquals",
        "datapipeline:Tag/environment",
        "production",
        {"datapipeline:Tag/environment": "test"},
        "allow",
        "StringNotEquals",
    ),
    on(
        "StringNotEquals",
        "datapipeline:Tag/environment",
        "production",
        {"datapipeline:Tag/environment": "production"},
        "implicit",
        "StringNotEquals same",
    ),
    on(
        "StringNotEquals",
        "datapipeline:Tag/environment",
        "production",
        {},
        "allow",
        "StringNotEquals missing",
    ),
    on(
        "StringNotEquals",
        "aws:username",
        ["alice", "bob"],
        {"aws:username": "bob"},
        "implicit",
        "StringNotEquals values AND",
    ),
    on(
        "StringNotEquals",
        "aws:username",
        ["alice", "bob"],
        {"aws:username": "carol"},
        "allow",
        "StringNotEquals none listed",
    ),
    on(
        "StringEqualsIgnoreCase",
        "aws:username",
        "johndoe",
        {"aws:username": "JohnDoe"},
        "allow",
        "StringEqualsIgnoreCase",
    ),
    on(
        "StringEqualsIgnoreCase",
        "aws:username",
        "johndoe",
        {"aws:username": "janedoe"},
        "implicit",
        "StringEqualsIgnoreCase other",
    ),
    on(
        "StringNotEqualsIgnoreCase",
        "aws:username",
        "johndoe",
        {"aws:username": "JOHNDOE"},
        "implicit",
        "StringNotEqualsIgnoreCase same",
    ),
    on(
        "StringNotEqualsIgnoreCase",
        "aws:username",
        "johndoe",
        {"aws:username": "jane"},
        "allow",
        "StringNotEqualsIgnoreCase other",
    ),
    on(
        "StringLike",
        "datapipeline:workerGroup",
        ["dev*", "pre-prod*"],
        {"datapipeline:workerGroup": "pre-prod-eu"},
        "allow",
        "StringLike",
    ),
    on(
        "StringLike",
        "datapipeline:workerGroup",
        ["dev*", "pre-prod*"],
        {"datapipeline:workerGroup": "prod"},
        "implicit",
        "StringLike no",
    ),
    on(
        "StringLike",
        "datapipeline:workerGroup",
        "Dev*",
        {"datapipeline:workerGroup": "dev1"},
        "implicit",
        "StringLike case-sensitive",
    ),
    on(
        "StringLike",
        "datapipeline:workerGroup",
        "dev?",
        {"datapipeline:workerGroup": "dev1"},
        "allow",
        "StringLike question",
    ),
    on(
        "StringLike",
        "s3:prefix",
        ["", "home/"],
        {"s3:prefix": ""},
        "allow",
        "StringLike empty value",
    ),
    on(
        "StringNotLike",
        "datapipeline:workerGroup",
        "dev*",
        {"datapipeline:workerGroup": "prod"},
        "allow",
        "StringNotLike",
    ),
    on(
        "StringNotLike",
        "datapipeline:workerGroup",
        "dev*",
        {"datapipeline:workerGroup": "dev1"},
        "implicit",
        "StringNotLike matching",
    ),
    on("StringNotLike", "datapipeline:workerGroup", "dev*", {}, "allow", "StringNotLike missing"),
]

NUMBERS = [
    on(
        "NumericLessThanEquals",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "10"},
        "allow",
        "NumericLessThanEquals",
    ),
    on(
        "NumericLessThanEquals",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "11"},
        "implicit",
        "NumericLessThanEquals over",
    ),
    on(
        "NumericEquals",
        "s3:max-keys",
        "1.0",
        {"s3:max-keys": "1"},
        "allow",
        "NumericEquals same number",
    ),
    on(
        "NumericEquals",
        "s3:max-keys",
        "1",
        {"s3:max-keys": "1.00000000000000000001"},
        "implicit",
        "NumericEquals exact decimal",
    ),
    on(
        "NumericEquals",
        "s3:max-keys",
        "9007199254740993",
        {"s3:max-keys": "9007199254740992"},
        "implicit",
        "NumericEquals beyond float",
    ),
    on("NumericNotEquals", "s3:max-keys", "5", {"s3:max-keys": "6"}, "allow", "NumericNotEquals"),
    on(
        "NumericNotEquals",
        "s3:max-keys",
        "5",
        {"s3:max-keys": "5"},
        "implicit",
        "NumericNotEquals same",
    ),
    on("NumericNotEquals", "s3:max-keys", "5", {}, "allow", "NumericNotEquals missing"),
    on("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "9.99"}, "allow", "NumericLessThan"),
    on(
        "NumericLessThan",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "10"},
        "implicit",
        "NumericLessThan equal",
    ),
    on(
        "NumericGreaterThan",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "10.5"},
        "allow",
        "NumericGreaterThan",
    ),
    on(
        "NumericGreaterThan",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "10"},
        "implicit",
        "NumericGreaterThan equal",
    ),
    on(
        "NumericGreaterThanEquals",
        "s3:max-keys",
        10,
        {"s3:max-keys": "10"},
        "allow",
        "NumericGreaterThanEquals JSON number",
    ),
    on(
        "NumericGreaterThanEquals",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "9"},
        "implicit",
        "NumericGreaterThanEquals under",
    ),
    on(
        "NumericLessThan",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "ten"},
        "implicit",
        "Numeric not a number",
    ),
    on("NumericLessThan", "s3:max-keys", "10", {}, "implicit", "Numeric missing"),
]

DATES = [
    on(
        "DateGreaterThan",
        "aws:CurrentTime",
        "2020-01-01T00:00:01Z",
        {"aws:CurrentTime": "2020-06-01T00:00:00Z"},
        "allow",
        "DateGreaterThan",
    ),
    on(
        "DateGreaterThan",
        "aws:CurrentTime",
        "2020-01-01T00:00:01Z",
        {"aws:CurrentTime": "2019-12-31T23:59:59Z"},
        "implicit",
        "DateGreaterThan before",
    ),
    on(
        "DateLessThan",
        "aws:EpochTime",
        "2020-01-01T00:00:00Z",
        {"aws:EpochTime": "1577836799"},
        "allow",
        "DateLessThan epoch",
    ),
    on(
        "DateLessThan",
        "aws:EpochTime",
        "2020-01-01T00:00:00Z",
        {"aws:EpochTime": "1577836800"},
        "implicit",
        "DateLessThan epoch equal",
    ),
    on(
        "DateEquals",
        "aws:CurrentTime",
        "2020-01-01T00:00:00Z",
        {"aws:CurrentTime": "2020-01-01T01:00:00+01:00"},
        "allow",
        "DateEquals same instant",
    ),
    on(
        "DateEquals",
        "aws:CurrentTime",
        "1577836800",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "allow",
        "DateEquals epoch policy",
    ),
    on(
        "DateNotEquals",
        "aws:CurrentTime",
        "2020-01-01T00:00:00Z",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "implicit",
        "DateNotEquals same",
    ),
    on(
        "DateNotEquals",
        "aws:CurrentTime",
        "2020-01-01T00:00:00Z",
        {"aws:CurrentTime": "2021-01-01T00:00:00Z"},
        "allow",
        "DateNotEquals other",
    ),
    on(
        "DateLessThanEquals",
        "aws:CurrentTime",
        "2020-01-01",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "allow",
        "DateLessThanEquals date only",
    ),
    on(
        "DateGreaterThanEquals",
        "aws:CurrentTime",
        "2020-01-01T00:00:00.500Z",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "implicit",
        "DateGreaterThanEquals fraction",
    ),
    on(
        "DateGreaterThan",
        "aws:TokenIssueTime",
        "2020-01-01T00:00:01Z",
        {},
        "implicit",
        "Date missing",
    ),
]

OTHER_OPERATORS = [
    on("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "true"}, "allow", "Bool"),
    on(
        "Bool",
        "aws:SecureTransport",
        "true",
        {"aws:SecureTransport": "false"},
        "implicit",
        "Bool other",
    ),
    on(
        "Bool",
        "aws:SecureTransport",
        True,
        {"aws:SecureTransport": "true"},
        "allow",
        "Bool JSON true",
    ),
    Case(
        "Bool deny without TLS",
        [[allow("s3:*"), deny("s3:*", **when("Bool", "aws:SecureTransport", "false"))]],
        "s3:GetObject",
        "arn:aws:s3:::bucket/key",
        "deny",
        {"aws:SecureTransport": "false"},
    ),
    on("BinaryEquals", "custom:blob", BINARY, {"custom:blob": BINARY}, "allow", "BinaryEquals"),
    on(
        "BinaryEquals",
        "custom:blob",
        BINARY,
        {"custom:blob": "QmluYXJ5"},
        "implicit",
        "BinaryEquals other",
    ),
    on(
        "IpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        {"aws:SourceIp": "203.0.113.7"},
        "allow",
        "IpAddress",
    ),
    on(
        "IpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        {"aws:SourceIp": "198.51.100.1"},
        "implicit",
        "IpAddress outside",
    ),
    on(
        "IpAddress",
        "aws:SourceIp",
        ["203.0.113.0/24", "2001:DB8:1234:5678::/64"],
        {"aws:SourceIp": "2001:db8:1234:5678::10"},
        "allow",
        "IpAddress IPv6",
    ),
    on(
        "IpAddress",
        "aws:SourceIp",
        "203.0.113.5",
        {"aws:SourceIp": "203.0.113.6"},
        "implicit",
        "IpAddress default /32",
    ),
    on(
        "NotIpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        {"aws:SourceIp": "198.51.100.1"},
        "allow",
        "NotIpAddress",
    ),
    on(
        "NotIpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        {"aws:SourceIp": "203.0.113.7"},
        "implicit",
        "NotIpAddress inside",
    ),
    on("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {}, "allow", "NotIpAddress missing"),
    on(
        "ArnLike",
        "aws:SourceArn",
        ARN_PATTERN,
        {"aws:SourceArn": ARN_TRICKY},
        "implicit",
        "ArnLike per component",
    ),
    on(
        "StringLike",
        "aws:SourceArn",
        ARN_PATTERN,
        {"aws:SourceArn": ARN_TRICKY},
        "allow",
        "StringLike across colons",
    ),
    on(
        "ArnLike",
        "aws:SourceArn",
        ARN_PATTERN,
        {"aws:SourceArn": "arn:aws:someservice:us-east-2:111122223333:finance/a.txt"},
        "allow",
        "ArnLike",
    ),
    on(
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:sns:*:123456789012:TOPIC-?",
        {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-1"},
        "allow",
        "ArnEquals wildcards",
    ),
    on(
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:sns:us-east-1:123456789012:topic",
        {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC"},
        "implicit",
        "ArnEquals case",
    ),
    on(
        "ArnNotLike",
        "aws:SourceArn",
        ARN_PATTERN,
        {"aws:SourceArn": "arn:aws:someservice:eu-west-1:111122223333:finance/x"},
        "implicit",
        "ArnNotLike matching",
    ),
    on(
        "ArnNotLike",
        "aws:SourceArn",
        ARN_PATTERN,
        {"aws:SourceArn": ARN_TRICKY},
        "allow",
        "ArnNotLike other",
    ),
    on("ArnNotEquals", "aws:SourceArn", ARN_PATTERN, {}, "allow", "ArnNotEquals missing"),
    on("ArnLike", "aws:SourceArn", ARN_PATTERN, {}, "implicit", "ArnLike missing"),
]

COMBINED = [
    Case(
        "two keys AND",
        [[allow(Condition={"StringEquals": {"aws:username": "alice", "aws:userid": "AIDA1"}})]],
        "dynamodb:Scan",
        "*",
        "implicit",
        {"aws:username": "alice"},
    ),
    Case(
        "two operators AND",
        [
            [
                allow(
                    Condition={
                        "StringEquals": {"aws:username": "alice"},
                        "Bool": {"aws:SecureTransport": "true"},
                    }
                )
            ]
        ],
        "dynamodb:Scan",
        "*",
        "allow",
        {"aws:username": "alice", "aws:SecureTransport": "true"},
    ),
]

IF_EXISTS = [
    on(
        "StringLikeIfExists",
        "ec2:InstanceType",
        ["t1.*", "t2.*", "m3.*"],
        {},
        "allow",
        "IfExists missing",
    ),
    on(
        "StringLikeIfExists",
        "ec2:InstanceType",
        ["t1.*", "t2.*", "m3.*"],
        {"ec2:InstanceType": "t2.micro"},
        "allow",
        "IfExists present match",
    ),
    on(
        "StringLikeIfExists",
        "ec2:InstanceType",
        ["t1.*", "t2.*", "m3.*"],
        {"ec2:InstanceType": "m5.large"},
        "implicit",
        "IfExists present no match",
    ),
    on(
        "NumericLessThanIfExists",
        "s3:max-keys",
        "10",
        {"s3:max-keys": "20"},
        "implicit",
        "NumericIfExists present",
    ),
    on(
        "DateLessThanIfExists",
        "aws:TokenIssueTime",
        "2020-01-01T00:00:00Z",
        {},
        "allow",
        "DateIfExists missing",
    ),
    Case(
        "negated IfExists deny missing",
        [[allow(), deny(**when("StringNotEqualsIfExists", "aws:RequestTag/team", "data"))]],
        "dynamodb:Scan",
        "*",
        "deny",
    ),
    Case(
        "BoolIfExists deny without MFA",
        [
            [
                allow("*"),
                {
                    "Effect": "Deny",
                    "NotAction": "iam:*",
                    "Resource": "*",
                    **when("BoolIfExists", "aws:MultiFactorAuthPresent", "false"),
                },
            ]
        ],
        "dynamodb:Scan",
        FORUM,
        "deny",
    ),
    Case(
        "BoolIfExists with MFA",
        [
            [
                allow("*"),
                {
                    "Effect": "Deny",
                    "NotAction": "iam:*",
                    "Resource": "*",
                    **when("BoolIfExists", "aws:MultiFactorAuthPresent", "false"),
                },
            ]
        ],
        "dynamodb:Scan",
        FORUM,
        "allow",
        {"aws:MultiFactorAuthPresent": "true"},
    ),
]

NULLS = [
    on("Null", "aws:TokenIssueTime", "true", {}, "allow", "Null true missing"),
    on(
        "Null",
        "aws:TokenIssueTime",
        "true",
        {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"},
        "implicit",
        "Null true present",
    ),
    on(
        "Null",
        "aws:RequestTag/dynamodbdatapipeline",
        "false",
        {"aws:RequestTag/dynamodbdatapipeline": "true"},
        "allow",
        "Null false present",
    ),
    on(
        "Null", "aws:RequestTag/dynamodbdatapipeline", "false", {}, "implicit", "Null false missing"
    ),
    on(
        "Null",
        "aws:RequestTag/dynamodbdatapipeline",
        False,
        {"aws:RequestTag/dynamodbdatapipeline": "x"},
        "allow",
        "Null JSON false",
    ),
    on(
        "Null",
        "aws:RequestTag/team",
        "true",
        {"aws:RequestTag/team": ""},
        "allow",
        "Null empty value is null",
    ),
]

ATTRIBUTES = ["PostDateTime", "Message", "Tags"]
DENIED_ATTRIBUTES = ["ID", "PostDateTime"]


def deny_attributes(context: Context, expected: str, id: str) -> Case:
    deny_put = deny(
        "dynamodb:PutItem",
        **when("ForAnyValue:StringEquals", "dynamodb:Attributes", DENIED_ATTRIBUTES),
    )
    return Case(
        id, [[allow("dynamodb:PutItem"), deny_put]], "dynamodb:PutItem", "*", expected, context
    )


SETS = [
    on(
        "ForAllValues:StringEquals",
        "dynamodb:Attributes",
        ATTRIBUTES,
        {"dynamodb:Attributes": ["Message", "Tags"]},
        "allow",
        "ForAllValues subset",
    ),
    on(
        "ForAllValues:StringEquals",
        "dynamodb:Attributes",
        ATTRIBUTES,
        {"dynamodb:Attributes": ["PostDateTime", "UserName"]},
        "implicit",
        "ForAllValues one outside",
    ),
    on(
        "ForAllValues:StringEquals",
        "dynamodb:Attributes",
        ATTRIBUTES,
        {"dynamodb:Attributes": []},
        "allow",
        "ForAllValues empty set",
    ),
    on(
        "ForAllValues:StringEquals",
        "dynamodb:Attributes",
        ATTRIBUTES,
        {},
        "allow",
        "ForAllValues missing key",
    ),
    on(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        {"aws:TagKeys": [""]},
        "allow",
        "ForAllValues empty string",
    ),
    on(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        {"aws:TagKeys": ["env", "owner"]},
        "implicit",
        "ForAllValues TagKeys",
    ),
    on(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        {"aws:TagKeys": ["owner", "team"]},
        "allow",
        "ForAnyValue one",
    ),
    on(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        {"aws:TagKeys": ["owner"]},
        "implicit",
        "ForAnyValue none",
    ),
    on(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        {"aws:TagKeys": []},
        "implicit",
        "ForAnyValue empty set",
    ),
    on(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        {},
        "implicit",
        "ForAnyValue missing key",
    ),
    on(
        "ForAnyValue:StringLike",
        "aws:TagKeys",
        "dynamo*",
        {"aws:TagKeys": ["env", "dynamodbdatapipeline"]},
        "allow",
        "ForAnyValue StringLike",
    ),
    on(
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        "env",
        {"aws:TagKeys": ["env", "team"]},
        "allow",
        "ForAnyValue negated one other",
    ),
    on(
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        "env",
        {"aws:TagKeys": ["env"]},
        "implicit",
        "ForAnyValue negated all listed",
    ),
    on(
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["secret", "private"],
        {"aws:TagKeys": ["env", "team"]},
        "allow",
        "ForAllValues negated none listed",
    ),
    on(
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["secret", "private"],
        {"aws:TagKeys": ["env", "private"]},
        "implicit",
        "ForAllValues negated one listed",
    ),
    on(
        "ForAnyValue:StringEqualsIfExists",
        "aws:TagKeys",
        "env",
        {},
        "allow",
        "ForAnyValue IfExists missing",
    ),
    deny_attributes(
        {"dynamodb:Attributes": ["UserName", "Message", "PostDateTime"]},
        "deny",
        "ForAnyValue deny match",
    ),
    deny_attributes({"dynamodb:Attributes": ["UserName"]}, "allow", "ForAnyValue deny no match"),
    deny_attributes({"dynamodb:Attributes": []}, "allow", "ForAnyValue deny empty"),
]

HOME = "arn:aws:dynamodb:us-east-2:123456789012:table/${aws:username}"
TEAM_BUCKET = "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"


def home(version: str | None, username: str | None, resource: str, expected: str, id: str) -> Case:
    context = {} if username is None else {"aws:username": username}
    return Case(
        id, [[allow("dynamodb:*", HOME)]], "dynamodb:Scan", resource, expected, context, version
    )


VARIABLES = [
    home(
        "2012-10-17",
        "alice",
        "arn:aws:dynamodb:us-east-2:123456789012:table/alice",
        "allow",
        "variable resource",
    ),
    home(
        "2012-10-17",
        "alice",
        "arn:aws:dynamodb:us-east-2:123456789012:table/bob",
        "implicit",
        "variable other user",
    ),
    home(
        "2012-10-17",
        None,
        "arn:aws:dynamodb:us-east-2:123456789012:table/",
        "implicit",
        "variable without value",
    ),
    home(
        "2012-10-17",
        "*",
        "arn:aws:dynamodb:us-east-2:123456789012:table/Orders",
        "implicit",
        "variable value is literal",
    ),
    home(
        "2008-10-17",
        "alice",
        "arn:aws:dynamodb:us-east-2:123456789012:table/alice",
        "implicit",
        "2008 no variables",
    ),
    home("2008-10-17", "alice", HOME, "allow", "2008 literal text"),
    home(
        None,
        "alice",
        "arn:aws:dynamodb:us-east-2:123456789012:table/alice",
        "implicit",
        "no Version no variables",
    ),
    Case(
        "variable default",
        [[allow("s3:*", TEAM_BUCKET)]],
        "s3:ListBucket",
        "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide",
        "allow",
    ),
    Case(
        "variable default unused",
        [[allow("s3:*", TEAM_BUCKET)]],
        "s3:ListBucket",
        "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide",
        "implicit",
        {"aws:PrincipalTag/team": "yellow"},
    ),
    Case(
        "variable tag value",
        [[allow("s3:*", TEAM_BUCKET)]],
        "s3:ListBucket",
        "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow",
        "allow",
        {"aws:PrincipalTag/team": "yellow"},
    ),
    on(
        "StringLike",
        "s3:prefix",
        "home/${aws:username}/*",
        {"s3:prefix": "home/alice/x", "aws:username": "alice"},
        "allow",
        "variable in StringLike",
    ),
    on(
        "StringLike",
        "s3:prefix",
        "home/${aws:username}/*",
        {"s3:prefix": "home/bob/x", "aws:username": "alice"},
        "implicit",
        "variable in StringLike other",
    ),
    on(
        "StringEquals",
        "datapipeline:PipelineCreator",
        "${aws:userid}",
        {"datapipeline:PipelineCreator": "AIDA1", "aws:userid": "AIDA1"},
        "allow",
        "PipelineCreator owner",
    ),
    on(
        "StringEquals",
        "datapipeline:PipelineCreator",
        "${aws:userid}",
        {"datapipeline:PipelineCreator": "AIDA2", "aws:userid": "AIDA1"},
        "implicit",
        "PipelineCreator other",
    ),
    on(
        "StringEquals",
        "s3:ExistingObjectTag/Team",
        "${aws:PrincipalTag/Team}",
        {"s3:ExistingObjectTag/Team": "red"},
        "implicit",
        "variable no value positive",
    ),
    on(
        "StringNotEquals",
        "s3:ExistingObjectTag/Team",
        "${aws:PrincipalTag/Team}",
        {"s3:ExistingObjectTag/Team": "red"},
        "allow",
        "variable no value negated",
    ),
    on(
        "StringEquals",
        "custom:who",
        "${aws:TagKeys}",
        {"custom:who": "env", "aws:TagKeys": ["env"]},
        "implicit",
        "multivalued key is no variable",
    ),
    on("StringLike", "custom:name", "a${*}b", {"custom:name": "a*b"}, "allow", "escaped star"),
    on(
        "StringLike",
        "custom:name",
        "a${*}b",
        {"custom:name": "axxb"},
        "implicit",
        "escaped star is literal",
    ),
    on(
        "StringEquals",
        "custom:name",
        "what${?}",
        {"custom:name": "what?"},
        "allow",
        "escaped question mark",
    ),
    on(
        "StringEquals",
        "custom:name",
        "cost${$}",
        {"custom:name": "cost$"},
        "allow",
        "escaped dollar",
    ),
    on(
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:iam::123456789012:user/${aws:username}",
        {"aws:SourceArn": "arn:aws:iam::123456789012:user/alice", "aws:username": "alice"},
        "allow",
        "variable in ArnLike",
    ),
    Case(
        "CurrentTime variable",
        [[allow("s3:PutObject", "arn:aws:s3:::logs/${aws:CurrentTime}")]],
        "s3:PutObject",
        "arn:aws:s3:::logs/2024-01-01T00:00:00Z",
        "allow",
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
    ),
    Case(
        "variable key name case",
        [[allow("dynamodb:*", HOME)]],
        "dynamodb:Scan",
        "arn:aws:dynamodb:us-east-2:123456789012:table/alice",
        "allow",
        {"AWS:UserName": "alice"},
    ),
]

KEY_CASE = [
    on(
        "StringEquals",
        "aws:RequestTag/Env",
        "prod",
        {"aws:requesttag/env": "prod"},
        "allow",
        "tag key case in context",
    ),
    on(
        "StringEquals",
        "AWS:REQUESTTAG/env",
        "prod",
        {"aws:RequestTag/Env": "prod"},
        "allow",
        "tag key case in policy",
    ),
    on(
        "StringEquals",
        "aws:ResourceTag/Owner",
        "alice",
        {"aws:resourcetag/OWNER": "alice"},
        "allow",
        "resource tag key case",
    ),
    on(
        "StringEquals",
        "datapipeline:Tag/Environment",
        "test",
        {"datapipeline:tag/environment": "test"},
        "allow",
        "pipeline tag key case",
    ),
    on(
        "StringEquals",
        "datapipeline:Tag/environment",
        "production",
        {"datapipeline:Tag/environment": "Production"},
        "implicit",
        "tag value case-sensitive",
    ),
    on(
        "StringEquals", "AWS:UserName", "alice", {"aws:username": "alice"}, "allow", "key name case"
    ),
    on(
        "Null",
        "elasticmapreduce:RequestTag/DynamoDBDataPipeline",
        "false",
        {"elasticmapreduce:requesttag/dynamodbdatapipeline": "true"},
        "allow",
        "Null tag key case",
    ),
]

CASES = (
    ACTIONS
    + RESOURCES
    + NOT_ELEMENTS
    + DECISIONS
    + STRINGS
    + NUMBERS
    + DATES
    + OTHER_OPERATORS
    + COMBINED
    + IF_EXISTS
    + NULLS
    + SETS
    + VARIABLES
    + KEY_CASE
)


def outcome(decision: Decision) -> str:
    if decision.allowed:
        return "allow"
    return "deny" if decision.explicit_deny else "implicit"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_evaluation(case: Case) -> None:
    policies = []
    for number, statements in enumerate(case.policies):
        document: dict[str, Any] = {"Statement": statements}
        if case.version is not None:
            document["Version"] = case.version
        policies.append(parse_policy(document, name=f"p{number}"))
    decision = evaluate(policies, case.action, case.resource, case.context)
    assert outcome(decision) == case.expected
    assert decision.action == case.action
    assert decision.resource == case.resource


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


def test_a_multivalued_key_without_a_set_operator() -> None:
    # The guide asks for set operators on multivalued keys; without one, this project
    # lets a positive operator hold when any value matches and a negated one when none
    # does, as for a single value.
    context = {"aws:TagKeys": ["env", "team"]}
    positive = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [allow(**when("StringEquals", "aws:TagKeys", "team"))],
        }
    )
    negated = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [allow(**when("StringNotEquals", "aws:TagKeys", "team"))],
        }
    )
    assert evaluate([positive], "dynamodb:Scan", "*", context).allowed
    assert not evaluate([negated], "dynamodb:Scan", "*", context).allowed
    assert evaluate([negated], "dynamodb:Scan", "*", {"aws:TagKeys": ["env"]}).allowed
