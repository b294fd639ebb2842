"""Input shapes from botocore's model, and the service's validation messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.shapes import operation_names, service_model, validate_input

ID_PATTERN = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*"


def refusal(operation: str, body: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        validate_input(operation, body)
    return caught.value


def test_the_model_has_the_19_operations() -> None:
    assert len(operation_names()) == 19
    assert {"CreatePipeline", "PollForTask", "SetTaskStatus"} <= operation_names()


@pytest.mark.parametrize(
    ("shape", "low", "high", "pattern"),
    [
        ("id", 1, 1024, ID_PATTERN),
        ("fieldNameString", 1, 256, ID_PATTERN),
        ("fieldStringValue", 0, 10240, ID_PATTERN),
        ("string", 0, 1024, ID_PATTERN),
        ("longString", 0, 20971520, ID_PATTERN),
        ("taskId", 1, 2048, ID_PATTERN),
        ("tagKey", 1, 128, None),
        ("tagValue", 0, 256, None),
        ("tagList", 0, 10, None),
    ],
)
def test_the_constraints_the_server_relies_on(
    shape: str, low: int, high: int, pattern: str | None
) -> None:
    metadata = service_model().shape_for(shape).metadata
    assert (metadata.get("min"), metadata.get("max"), metadata.get("pattern")) == (
        low,
        high,
        pattern,
    )


def test_missing_required_member_in_aws_words() -> None:
    error = refusal("ActivatePipeline", {})
    assert error.error_code is ErrorCode.INVALID_REQUEST
    assert error.message == (
        "1 validation error detected: Value null at 'pipelineId' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_every_problem_is_reported_with_its_path() -> None:
    body = {
        "pipelineId": "",
        "pipelineObjects": [
            {"id": "Default", "name": "Default", "fields": [{"key": ""}]},
            {"id": "x" * 1025, "name": "n"},
        ],
    }
    message = refusal("PutPipelineDefinition", body).message
    assert message.startswith("4 validation errors detected: ")
    assert (
        "Value '' at 'pipelineId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1" in message
    )
    assert "at 'pipelineObjects.1.member.fields.1.member.key' failed" in message
    assert (
        "at 'pipelineObjects.2.member.id' failed to satisfy constraint: "
        "Member must have length less than or equal to 1024" in message
    )
    assert (
        "Value null at 'pipelineObjects.2.member.fields' failed to satisfy constraint: "
        "Member must not be null" in message
    )


def test_pattern_allows_supplementary_characters_and_refuses_control_characters() -> None:
    assert validate_input("DeletePipeline", {"pipelineId": "df-😀"})["pipelineId"] == "df-😀"
    message = refusal("DeletePipeline", {"pipelineId": "df-\x01"}).message
    assert "Member must satisfy regular expression pattern: [\\u0020-" in message


def test_lengths_count_utf16_code_units_as_the_service_does() -> None:
    validate_input("DeletePipeline", {"pipelineId": "😀" * 512})
    message = refusal("DeletePipeline", {"pipelineId": "😀" * 513}).message
    assert "Member must have length less than or equal to 1024" in message


def test_enum_and_list_length() -> None:
    message = refusal("SetTaskStatus", {"taskId": "t", "taskStatus": "DONE"}).message
    assert message.endswith("Member must satisfy enum value set: [FINISHED, FAILED, FALSE]")
    tags = [{"key": f"k{i}", "value": "v"} for i in range(11)]
    message = refusal("AddTags", {"pipelineId": "df-1", "tags": tags}).message
    assert "at 'tags' failed to satisfy constraint: Member must have length less than" in message


@pytest.mark.parametrize(
    ("operation", "body", "where"),
    [
        ("DeletePipeline", {"pipelineId": 7}, "'pipelineId' but found a number"),
        ("DescribePipelines", {"pipelineIds": "df-1"}, "a list at 'pipelineIds'"),
        ("DeactivatePipeline", {"pipelineId": "p", "cancelActive": "yes"}, "a boolean"),
        ("QueryObjects", {"pipelineId": "p", "sphere": "X", "limit": 1.5}, "an integer"),
        ("ActivatePipeline", {"pipelineId": "p", "startTimestamp": "now"}, "a timestamp"),
        ("ListPipelines", [], "an object at 'the request'"),
    ],
)
def test_wrong_json_types_are_serialization_errors(
    operation: str, body: object, where: str
) -> None:
    error = refusal(operation, body)
    assert error.error_code is ErrorCode.SERIALIZATION
    assert where in error.message


def test_unknown_members_are_dropped_and_timestamps_become_datetimes() -> None:
    body: dict[str, Any] = {"pipelineId": "df-1", "startTimestamp": 1700000000.5, "extra": 1}
    checked = validate_input("ActivatePipeline", body)
    assert checked == {
        "pipelineId": "df-1",
        "startTimestamp": datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
    }


def test_operation_with_no_input_members_takes_an_empty_object() -> None:
    assert validate_input("ListPipelines", {}) == {}
