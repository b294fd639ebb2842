"""Objects with inherited fields, and field values rendered for one run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ddbpipe.pipeline.definition import definition_from_file
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.expressions import ExpressionError
from ddbpipe.pipeline.objects import ObjectGraph

START = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
RUNTIME = {"@scheduledStartTime": START, "@pipelineId": "df-0123456789ABCDEFGHIJ"}


def graph_of(*objects: dict[str, Any]) -> ObjectGraph:
    return ObjectGraph(definition_from_file({"objects": list(objects)}))


def evaluator_of(*objects: dict[str, Any], **parameters: str | tuple[str, ...]) -> FieldEvaluator:
    return FieldEvaluator(graph_of(*objects), parameters)


def test_default_fields_apply_to_objects_without_a_parent() -> None:
    graph = graph_of(
        {"id": "Default", "role": "R", "maximumRetries": "3"},
        {"id": "A", "type": "S3DataNode", "maximumRetries": "1"},
    )
    assert graph["A"].string("role") == "R"
    assert graph["A"].string("maximumRetries") == "1"
    assert graph["Default"].string("role") == "R"


def test_parent_chains_inherit_nearest_first_and_end_at_default() -> None:
    graph = graph_of(
        {"id": "Default", "role": "R", "region": "us-east-1"},
        {"id": "Base", "region": "eu-west-1", "precondition": [{"ref": "P1"}, {"ref": "P2"}]},
        {"id": "Middle", "parent": {"ref": "Base"}, "maximumRetries": "2"},
        {"id": "Leaf", "parent": {"ref": "Middle"}, "type": "S3DataNode"},
    )
    leaf = graph["Leaf"]
    assert leaf.string("maximumRetries") == "2"
    assert leaf.string("region") == "eu-west-1"
    assert leaf.string("role") == "R"
    assert leaf.refs("precondition") == ("P1", "P2")
    assert leaf.refs("parent") == ("Middle",)
    assert graph.parent_ids() == {"Base", "Middle"}


def test_an_own_repeated_field_replaces_all_inherited_values() -> None:
    graph = graph_of(
        {"id": "Default", "onFail": [{"ref": "A1"}, {"ref": "A2"}]},
        {"id": "X", "onFail": {"ref": "A3"}},
    )
    assert graph["X"].refs("onFail") == ("A3",)


def test_parent_cycles_stop_and_are_recorded() -> None:
    graph = graph_of(
        {"id": "A", "parent": {"ref": "B"}, "a": "1"},
        {"id": "B", "parent": {"ref": "A"}, "b": "2"},
    )
    assert graph["A"].string("b") == "2"
    assert graph.parent_cycles == {"A": ("A", "B", "A"), "B": ("B", "A", "B")}


def test_duplicate_ids_keep_the_first_object() -> None:
    graph = graph_of({"id": "A", "x": "1"}, {"id": "A", "x": "2"}, {"id": "A", "x": "3"})
    assert graph["A"].string("x") == "1"
    assert graph.duplicates == {"A": 3}
    assert len(graph) == 1


def test_follow_skips_references_that_do_not_resolve() -> None:
    graph = graph_of({"id": "A", "input": [{"ref": "B"}, {"ref": "Missing"}]}, {"id": "B"})
    assert [item.id for item in graph.follow(graph["A"], "input")] == ["B"]
    assert "Missing" not in graph
    assert graph.get("Missing") is None


EXPORT = (
    {"id": "Default", "scheduleType": "ondemand", "pipelineLogUri": "#{myLogs}/#{@pipelineId}"},
    {
        "id": "Source",
        "type": "DynamoDBDataNode",
        "tableName": "#{myTable}",
        "readThroughputPercent": "0.5",
    },
    {
        "id": "Target",
        "type": "S3DataNode",
        "directoryPath": "#{myOut}/#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}",
    },
    {
        "id": "Backup",
        "type": "EmrActivity",
        "input": {"ref": "Source"},
        "output": {"ref": "Target"},
        "step": "tools.jar,X,#{output.directoryPath},#{input.tableName},"
        "#{input.readThroughputPercent}",
        "myNote": "#{@id} of #{name} is #{type}",
    },
    {
        "id": "Alarm",
        "type": "SnsAlarm",
        "message": "Failed #{node.@scheduledStartTime} writing #{node.output.directoryPath}",
    },
)


def test_references_are_followed_with_the_same_runtime_fields() -> None:
    evaluator = evaluator_of(*EXPORT, myTable="Orders", myOut="s3://bk/out", myLogs="s3://bk/logs")
    assert evaluator.field("Backup", "step", RUNTIME) == (
        "tools.jar,X,s3://bk/out/2026-11-30-14-05-00,Orders,0.5",
    )
    assert evaluator.field("Backup", "pipelineLogUri", RUNTIME) == (
        "s3://bk/logs/df-0123456789ABCDEFGHIJ",
    )


def test_id_name_type_and_references_are_not_evaluated() -> None:
    evaluator = evaluator_of(
        {"id": "#{x}", "name": "#{y}", "type": "#{z}", "input": {"ref": "#{x}"}, "myA": "#{type}"}
    )
    assert evaluator.field("#{x}", "type", {}) == ("#{z}",)
    assert evaluator.field("#{x}", "input", {}) == ("#{x}",)
    assert evaluator.field("#{x}", "myA", {}) == ("#{z}",)


def test_runtime_id_defaults_to_the_object_id_and_can_be_given() -> None:
    evaluator = evaluator_of(*EXPORT, myTable="T", myOut="o", myLogs="l")
    assert evaluator.field("Backup", "myNote", RUNTIME) == ("Backup of Backup is EmrActivity",)
    instance = {**RUNTIME, "@id": "@Backup_2026-11-30T14:05:00"}
    assert evaluator.field("Backup", "myNote", instance) == (
        "@Backup_2026-11-30T14:05:00 of Backup is EmrActivity",
    )


def test_node_is_the_referring_object() -> None:
    evaluator = evaluator_of(*EXPORT, myTable="T", myOut="s3://o", myLogs="l")
    assert evaluator.field("Alarm", "message", RUNTIME, node_id="Backup") == (
        "Failed 2026-11-30T14:05:00 writing s3://o/2026-11-30-14-05-00",
    )
    with pytest.raises(ExpressionError, match="'node' is only available in alarms"):
        evaluator.field("Alarm", "message", RUNTIME)


def test_parent_id_reads_the_parent_object_id() -> None:
    evaluator = evaluator_of(
        {"id": "Base"},
        {"id": "Node", "parent": {"ref": "Base"}, "filePath": "s3://b/#{parent.@id}.csv"},
    )
    assert evaluator.field("Node", "filePath", {"@id": "@Node_1"}) == ("s3://b/Base.csv",)


def test_user_defined_fields_follow_transitively() -> None:
    evaluator = evaluator_of(
        {"id": "A", "my_ref": {"ref": "B"}, "myPath": "#{my_ref.myCustomField}/x"},
        {"id": "B", "myCustomField": "#{myRoot}/b"},
        myRoot="s3://root",
    )
    assert evaluator.field("A", "myPath", {}) == ("s3://root/b/x",)


def test_runtime_fields_do_not_follow_references() -> None:
    evaluator = evaluator_of(
        {"id": "A", "input": {"ref": "B"}, "myX": "#{input.@scheduledStartTime}"}, {"id": "B"}
    )
    with pytest.raises(ExpressionError) as caught:
        evaluator.field("A", "myX", RUNTIME)
    assert (
        caught.value.reason
        == "runtime field '@scheduledStartTime' cannot be followed through 'input'"
    )
    assert caught.value.position == 3


def test_a_missing_runtime_field_is_an_error() -> None:
    evaluator = evaluator_of({"id": "A", "myX": "#{@scheduledEndTime}"})
    with pytest.raises(
        ExpressionError, match="runtime field '@scheduledEndTime' has no value here"
    ):
        evaluator.field("A", "myX", RUNTIME)


def test_a_field_that_refers_to_itself_is_an_error() -> None:
    evaluator = evaluator_of({"id": "A", "myX": "#{myY}", "myY": "#{myX}"})
    with pytest.raises(ExpressionError, match="'myX' of object 'A' refers to itself"):
        evaluator.field("A", "myX", {})


def test_a_name_that_is_neither_field_nor_parameter_is_an_error() -> None:
    evaluator = evaluator_of({"id": "A", "myX": "x#{myMissing}"})
    with pytest.raises(ExpressionError) as caught:
        evaluator.field("A", "myX", {})
    assert str(caught.value) == (
        "object 'A', field 'myX': 'myMissing' is not a field of object 'A' nor a parameter "
        "at character 4"
    )


def test_following_a_string_field_is_an_error() -> None:
    evaluator = evaluator_of({"id": "A", "input": "B", "myX": "#{input.tableName}"})
    with pytest.raises(ExpressionError, match="'input' of object 'A' is not a reference"):
        evaluator.field("A", "myX", {})


def test_lists_in_repeated_fields_flatten() -> None:
    evaluator = evaluator_of(
        {"id": "A", "myField": ["#{myList1}", "#{myList2}"]}, myList1=("1", "2"), myList2=("3", "4")
    )
    assert evaluator.field("A", "myField", {}) == ("1", "2", "3", "4")


def test_fields_renders_every_field() -> None:
    evaluator = evaluator_of(*EXPORT, myTable="Orders", myOut="s3://o", myLogs="s3://l")
    fields = evaluator.fields("Source", RUNTIME)
    assert fields == {
        "readThroughputPercent": ("0.5",),
        "tableName": ("Orders",),
        "type": ("DynamoDBDataNode",),
        "pipelineLogUri": ("s3://l/df-0123456789ABCDEFGHIJ",),
        "scheduleType": ("ondemand",),
    }


def test_templates_are_parsed_once() -> None:
    evaluator = evaluator_of(*EXPORT, myTable="T", myOut="o", myLogs="l")
    first = evaluator.template("Target", "directoryPath", "#{myOut}")
    assert evaluator.template("Target", "directoryPath", "#{myOut}") is first


def test_errors_in_inherited_fields_name_the_object_that_writes_them() -> None:
    evaluator = evaluator_of(
        {"id": "Default", "pipelineLogUri": "s3://logs/#{myMissing}"},
        {"id": "A", "type": "S3DataNode"},
    )
    assert evaluator.graph["A"].origin("pipelineLogUri") == "Default"
    assert evaluator.graph["A"].origin("type") == "A"
    with pytest.raises(ExpressionError) as caught:
        evaluator.field("A", "pipelineLogUri", {})
    assert (caught.value.object_id, caught.value.field) == ("Default", "pipelineLogUri")
