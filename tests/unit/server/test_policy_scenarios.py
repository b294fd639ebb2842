"""The DynamoDB developer guide's export/import permissions, evaluated end to end.

Fixtures (``fixtures/``), from the guide's page "Exporting and importing DynamoDB data
using AWS Data Pipeline":

- ``EMRforDynamoDBDataPipeline.json``: the inline EMR policy, exactly as printed.
- ``ForumThreadReplyTables.json``: the guide's copy of ``AmazonDynamoDBFullAccess``
  limited to the Forum, Thread and Reply tables. The guide prints its first two
  statements and omits the rest ("remainder of document omitted"); the remaining
  statements here are those of the published ``AmazonDynamoDBFullAccess`` after its
  first statement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ddbpipe.server.managed_policies import get_managed_policy
from ddbpipe.server.policy import (
    Policy,
    access_denied_message,
    evaluate,
    parse_policy,
    request_context,
)

FIXTURES = Path(__file__).parent / "fixtures"
ALICE = "arn:aws:iam::123456789012:user/alice"
TABLES = "arn:aws:dynamodb:us-west-2:123456789012:table/"


def fixture(name: str) -> Policy:
    return parse_policy((FIXTURES / f"{name}.json").read_text("utf-8"), name=name)


@pytest.fixture
def forum_user() -> list[Policy]:
    """The user limited to Forum, Thread and Reply, as the guide sets them up."""
    return [
        fixture("ForumThreadReplyTables"),
        get_managed_policy("AWSDataPipeline_FullAccess").policy,
        fixture("EMRforDynamoDBDataPipeline"),
    ]


@pytest.mark.parametrize("table", ["Forum", "Thread", "Reply"])
def test_forum_user_may_scan_the_three_tables(forum_user: list[Policy], table: str) -> None:
    decision = evaluate(forum_user, "dynamodb:Scan", TABLES + table)
    assert decision.allowed
    assert decision.policy == "ForumThreadReplyTables"
    assert decision.statement == 0


def test_forum_user_is_refused_other_tables(forum_user: list[Policy]) -> None:
    orders = TABLES + "Orders"
    decision = evaluate(forum_user, "dynamodb:Scan", orders)
    assert not decision.allowed
    assert decision.implicit_deny
    assert access_denied_message(ALICE, decision) == (
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
        "dynamodb:Scan on resource: arn:aws:dynamodb:us-west-2:123456789012:table/Orders"
    )


def test_forum_user_may_describe_any_table_through_data_pipeline_access(
    forum_user: list[Policy],
) -> None:
    # AWSDataPipeline_FullAccess grants dynamodb:DescribeTable on "*".
    decision = evaluate(forum_user, "dynamodb:DescribeTable", TABLES + "Orders")
    assert decision.allowed
    assert decision.policy == "AWSDataPipeline_FullAccess"
    assert not evaluate(forum_user, "dynamodb:BatchWriteItem", TABLES + "Orders").allowed
    assert evaluate(forum_user, "dynamodb:BatchWriteItem", TABLES + "Reply").allowed


def test_forum_user_manages_pipelines_and_passes_only_the_default_roles(
    forum_user: list[Policy],
) -> None:
    assert evaluate(forum_user, "datapipeline:CreatePipeline").allowed
    assert evaluate(forum_user, "datapipeline:ActivatePipeline").allowed
    role = "arn:aws:iam::123456789012:role/"
    assert evaluate(forum_user, "iam:PassRole", role + "DataPipelineDefaultRole").allowed
    assert evaluate(forum_user, "iam:PassRole", role + "DataPipelineDefaultResourceRole").allowed
    assert not evaluate(forum_user, "iam:PassRole", role + "AdminRole").allowed


EMR_ACTIONS = [
    "elasticmapreduce:RunJobFlow",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:TerminateJobFlows",
]


@pytest.mark.parametrize("action", EMR_ACTIONS)
def test_emr_policy_needs_the_dynamodbdatapipeline_request_tag(action: str) -> None:
    emr = [fixture("EMRforDynamoDBDataPipeline")]
    untagged = evaluate(emr, action, "*", request_context(emr_request_tags={"team": "data"}))
    assert untagged.implicit_deny
    tagged = evaluate(
        emr, action, "*", request_context(emr_request_tags={"dynamodbdatapipeline": "true"})
    )
    assert tagged.allowed
    assert tagged.sid == "EMR"


def test_emr_policy_refuses_a_request_with_no_context() -> None:
    emr = [fixture("EMRforDynamoDBDataPipeline")]
    decision = evaluate(emr, "elasticmapreduce:RunJobFlow")
    assert not decision.allowed
    assert access_denied_message(ALICE, decision).endswith(
        "elasticmapreduce:RunJobFlow on resource: *"
    )


def test_emr_policy_tag_key_is_matched_ignoring_case() -> None:
    emr = [fixture("EMRforDynamoDBDataPipeline")]
    context = request_context(emr_request_tags={"DynamoDBDataPipeline": "true"})
    assert evaluate(emr, "elasticmapreduce:RunJobFlow", "*", context).allowed


def test_emr_policy_allows_only_its_four_actions() -> None:
    emr = [fixture("EMRforDynamoDBDataPipeline")]
    context = request_context(emr_request_tags={"dynamodbdatapipeline": "true"})
    assert not evaluate(emr, "elasticmapreduce:AddJobFlowSteps", "*", context).allowed


# What DataPipelineDefaultRole must do, per the Data Pipeline guide's inline version
# of the role ("IAM Roles for AWS Data Pipeline") and the DynamoDB guide.
DEFAULT_ROLE_NEEDS = [
    ("dynamodb:DescribeTable", TABLES + "Orders"),
    ("dynamodb:Scan", TABLES + "Orders"),
    ("dynamodb:Query", TABLES + "Orders"),
    ("dynamodb:GetItem", TABLES + "Orders"),
    ("dynamodb:BatchGetItem", TABLES + "Orders"),
    ("dynamodb:UpdateTable", TABLES + "Orders"),
    ("elasticmapreduce:RunJobFlow", "*"),
    ("elasticmapreduce:DescribeCluster", "*"),
    ("elasticmapreduce:TerminateJobFlows", "*"),
    ("ec2:RunInstances", "*"),
    ("ec2:DescribeInstances", "*"),
    ("s3:PutObject", "arn:aws:s3:::my-backups/2024-01-01-00-00-00/manifest"),
    ("s3:GetObject", "arn:aws:s3:::my-backups/2024-01-01-00-00-00/manifest"),
    ("s3:ListBucket", "arn:aws:s3:::my-backups"),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/DataPipelineDefaultResourceRole"),
    ("datapipeline:DescribeObjects", "*"),
    ("datapipeline:EvaluateExpression", "*"),
    ("sns:Publish", "arn:aws:sns:us-west-2:123456789012:backup-alarms"),
    ("cloudwatch:PutMetricData", "*"),
]


@pytest.mark.parametrize(("action", "resource"), DEFAULT_ROLE_NEEDS)
def test_default_role_policy_allows_what_the_role_needs(action: str, resource: str) -> None:
    role = [get_managed_policy("AWSDataPipelineRole").policy]
    assert evaluate(role, action, resource).allowed


@pytest.mark.parametrize(
    "action", ["dynamodb:BatchWriteItem", "dynamodb:DeleteTable", "datapipeline:DeletePipeline"]
)
def test_default_role_policy_does_not_write_items_or_delete(action: str) -> None:
    role = [get_managed_policy("AWSDataPipelineRole").policy]
    assert not evaluate(role, action, TABLES + "Orders" if "dynamodb" in action else "*").allowed


def test_default_role_creates_only_the_emr_and_spot_service_linked_roles() -> None:
    role = [get_managed_policy("AWSDataPipelineRole").policy]
    emr = request_context(extra={"iam:AWSServiceName": "elasticmapreduce.amazonaws.com"})
    other = request_context(extra={"iam:AWSServiceName": "rds.amazonaws.com"})
    assert evaluate(role, "iam:CreateServiceLinkedRole", "*", emr).allowed
    assert not evaluate(role, "iam:CreateServiceLinkedRole", "*", other).allowed


def test_resource_role_writes_items_for_the_import() -> None:
    resource_role = [get_managed_policy("AmazonEC2RoleforDataPipelineRole").policy]
    assert evaluate(resource_role, "dynamodb:BatchWriteItem", TABLES + "Orders").allowed
    assert evaluate(resource_role, "s3:GetObject", "arn:aws:s3:::my-backups/part").allowed
    assert not evaluate(resource_role, "iam:PassRole", "*").allowed


def test_pipeline_owner_policy_with_a_context_from_the_server() -> None:
    # The Data Pipeline guide's "grant the pipeline owner full access" policy.
    owner = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["datapipeline:*"],
                    "Resource": ["*"],
                    "Condition": {
                        "StringEquals": {"datapipeline:PipelineCreator": "${aws:userid}"}
                    },
                }
            ],
        }
    )
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    mine = request_context(userid="AIDAALICE", pipeline_creator="AIDAALICE", current_time=now)
    theirs = request_context(userid="AIDAALICE", pipeline_creator="AIDABOB", current_time=now)
    assert evaluate([owner], "datapipeline:DeletePipeline", "*", mine).allowed
    assert not evaluate([owner], "datapipeline:DeletePipeline", "*", theirs).allowed


def test_explicit_deny_message_says_so(forum_user: list[Policy]) -> None:
    guard = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Sid": "NoScanOnForum",
                "Effect": "Deny",
                "Action": "dynamodb:Scan",
                "Resource": TABLES + "Forum",
            },
        },
        name="Guard",
    )
    decision = evaluate([*forum_user, guard], "dynamodb:Scan", TABLES + "Forum")
    assert decision.explicit_deny
    assert (decision.policy, decision.statement, decision.sid) == ("Guard", 0, "NoScanOnForum")
    assert access_denied_message(ALICE, decision) == (
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
        "dynamodb:Scan on resource: arn:aws:dynamodb:us-west-2:123456789012:table/Forum "
        "with an explicit deny in an identity-based policy"
    )


def test_message_for_an_allowed_request_is_an_error(forum_user: list[Policy]) -> None:
    decision = evaluate(forum_user, "dynamodb:Scan", TABLES + "Forum")
    with pytest.raises(ValueError, match="was allowed"):
        access_denied_message(ALICE, decision)
