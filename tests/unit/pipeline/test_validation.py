"""Validation, one rule per test: each starts from a valid definition, breaks one thing,
and checks the exact ``CODE: text`` of everything reported."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ddbpipe.pipeline.definition import definition_from_api, definition_from_file
from ddbpipe.pipeline.validation import (
    ValidationResult,
    render_validation,
    validate_definition,
)

EXPORT_STEP = (
    "s3://jars/tools.jar,org.apache.hadoop.dynamodb.tools.DynamoDBExport,"
    "#{output.directoryPath},#{input.tableName},#{input.readThroughputPercent}"
)
TARGET_PATH = "s3://bk/out/#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
ON_DEMAND: dict[str, Any] = {
    "objects": [
        {
            "id": "Default",
            "scheduleType": "ondemand",
            "role": "DataPipelineDefaultRole",
            "resourceRole": "DataPipelineDefaultResourceRole",
        },
        {
            "id": "Source",
            "type": "DynamoDBDataNode",
            "tableName": "Orders",
            "readThroughputPercent": "0.5",
        },
        {"id": "Target", "type": "S3DataNode", "directoryPath": TARGET_PATH},
        {"id": "Cluster", "type": "EmrCluster", "releaseLabel": "emr-5.23.0"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Source"},
            "output": {"ref": "Target"},
            "runsOn": {"ref": "Cluster"},
            "step": EXPORT_STEP,
        },
    ]
}
RUNNABLE = ("Source", "Target", "Cluster", "Backup")


def on_demand() -> dict[str, Any]:
    return copy.deepcopy(ON_DEMAND)


def scheduled(**schedule: str) -> dict[str, Any]:
    document = on_demand()
    default = document["objects"][0]
    default["scheduleType"] = "cron"
    default["schedule"] = {"ref": "Daily"}
    fields = schedule or {"period": "1 day", "startAt": "FIRST_ACTIVATION_DATE_TIME"}
    document["objects"].append({"id": "Daily", "type": "Schedule", **fields})
    return document


def obj(document: dict[str, Any], object_id: str) -> dict[str, Any]:
    return next(item for item in document["objects"] if item["id"] == object_id)


def check(document: dict[str, Any], **options: Any) -> ValidationResult:
    return validate_definition(definition_from_file(document), **options)


def errors_of(document: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    result = check(document)
    assert result.fatal == {}
    return dict(result.errors)


def test_the_base_definitions_are_valid() -> None:
    for document in (on_demand(), scheduled()):
        result = check(document, now=datetime(2030, 1, 1, tzinfo=UTC))
        assert (result.fatal, result.errors, result.warnings) == ({}, {}, {})
        assert not result.errored


# --- fatal: refused and not saved ---------------------------------------------------


def test_fatal_object_without_id() -> None:
    definition = definition_from_api(
        {
            "pipelineObjects": [
                {"name": "Lost", "fields": [{"key": "type", "stringValue": "Schedule"}]}
            ]
        }
    )
    result = validate_definition(definition)
    assert result.fatal == {"": ("MISSING_ID: object 1 has no id.",)}
    assert result.refused
    assert result.errored


def test_fatal_object_without_name() -> None:
    api = {
        "pipelineObjects": [
            {"id": "Terminate", "name": "", "fields": [{"key": "type", "stringValue": "Terminate"}]}
        ]
    }
    result = validate_definition(definition_from_api(api))
    assert result.fatal == {"Terminate": ("MISSING_NAME: the object has no name.",)}
    assert result.errors == {}


def test_fatal_empty_string_field() -> None:
    document = on_demand()
    obj(document, "Backup")["workerGroup"] = ""
    result = check(document)
    assert result.fatal == {
        "Backup": ("EMPTY_FIELD_VALUE: 'workerGroup' value must not be empty.",)
    }
    assert result.errors == {}
    assert result.refused


def test_fatal_empty_reference() -> None:
    document = on_demand()
    obj(document, "Backup")["onFail"] = {"ref": ""}
    result = check(document)
    assert result.fatal == {"Backup": ("EMPTY_FIELD_VALUE: 'onFail' value must not be empty.",)}
    assert result.errors == {}


def test_fatal_more_objects_than_the_maximum() -> None:
    document = on_demand()
    document["objects"].extend(
        {"id": f"Setting{index}", "type": "Property", "key": "k", "value": "v"}
        for index in range(96)
    )
    result = check(document)
    assert result.fatal == {
        "": ("TOO_MANY_OBJECTS: the definition has 101 objects; at most 100 are allowed.",)
    }
    assert result.errors == {}
    document["objects"].pop()
    assert check(document).fatal == {}


# --- objects and types --------------------------------------------------------------


def test_duplicate_object_ids() -> None:
    document = on_demand()
    document["objects"].append({"id": "Source", "type": "DynamoDBDataNode", "tableName": "Other"})
    assert errors_of(document) == {
        "Source": ("DUPLICATE_OBJECT_ID: 2 objects have the id 'Source'.",)
    }


def test_type_is_required() -> None:
    document = on_demand()
    document["objects"].append({"id": "Loose", "role": "r"})
    assert errors_of(document) == {"Loose": ("MISSING_REQUIRED_FIELD: 'type' is required.",)}


def test_parents_without_a_type_are_allowed() -> None:
    document = on_demand()
    document["objects"].append({"id": "Base", "maximumRetries": "2"})
    obj(document, "Backup")["parent"] = {"ref": "Base"}
    assert errors_of(document) == {}


def test_unknown_object_type() -> None:
    document = on_demand()
    document["objects"].append({"id": "X", "type": "Teleporter"})
    assert errors_of(document) == {
        "X": ("INVALID_OBJECT_TYPE: 'Teleporter' is not an object type.",)
    }


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("ShellCommandActivity", {"command": "echo hi", "runsOn": {"ref": "Cluster"}}),
        ("Ec2Resource", {"instanceType": "t1.micro"}),
        ("CopyActivity", {"input": {"ref": "Target"}, "output": {"ref": "Target"}}),
        ("HiveActivity", {"hiveScript": "SELECT 1"}),
        ("RedshiftDataNode", {"tableName": "t"}),
        ("ShellCommandPrecondition", {"command": "true"}),
    ],
)
def test_types_ddbpipe_cannot_run(kind: str, fields: dict[str, Any]) -> None:
    document = on_demand()
    document["objects"].append({"id": "Other", "type": kind, **fields})
    assert errors_of(document) == {
        "Other": (
            f"UNSUPPORTED_OBJECT_TYPE: objects of type '{kind}' cannot run in ddbpipe; it runs "
            "EmrActivity steps that export or import DynamoDB tables and HiveCopyActivity "
            "between DynamoDB and S3.",
        )
    }


# --- Schedule -----------------------------------------------------------------------


def test_schedule_period_is_required() -> None:
    document = scheduled(startAt="FIRST_ACTIVATION_DATE_TIME")
    assert errors_of(document) == {"Daily": ("MISSING_REQUIRED_FIELD: 'period' is required.",)}


def test_schedule_period_must_be_a_period() -> None:
    document = scheduled(period="daily", startAt="FIRST_ACTIVATION_DATE_TIME")
    assert errors_of(document) == {
        "Daily": (
            "INVALID_FIELD_VALUE: 'period' value must be a period such as '1 day' or "
            "'15 minutes', not 'daily'.",
        )
    }


@pytest.mark.parametrize(
    "period", ["10 minutes", "14 Minutes", "4 years", "37 months", "1100 days"]
)
def test_schedule_period_runs_from_15_minutes_to_3_years(period: str) -> None:
    document = scheduled(period=period, startAt="FIRST_ACTIVATION_DATE_TIME")
    assert errors_of(document) == {
        "Daily": (
            f"INVALID_FIELD_VALUE: 'period' value must be between 15 minutes and 3 years, not "
            f"'{period}'.",
        )
    }


def test_schedule_period_from_a_parameter_is_checked_after_rendering() -> None:
    document = scheduled(period="#{myPeriod}", startAt="FIRST_ACTIVATION_DATE_TIME")
    document["parameters"] = [{"id": "myPeriod", "default": "5 minutes"}]
    assert errors_of(document) == {
        "Daily": (
            "INVALID_FIELD_VALUE: 'period' value must be between 15 minutes and 3 years, not '5 "
            "minutes'.",
        )
    }


def test_schedule_start_at_and_start_date_time_not_both() -> None:
    document = scheduled(
        period="1 day", startAt="FIRST_ACTIVATION_DATE_TIME", startDateTime="2026-01-01T00:00:00"
    )
    assert errors_of(document) == {
        "Daily": ("CONFLICTING_FIELDS: only one of 'startAt' or 'startDateTime' may be set.",)
    }


def test_schedule_needs_start_at_or_start_date_time() -> None:
    assert errors_of(scheduled(period="1 day")) == {
        "Daily": ("MISSING_REQUIRED_FIELD: one of 'startAt' or 'startDateTime' is required.",)
    }


@pytest.mark.parametrize("value", ["#{makeDate(2011,5,24)}", "2011-05-24", "2011-05-24 00:00:00"])
def test_schedule_start_date_time_must_be_a_literal_datetime(value: str) -> None:
    """The one validation message AWS documents, word for word."""
    document = scheduled(period="1 hour", startDateTime=value)
    assert errors_of(document) == {
        "Daily": ("INVALID_FIELD_VALUE: 'startDateTime' value must be a literal datetime value.",)
    }


def test_schedule_end_date_time_must_be_a_literal_datetime() -> None:
    document = scheduled(period="1 hour", startDateTime="2012-12-12T00:00:00", endDateTime="soon")
    assert errors_of(document) == {
        "Daily": ("INVALID_FIELD_VALUE: 'endDateTime' value must be a literal datetime value.",)
    }


def test_schedule_occurrences_not_with_end_date_time() -> None:
    document = scheduled(
        period="1 hour",
        startDateTime="2012-12-12T00:00:00",
        endDateTime="2012-12-21T18:00:00",
        occurrences="3",
    )
    assert errors_of(document) == {
        "Daily": ("CONFLICTING_FIELDS: 'occurrences' cannot be used with 'endDateTime'.",)
    }


def test_schedule_end_after_start() -> None:
    document = scheduled(
        period="1 hour", startDateTime="2012-12-21T18:00:00", endDateTime="2012-12-12T00:00:00"
    )
    assert errors_of(document) == {
        "Daily": ("INVALID_FIELD_VALUE: 'endDateTime' value must be later than 'startDateTime'.",)
    }


def test_schedule_start_at_value() -> None:
    document = scheduled(period="1 hour", startAt="NOW")
    assert errors_of(document) == {
        "Daily": (
            "INVALID_FIELD_VALUE: 'startAt' value must be one of FIRST_ACTIVATION_DATE_TIME, "
            "not 'NOW'.",
        )
    }


def test_schedule_occurrences_is_a_positive_whole_number() -> None:
    document = scheduled(period="1 hour", startAt="FIRST_ACTIVATION_DATE_TIME", occurrences="0")
    assert errors_of(document) == {
        "Daily": (
            "INVALID_FIELD_VALUE: 'occurrences' value must be a whole number of at least 1, not "
            "'0'.",
        )
    }


def test_scheduled_pipelines_need_a_schedule_on_runnable_objects() -> None:
    document = scheduled()
    del obj(document, "Default")["schedule"]
    message = (
        "MISSING_REQUIRED_FIELD: 'schedule' is required unless the pipeline's "
        "scheduleType is 'ondemand'."
    )
    assert errors_of(document) == dict.fromkeys(RUNNABLE, (message,))


# --- on demand ----------------------------------------------------------------------


def test_ondemand_must_be_the_only_schedule_type() -> None:
    document = on_demand()
    obj(document, "Backup")["scheduleType"] = "cron"
    assert errors_of(document) == {
        "Backup": (
            "INVALID_SCHEDULE_TYPE: 'ondemand' must be the only scheduleType of the pipeline; "
            "this object uses 'cron'.",
        )
    }


def test_ondemand_belongs_on_the_default_object() -> None:
    document = scheduled()
    obj(document, "Backup")["scheduleType"] = "ondemand"
    assert errors_of(document) == {
        "Backup": ("INVALID_SCHEDULE_TYPE: 'ondemand' must be set on the Default object.",)
    }


def test_ondemand_pipelines_use_no_schedule() -> None:
    document = on_demand()
    document["objects"].append(
        {
            "id": "Daily",
            "type": "Schedule",
            "period": "1 day",
            "startAt": "FIRST_ACTIVATION_DATE_TIME",
        }
    )
    assert errors_of(document) == {
        "Daily": (
            "INVALID_SCHEDULE_TYPE: a pipeline whose scheduleType is 'ondemand' cannot use a "
            "Schedule.",
        )
    }


def test_the_explicit_on_demand_schedule_is_allowed() -> None:
    document = on_demand()
    document["objects"].append(
        {
            "id": "DefaultSchedule",
            "type": "Schedule",
            "period": "ONDEMAND_PERIOD",
            "startAt": "ONDEMAND_ACTIVATION_TIME",
        }
    )
    assert errors_of(document) == {}


def test_the_explicit_on_demand_schedule_starts_on_activation() -> None:
    document = on_demand()
    document["objects"].append(
        {
            "id": "DefaultSchedule",
            "type": "Schedule",
            "period": "ONDEMAND_PERIOD",
            "startAt": "FIRST_ACTIVATION_DATE_TIME",
        }
    )
    assert errors_of(document) == {
        "DefaultSchedule": (
            "INVALID_FIELD_VALUE: 'startAt' value must be one of ONDEMAND_ACTIVATION_TIME, "
            "not 'FIRST_ACTIVATION_DATE_TIME'.",
        )
    }


# --- data nodes, activities, resources ----------------------------------------------


def test_dynamodb_data_node_needs_a_table_name() -> None:
    document = on_demand()
    document["objects"].append({"id": "Spare", "type": "DynamoDBDataNode"})
    assert errors_of(document) == {"Spare": ("MISSING_REQUIRED_FIELD: 'tableName' is required.",)}


@pytest.mark.parametrize("key", ["readThroughputPercent", "writeThroughputPercent"])
@pytest.mark.parametrize("value", ["1.5", "0.05", "1.01", "abc", "-0.5", "0"])
def test_throughput_percent_is_from_0_1_to_1_0(key: str, value: str) -> None:
    document = on_demand()
    document["objects"].append(
        {"id": "Spare", "type": "DynamoDBDataNode", "tableName": "T", key: value}
    )
    assert errors_of(document) == {
        "Spare": (
            f"INVALID_FIELD_VALUE: '{key}' value must be a number from 0.1 to 1.0, not '{value}'.",
        )
    }


@pytest.mark.parametrize("value", ["0.1", "1.0", "1", ".5", "0.25"])
def test_throughput_percent_in_range_is_fine(value: str) -> None:
    document = on_demand()
    obj(document, "Source")["readThroughputPercent"] = value
    assert errors_of(document) == {}


def test_throughput_percent_from_a_parameter_value() -> None:
    document = on_demand()
    obj(document, "Source")["readThroughputPercent"] = "#{myRatio}"
    document["parameters"] = [{"id": "myRatio", "type": "Double", "default": "0.25"}]
    document["values"] = {"myRatio": "2"}
    assert errors_of(document) == {
        "Source": (
            "INVALID_FIELD_VALUE: 'readThroughputPercent' value must be a number from 0.1 to "
            "1.0, not '2'.",
        )
    }


def test_s3_data_node_needs_a_path() -> None:
    document = on_demand()
    document["objects"].append({"id": "Spare", "type": "S3DataNode"})
    assert errors_of(document) == {
        "Spare": ("MISSING_REQUIRED_FIELD: one of 'directoryPath' or 'filePath' is required.",)
    }


def test_emr_activity_needs_runs_on_or_worker_group() -> None:
    document = on_demand()
    del obj(document, "Backup")["runsOn"]
    assert errors_of(document) == {
        "Backup": ("MISSING_REQUIRED_FIELD: one of 'runsOn' or 'workerGroup' is required.",)
    }
    obj(document, "Backup")["workerGroup"] = "my-workers"
    assert errors_of(document) == {}


@pytest.mark.parametrize(("key", "value"), [("runsOn", {"ref": "Cluster"}), ("workerGroup", "wg")])
def test_runs_on_and_worker_group_are_not_allowed_on_emr_cluster(key: str, value: Any) -> None:
    document = on_demand()
    obj(document, "Cluster")[key] = value
    assert errors_of(document) == {
        "Cluster": (f"FIELD_NOT_ALLOWED: '{key}' is not allowed on EmrCluster objects.",)
    }


def test_emr_activity_needs_a_step() -> None:
    document = on_demand()
    del obj(document, "Backup")["step"]
    assert errors_of(document) == {"Backup": ("MISSING_REQUIRED_FIELD: 'step' is required.",)}


def test_steps_ddbpipe_cannot_run_are_errors_naming_the_step() -> None:
    document = on_demand()
    obj(document, "Backup")["step"] = ["s3://jars/shell.jar,com.example.Shell,echo", EXPORT_STEP]
    assert errors_of(document) == {
        "Backup": (
            "UNSUPPORTED_STEP: step 's3://jars/shell.jar,com.example.Shell,echo' is not a DynamoDB "
            "export or import that ddbpipe can run: main class 'com.example.Shell' is not DynamoDB "
            "export or import",
        )
    }


def test_hive_copy_between_dynamodb_and_s3_is_runnable() -> None:
    document = on_demand()
    document["objects"][-1] = {
        "id": "Copy",
        "type": "HiveCopyActivity",
        "input": {"ref": "Source"},
        "output": {"ref": "Target"},
        "runsOn": {"ref": "Cluster"},
    }
    assert errors_of(document) == {}
    obj(document, "Copy")["filterSql"] = "`ts` > 5"
    assert errors_of(document) == {
        "Copy": ("UNSUPPORTED_FIELD: 'filterSql' is not supported: ddbpipe copies whole tables.",)
    }


def test_hive_copy_between_other_nodes_is_not() -> None:
    document = on_demand()
    document["objects"][-1] = {
        "id": "Copy",
        "type": "HiveCopyActivity",
        "input": {"ref": "Target"},
        "output": {"ref": "Other"},
        "runsOn": {"ref": "Cluster"},
    }
    document["objects"].append({"id": "Other", "type": "S3DataNode", "directoryPath": "s3://b/o"})
    assert errors_of(document) == {
        "Copy": (
            "UNSUPPORTED_ACTIVITY: HiveCopyActivity can only copy between a DynamoDBDataNode "
            "and an "
            "S3DataNode; input is S3DataNode 'Target' and output is S3DataNode 'Other'.",
        )
    }


# --- references ---------------------------------------------------------------------


def test_references_must_resolve() -> None:
    document = on_demand()
    obj(document, "Backup")["onFail"] = {"ref": "Nobody"}
    assert errors_of(document) == {
        "Backup": (
            "INVALID_REFERENCE: 'onFail' refers to 'Nobody', which is not an object of the "
            "definition.",
        )
    }


def test_references_must_point_at_a_suitable_type() -> None:
    document = on_demand()
    obj(document, "Backup")["runsOn"] = {"ref": "Target"}
    obj(document, "Backup")["precondition"] = {"ref": "Source"}
    assert errors_of(document) == {
        "Backup": (
            "INVALID_REFERENCE: 'precondition' must refer to an object of type DynamoDBDataExists "
            "or DynamoDBTableExists or Exists or S3KeyExists or S3PrefixNotEmpty or "
            "ShellCommandPrecondition; 'Source' is of type DynamoDBDataNode.",
            "INVALID_REFERENCE: 'runsOn' must refer to an object of type EmrCluster; 'Target' "
            "is of type S3DataNode.",
        )
    }


def test_schedule_must_refer_to_a_schedule() -> None:
    document = scheduled()
    obj(document, "Default")["schedule"] = {"ref": "Source"}
    assert errors_of(document) == {
        "Default": (
            "INVALID_REFERENCE: 'schedule' must refer to an object of type Schedule; 'Source' "
            "is of type DynamoDBDataNode.",
        )
    }


def test_reference_fields_cannot_hold_strings() -> None:
    document = on_demand()
    obj(document, "Backup")["onFail"] = "Alarm"
    assert errors_of(document) == {
        "Backup": (
            "INVALID_FIELD_VALUE: 'onFail' value must be a reference to another object, not a "
            "string.",
        )
    }


def test_string_fields_cannot_hold_references() -> None:
    document = on_demand()
    obj(document, "Source")["tableName"] = {"ref": "Target"}
    assert errors_of(document) == {
        "Source": ("INVALID_FIELD_VALUE: 'tableName' value must be a string, not a reference.",)
    }


def test_parent_cycles() -> None:
    document = on_demand()
    document["objects"] += [
        {"id": "A", "type": "Property", "key": "k", "value": "v", "parent": {"ref": "B"}},
        {"id": "B", "type": "Property", "key": "k", "value": "v", "parent": {"ref": "A"}},
    ]
    assert errors_of(document) == {
        "A": ("INVALID_REFERENCE: 'parent' references form a cycle: A -> B -> A.",),
        "B": ("INVALID_REFERENCE: 'parent' references form a cycle: B -> A -> B.",),
    }


# --- field names and limits ---------------------------------------------------------


@pytest.mark.parametrize("key", ["customField", "mycustom", "My_field", "tablename"])
def test_other_fields_must_be_user_defined_my_fields(key: str) -> None:
    document = on_demand()
    obj(document, "Target")[key] = "x"
    assert errors_of(document) == {
        "Target": (
            f"INVALID_FIELD_NAME: '{key}' is not a field of S3DataNode objects; user-defined "
            "fields "
            "start with 'my' followed by an upper-case letter or '_'.",
        )
    }


def test_user_defined_fields_are_accepted() -> None:
    document = on_demand()
    obj(document, "Target").update(
        {"myCustomField": "x", "my_ref": {"ref": "Source"}, "*myPassword": "s"}
    )
    assert errors_of(document) == {}


def test_default_fields_are_checked_against_every_type() -> None:
    document = on_demand()
    obj(document, "Default").update({"keyPair": "k", "maximumRetries": "3", "bogus": "x"})
    assert errors_of(document) == {
        "Default": (
            "INVALID_FIELD_NAME: 'bogus' is not a field of any object type; user-defined fields "
            "start with 'my' followed by an upper-case letter or '_'.",
        )
    }


def test_runtime_fields_cannot_be_set() -> None:
    document = on_demand()
    obj(document, "Target")["@status"] = "FINISHED"
    assert errors_of(document) == {
        "Target": (
            "INVALID_FIELD_NAME: '@status' is a runtime field that the service sets; a "
            "definition cannot set it.",
        )
    }


def test_at_most_50_fields_per_object() -> None:
    document = on_demand()
    target = obj(document, "Target")
    target.update({f"myField{index}": "x" for index in range(48)})
    assert errors_of(document) == {}
    target["myField48"] = "x"
    assert errors_of(document) == {
        "Target": ("TOO_MANY_FIELDS: the object has 51 fields; at most 50 are allowed.",)
    }


def test_a_repeated_field_counts_once() -> None:
    document = on_demand()
    obj(document, "Backup")["step"] = [EXPORT_STEP] * 60
    assert errors_of(document) == {}


def test_field_names_and_ids_at_most_256_bytes() -> None:
    document = on_demand()
    key = "my" + "A" * 300
    obj(document, "Target")[key] = "x"
    long_id = "é" * 129
    document["objects"].append({"id": long_id, "type": "Terminate"})
    assert errors_of(document) == {
        "Target": (
            f"NAME_TOO_LONG: the field name '{key[:40]}…' is 302 bytes; at most 256 are allowed.",
        ),
        long_id: (
            f"NAME_TOO_LONG: the id '{long_id[:40]}…' is 258 bytes; at most 256 are allowed.",
            f"NAME_TOO_LONG: the name '{long_id[:40]}…' is 258 bytes; at most 256 are allowed.",
        ),
    }


def test_field_values_at_most_10240_bytes() -> None:
    document = on_demand()
    obj(document, "Target")["myNote"] = "x" * 10_240
    assert errors_of(document) == {}
    obj(document, "Target")["myNote"] = "x" * 10_241
    assert errors_of(document) == {
        "Target": ("FIELD_TOO_LONG: 'myNote' value is 10241 bytes; at most 10240 are allowed.",)
    }


def test_objects_at_most_15360_bytes_including_names() -> None:
    document = on_demand()
    obj(document, "Target").update({"myA": "a" * 8000, "myB": "b" * 8000})
    size = (
        sum(
            len(text.encode())
            for text in ("Target", "Target", "type", "S3DataNode", "directoryPath", TARGET_PATH)
        )
        + (3 + 8000) * 2
    )
    assert errors_of(document) == {
        "Target": (f"OBJECT_TOO_LARGE: the object is {size} bytes; at most 15360 are allowed.",)
    }


# --- common values ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["6", "-1", "two", "2.0"])
def test_maximum_retries_from_0_to_5(value: str) -> None:
    document = on_demand()
    obj(document, "Backup")["maximumRetries"] = value
    assert errors_of(document) == {
        "Backup": (
            f"INVALID_FIELD_VALUE: 'maximumRetries' value must be a whole number from 0 to 5, "
            f"not '{value}'.",
        )
    }
    obj(document, "Backup")["maximumRetries"] = "5"
    assert errors_of(document) == {}


def test_retry_delay_at_least_2_minutes() -> None:
    document = on_demand()
    obj(document, "Backup")["retryDelay"] = "1 minute"
    assert errors_of(document) == {
        "Backup": (
            "INVALID_FIELD_VALUE: 'retryDelay' value must be a period of at least 2 minutes, "
            "not '1 minute'.",
        )
    }
    obj(document, "Backup")["retryDelay"] = "2 minutes"
    assert errors_of(document) == {}


@pytest.mark.parametrize(
    ("object_id", "key"), [("Backup", "retryDelay"), ("Cluster", "terminateAfter")]
)
def test_period_fields_must_hold_periods(object_id: str, key: str) -> None:
    document = on_demand()
    obj(document, object_id)[key] = "soon"
    assert errors_of(document) == {
        object_id: (
            f"INVALID_FIELD_VALUE: '{key}' value must be a period such as '1 day' or '15 "
            "minutes', not 'soon'.",
        )
    }


@pytest.mark.parametrize(
    ("object_id", "key", "value", "text"),
    [
        (
            "Backup",
            "failureAndRerunMode",
            "sometimes",
            "must be one of none, cascade, not 'sometimes'.",
        ),
        (
            "Cluster",
            "actionOnTaskFailure",
            "explode",
            "must be one of continue, terminate, not 'explode'.",
        ),
        ("Backup", "resizeClusterBeforeRunning", "yes", "must be true or false, not 'yes'."),
        ("Cluster", "coreInstanceCount", "two", "must be a whole number of at least 0, not 'two'."),
    ],
)
def test_enumerations_booleans_and_counts(object_id: str, key: str, value: str, text: str) -> None:
    document = on_demand()
    obj(document, object_id)[key] = value
    assert errors_of(document) == {object_id: (f"INVALID_FIELD_VALUE: '{key}' value {text}",)}


def test_schedule_type_values() -> None:
    document = scheduled()
    obj(document, "Backup")["scheduleType"] = "weekly"
    assert errors_of(document) == {
        "Backup": (
            "INVALID_FIELD_VALUE: 'scheduleType' value must be one of cron, ondemand, "
            "timeseries, not 'weekly'.",
        )
    }


# --- expressions and parameters -----------------------------------------------------


def test_expression_syntax_errors_name_field_and_position() -> None:
    document = on_demand()
    path = "s3://bk/#{format(@scheduledStartTime, 'YYYY'}"
    obj(document, "Target")["directoryPath"] = path
    assert errors_of(document) == {
        "Target": (
            "INVALID_EXPRESSION: 'directoryPath' value: expected ',' or ')', found "
            "'}' at character 45.",
        )
    }


def test_expression_evaluation_errors_name_field_and_position() -> None:
    document = on_demand()
    step = EXPORT_STEP.replace("#{output.", "#{outptu.")
    obj(document, "Backup")["step"] = step
    position = step.index("outptu") + 1
    assert errors_of(document) == {
        "Backup": (
            f"INVALID_EXPRESSION: 'step' value: 'outptu' is not a field of object 'Backup' at "
            f"character {position}.",
        )
    }


def test_inherited_fields_are_rendered_where_used_and_reported_where_written() -> None:
    document = on_demand()
    obj(document, "Default")["pipelineLogUri"] = "s3://logs/#{format(@scheduledStartTime, 'q')}"
    assert errors_of(document) == {
        "Default": (
            "INVALID_EXPRESSION: 'pipelineLogUri' value: format(): Illegal pattern component: q "
            "at character 13.",
        )
    }


def test_an_undefined_variable_in_default_is_reported_once() -> None:
    document = on_demand()
    obj(document, "Default")["pipelineLogUri"] = "#{myLogs}"
    assert errors_of(document) == {
        "Default": (
            "MISSING_PARAMETER: 'pipelineLogUri' uses #{myLogs}, which has no parameter "
            "object, value or default.",
        )
    }


def test_every_my_variable_needs_a_parameter_value_or_default() -> None:
    document = on_demand()
    obj(document, "Target")["directoryPath"] = "#{myOut}/x"
    assert errors_of(document) == {
        "Target": (
            "MISSING_PARAMETER: 'directoryPath' uses #{myOut}, which has no parameter object, "
            "value or default.",
        )
    }
    document["values"] = {"myOut": "s3://bk"}
    assert errors_of(document) == {}
    del document["values"]
    document["parameters"] = [{"id": "myOut", "default": "s3://bk"}]
    assert errors_of(document) == {}


def test_a_my_field_of_the_object_is_not_a_parameter() -> None:
    document = on_demand()
    obj(document, "Target").update({"myRoot": "s3://bk", "directoryPath": "#{myRoot}/x"})
    assert errors_of(document) == {}


def test_parameter_value_is_required_unless_optional() -> None:
    document = on_demand()
    obj(document, "Target")["myComment"] = "#{myNote}"
    document["parameters"] = [{"id": "myNote", "description": "A note"}]
    assert errors_of(document) == {
        "myNote": ("MISSING_PARAMETER_VALUE: Value is missing for this parameter",)
    }
    document["parameters"][0]["optional"] = "true"
    assert errors_of(document) == {}


@pytest.mark.parametrize(
    ("parameter", "values", "text"),
    [
        (
            {"type": "Integer"},
            "4.5",
            "INVALID_PARAMETER_VALUE: value '4.5' is not a valid Integer.",
        ),
        ({"type": "Double"}, "abc", "INVALID_PARAMETER_VALUE: value 'abc' is not a valid Double."),
        (
            {"type": "AWS::S3::ObjectKey"},
            "http://x/y",
            "INVALID_PARAMETER_VALUE: value 'http://x/y' is not a valid AWS::S3::ObjectKey.",
        ),
        (
            {"type": "Double", "default": "high"},
            "0.5",
            "INVALID_PARAMETER_VALUE: default 'high' is not a valid Double.",
        ),
        (
            {"allowedValues": ["a", "b"]},
            "c",
            "INVALID_PARAMETER_VALUE: value 'c' is not one of the allowed values: a, b.",
        ),
        (
            {},
            ["a", "b"],
            "INVALID_PARAMETER_VALUE: the parameter is not an array (isArray) but has 2 values.",
        ),
        (
            {"type": "Float"},
            "1",
            "INVALID_PARAMETER_TYPE: 'Float' is not a parameter type; use String, Integer, "
            "Double or AWS::S3::ObjectKey.",
        ),
        (
            {"optional": "yes"},
            "1",
            "INVALID_PARAMETER_ATTRIBUTE: 'optional' must be true or false, not 'yes'.",
        ),
    ],
)
def test_parameter_values_must_fit_their_declaration(
    parameter: dict[str, Any], values: str | list[str], text: str
) -> None:
    document = on_demand()
    document["parameters"] = [{"id": "myP", **parameter}]
    document["values"] = {"myP": values}
    assert errors_of(document) == {"myP": (text,)}


def test_array_parameters_take_several_values() -> None:
    document = on_demand()
    document["parameters"] = [{"id": "myP", "isArray": "true", "type": "Integer"}]
    document["values"] = {"myP": ["1", "2"]}
    assert errors_of(document) == {}


def test_parameter_ids_start_with_my() -> None:
    document = on_demand()
    document["parameters"] = [
        {"id": "tableName", "default": "x"},
        {"id": "*myPassword", "default": "s"},
    ]
    assert errors_of(document) == {
        "tableName": (
            "INVALID_PARAMETER_ID: parameter ids must start with 'my' (or '*my' for a masked "
            "value).",
        )
    }


def test_duplicate_parameter_ids() -> None:
    document = on_demand()
    document["parameters"] = [{"id": "myA", "default": "1"}, {"id": "myA", "default": "2"}]
    assert errors_of(document) == {
        "myA": ("DUPLICATE_PARAMETER_ID: 2 parameter objects have the id 'myA'.",)
    }


def test_at_most_50_parameters() -> None:
    document = on_demand()
    document["parameters"] = [{"id": f"myP{index}", "default": "x"} for index in range(50)]
    assert errors_of(document) == {}
    document["parameters"].append({"id": "myP50", "default": "x"})
    assert errors_of(document) == {
        "myP50": ("TOO_MANY_PARAMETERS: the definition has 51 parameters; at most 50 are allowed.",)
    }


def test_unknown_parameter_attributes_are_warnings() -> None:
    document = on_demand()
    document["parameters"] = [{"id": "myA", "default": "1", "helpText": "Pick one"}]
    result = check(document)
    assert result.errors == {}
    assert result.warnings == {
        "myA": ("UNKNOWN_PARAMETER_ATTRIBUTE: 'helpText' is not a parameter attribute.",)
    }
    assert not result.errored


# --- warnings -----------------------------------------------------------------------


def test_cascade_backfill_warning() -> None:
    document = scheduled(period="1 day", startDateTime="2026-01-01T00:00:00")
    obj(document, "Default")["failureAndRerunMode"] = "CASCADE"
    result = check(document, now=datetime(2026, 2, 1, tzinfo=UTC))
    assert result.errors == {}
    assert result.warnings == {
        object_id: (
            f"CASCADE_BACKFILL: {object_id} has 'failureAndRerunMode' field set to 'cascade' "
            "and you "
            "are about to create a backfill with scheduleStartTime 2026-01-01T00:00:00. This can "
            "result in rapid creation of pipeline objects in case of failures.",
        )
        for object_id in RUNNABLE
    }
    assert not result.errored


def test_no_backfill_warning_for_future_starts_or_without_a_clock() -> None:
    document = scheduled(period="1 day", startDateTime="2026-01-01T00:00:00")
    obj(document, "Default")["failureAndRerunMode"] = "cascade"
    assert check(document, now=datetime(2025, 12, 31, tzinfo=UTC)).warnings == {}
    assert check(document).warnings == {}
    assert len(check(document, now=datetime(2026, 1, 2)).warnings) == len(RUNNABLE)


# --- the result ---------------------------------------------------------------------


def test_result_as_the_validate_response_and_as_text() -> None:
    document = on_demand()
    obj(document, "Backup")["workerGroup"] = ""
    obj(document, "Backup")["maximumRetries"] = "9"
    document["parameters"] = [{"id": "myA", "default": "1", "helpText": "h"}]
    result = check(document)
    assert result.to_api() == {
        "errored": True,
        "validationErrors": [
            {
                "id": "Backup",
                "errors": [
                    "EMPTY_FIELD_VALUE: 'workerGroup' value must not be empty.",
                    "INVALID_FIELD_VALUE: 'maximumRetries' value must be a whole number from 0 "
                    "to 5, not '9'.",
                ],
            }
        ],
        "validationWarnings": [
            {
                "id": "myA",
                "warnings": [
                    "UNKNOWN_PARAMETER_ATTRIBUTE: 'helpText' is not a parameter attribute."
                ],
            }
        ],
    }
    assert render_validation(result) == (
        "Refused, nothing saved:\n"
        "  Backup: EMPTY_FIELD_VALUE: 'workerGroup' value must not be empty.\n"
        "Errors:\n"
        "  Backup: INVALID_FIELD_VALUE: 'maximumRetries' value must be a whole number from 0 to "
        "5, not '9'.\n"
        "Warnings:\n"
        "  myA: UNKNOWN_PARAMETER_ATTRIBUTE: 'helpText' is not a parameter attribute."
    )


def test_a_valid_result_as_response_and_text() -> None:
    result = check(on_demand())
    assert result.to_api() == {"errored": False}
    assert render_validation(result) == "The definition is valid."


def test_an_on_demand_pipeline_runs_at_most_five_at_once() -> None:
    document = on_demand()
    obj(document, "Default")["maxActiveInstances"] = "5"
    assert errors_of(document) == {}
    obj(document, "Default")["maxActiveInstances"] = "6"
    assert errors_of(document) == {
        "Default": (
            "INVALID_FIELD_VALUE: 'maxActiveInstances' of an on-demand pipeline can be at "
            "most 5, not '6'.",
        )
    }
    scheduled_document = scheduled()
    obj(scheduled_document, "Default")["maxActiveInstances"] = "6"
    assert errors_of(scheduled_document) == {}


def test_hive_copy_needs_a_folder_and_a_table() -> None:
    document = on_demand()
    document["objects"][-1] = {
        "id": "Copy",
        "type": "HiveCopyActivity",
        "input": {"ref": "Source"},
        "output": {"ref": "Target"},
        "runsOn": {"ref": "Cluster"},
    }
    target = obj(document, "Target")
    target["filePath"] = target.pop("directoryPath") + "/one-file"
    assert errors_of(document) == {
        "Copy": (
            "UNSUPPORTED_ACTIVITY: HiveCopyActivity runs here as a whole-table export or "
            "import: S3DataNode 'Target' needs a 'directoryPath'.",
        )
    }
