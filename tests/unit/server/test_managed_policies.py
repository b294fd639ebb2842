"""The built-in AWS managed policies: shipped as package data, found by name or ARN."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.server.managed_policies import (
    UnknownManagedPolicyError,
    get_managed_policy,
    managed_policy_names,
)
from ddbpipe.server.policy import evaluate

ROOT = Path(__file__).resolve().parents[3]

EXPECTED = {
    "AdministratorAccess",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonEC2RoleforDataPipelineRole",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AWSDataPipeline_FullAccess",
    "AWSDataPipeline_PowerUser",
    "AWSDataPipelineRole",
}


def test_every_listed_policy_is_there() -> None:
    assert set(managed_policy_names()) == EXPECTED
    assert len(managed_policy_names()) == len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_policy_loads_from_the_installed_package(name: str) -> None:
    data_file = resources.files("ddbpipe.server") / "policies" / f"{name}.json"
    document = json.loads(data_file.read_text("utf-8"))
    managed = get_managed_policy(name)
    assert managed.name == name
    assert managed.policy.name == name
    assert managed.policy.version == document["Version"] == "2012-10-17"
    statements = document["Statement"]
    assert len(managed.policy.statements) == len(statements)


def test_package_data_ships_every_policy_file() -> None:
    # The wheel holds what [tool.setuptools.package-data] names; every JSON file in
    # the policies folder must be matched by it.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["ddbpipe.server"]
    folder = ROOT / "src" / "ddbpipe" / "server" / "policies"
    files = sorted(p.relative_to(folder.parent).as_posix() for p in folder.glob("*.json"))
    assert {Path(f).stem for f in files} == EXPECTED
    for file in files:
        assert any(fnmatch.fnmatch(file, pattern) for pattern in patterns), file


def test_lookup_ignores_case_and_takes_arns() -> None:
    assert get_managed_policy("amazons3readonlyaccess").name == "AmazonS3ReadOnlyAccess"
    role = get_managed_policy("arn:aws:iam::aws:policy/service-role/AWSDataPipelineRole")
    assert role.name == "AWSDataPipelineRole"
    assert role.arn == "arn:aws:iam::aws:policy/service-role/AWSDataPipelineRole"
    assert get_managed_policy("AdministratorAccess").arn == (
        "arn:aws:iam::aws:policy/AdministratorAccess"
    )


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownManagedPolicyError) as caught:
        get_managed_policy("AmazonDynamoDBFullAcess")
    message = str(caught.value)
    assert "unknown managed policy 'AmazonDynamoDBFullAcess'" in message
    for name in EXPECTED:
        assert name in message
    assert isinstance(caught.value, ConfigError)


def test_the_wrong_path_in_an_arn_is_unknown() -> None:
    with pytest.raises(UnknownManagedPolicyError):
        get_managed_policy("arn:aws:iam::aws:policy/AWSDataPipelineRole")


def test_published_statements_are_kept() -> None:
    # Spot checks against AWS's published documents.
    full = get_managed_policy("AmazonDynamoDBFullAccess")
    assert full.version_id == "v15"
    assert full.policy.statements[0].actions[:2] == ("dynamodb:*", "dax:*")
    insight = full.policy.statements[1]
    assert insight.resources == (
        "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*",
    )
    power = get_managed_policy("AWSDataPipeline_PowerUser").policy
    assert power.statements[1].actions == ("iam:PassRole",)
    assert power.statements[1].resources == (
        "arn:aws:iam::*:role/DataPipelineDefaultResourceRole",
        "arn:aws:iam::*:role/DataPipelineDefaultRole",
    )
    resource_role = get_managed_policy("AmazonEC2RoleforDataPipelineRole").policy
    assert "elasticmapreduce:ModifyInstanceGroups" in resource_role.statements[0].actions
    assert get_managed_policy("AmazonS3FullAccess").policy.statements[0].actions == (
        "s3:*",
        "s3-object-lambda:*",
    )


def test_administrator_access_allows_anything_and_read_only_does_not_write() -> None:
    admin = [get_managed_policy("AdministratorAccess").policy]
    assert evaluate(admin, "iam:CreateUser", "arn:aws:iam::123456789012:user/bob").allowed
    read_only = [get_managed_policy("AmazonDynamoDBReadOnlyAccess").policy]
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"
    assert evaluate(read_only, "dynamodb:Scan", table).allowed
    assert evaluate(read_only, "dynamodb:DescribeTable", table).allowed
    assert not evaluate(read_only, "dynamodb:BatchWriteItem", table).allowed
    assert not evaluate(read_only, "dynamodb:DeleteTable", table).allowed
    s3_read = [get_managed_policy("AmazonS3ReadOnlyAccess").policy]
    assert evaluate(s3_read, "s3:GetObject", "arn:aws:s3:::bucket/key").allowed
    assert not evaluate(s3_read, "s3:PutObject", "arn:aws:s3:::bucket/key").allowed
