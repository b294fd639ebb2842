"""The jobs ddbpipe can run for a pipeline's activities, read from their definitions.

An ``EmrActivity`` ``step`` is ``jar,class,arg1,arg2,…``; a comma inside an argument is
written ``\\,`` (two backslashes and a comma in the field's text, as the Developer Guide
shows in JSON) or ``\\`` and a comma, and stands for a plain comma. Two jobs are
recognised, from either generation of the DynamoDB templates, whatever the jar's
path (the jar is never fetched or run):

- ``org.apache.hadoop.dynamodb.tools.DynamoDbExport`` or ``…DynamoDBExport``:
  output path, table, optional read ratio, optional total segments;
- ``org.apache.hadoop.dynamodb.tools.DynamoDbImport`` or ``…DynamoDBImport``:
  input path, table, optional write ratio.

A ``HiveCopyActivity`` between a ``DynamoDBDataNode`` and an ``S3DataNode`` (either way)
maps to the same jobs from the data nodes' fields. Anything else raises ``StepError``.
``activity_jobs`` does it all for one run of an activity, rendering what it reads.
Ratios stay ``Decimal`` and paths and tables strings; nothing passes through float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.evaluation import FieldEvaluator, RuntimeFields
from ddbpipe.pipeline.objects import ResolvedObject

__all__ = [
    "EXPORT_CLASSES",
    "IMPORT_CLASSES",
    "DataNodeFields",
    "DynamoDBJob",
    "ExportStep",
    "ImportStep",
    "StepError",
    "activity_jobs",
    "hive_copy_job",
    "parse_step",
    "split_step",
]

_PACKAGE = "org.apache.hadoop.dynamodb.tools."
EXPORT_CLASSES = frozenset({_PACKAGE + "DynamoDbExport", _PACKAGE + "DynamoDBExport"})
IMPORT_CLASSES = frozenset({_PACKAGE + "DynamoDbImport", _PACKAGE + "DynamoDBImport"})
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")


class StepError(ConfigError):
    """An activity whose work ddbpipe cannot run; the message names the step or fields
    and ``reason`` says what is wrong without naming them."""

    def __init__(self, text: str, *, reason: str | None = None) -> None:
        self.reason = reason if reason is not None else text
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_step_error, (str(self), self.reason))


def _rebuild_step_error(text: str, reason: str) -> StepError:
    return StepError(text, reason=reason)


@dataclass(frozen=True)
class ExportStep:
    """Export ``table`` to the folder ``path`` with a share of read capacity."""

    path: str
    table: str
    read_ratio: Decimal | None = None
    segments: int | None = None


@dataclass(frozen=True)
class ImportStep:
    """Import the backup folder ``path`` into ``table`` with a share of write capacity."""

    path: str
    table: str
    write_ratio: Decimal | None = None


DynamoDBJob: TypeAlias = ExportStep | ImportStep


def split_step(step: str) -> tuple[str, ...]:
    """The parts of a step: jar, class, arguments; escaped commas become plain commas."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(step):
        char = step[index]
        if char == "\\":
            run = index
            while run < len(step) and step[run] == "\\":
                run += 1
            if run < len(step) and step[run] == ",":
                current.append(",")
                index = run + 1
                continue
            current.append(step[index:run])
            index = run
            continue
        if char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return tuple(parts)


def parse_step(step: str) -> DynamoDBJob:
    """The DynamoDB job that the (rendered) ``step`` runs; raises ``StepError`` naming
    the step when it is anything else."""
    parts = split_step(step)
    if len(parts) < 2:
        raise _step_error(step, "it has no main class after the jar")
    jar, main_class, args = parts[0], parts[1].strip(), [part.strip() for part in parts[2:]]
    if not jar.strip():
        raise _step_error(step, "the jar is empty")
    if main_class in EXPORT_CLASSES:
        _check_count(step, args, 2, 4, "output path, table, [read ratio], [segments]")
        return ExportStep(
            path=_required(step, args[0], "output path"),
            table=_required(step, args[1], "table"),
            read_ratio=_ratio(step, args, 2, "read ratio"),
            segments=_segments(step, args),
        )
    if main_class in IMPORT_CLASSES:
        _check_count(step, args, 2, 3, "input path, table, [write ratio]")
        return ImportStep(
            path=_required(step, args[0], "input path"),
            table=_required(step, args[1], "table"),
            write_ratio=_ratio(step, args, 2, "write ratio"),
        )
    raise _step_error(step, f"main class {main_class!r} is not DynamoDB export or import")


def _step_error(step: str, reason: str) -> StepError:
    return StepError(
        f"step {step!r} is not a DynamoDB export or import that ddbpipe can run: {reason}",
        reason=reason,
    )


def _check_count(step: str, args: Sequence[str], low: int, high: int, usage: str) -> None:
    if not low <= len(args) <= high:
        raise _step_error(step, f"it has {len(args)} arguments; expected {usage}")


def _required(step: str, value: str, what: str) -> str:
    if not value:
        raise _step_error(step, f"the {what} is empty")
    return value


def _ratio(step: str, args: Sequence[str], index: int, what: str) -> Decimal | None:
    if len(args) <= index or not args[index]:
        return None
    text = args[index]
    if not _DECIMAL.fullmatch(text):
        raise _step_error(step, f"the {what} {text!r} is not a number")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _step_error(step, f"the {what} {text!r} is not a number") from None
    if value <= 0:
        raise _step_error(step, f"the {what} {text!r} must be greater than 0")
    return value


def _segments(step: str, args: Sequence[str]) -> int | None:
    if len(args) < 4 or not args[3]:
        return None
    if not _WHOLE.fullmatch(args[3]) or int(args[3]) < 1:
        raise _step_error(step, f"the segment count {args[3]!r} is not a whole number >= 1")
    return int(args[3])


@dataclass(frozen=True)
class DataNodeFields:
    """A data node as a ``HiveCopyActivity`` sees it: its id, type and rendered fields."""

    id: str
    type: str | None
    fields: Mapping[str, str]


def hive_copy_job(
    activity_id: str,
    input_node: DataNodeFields,
    output_node: DataNodeFields,
    *,
    filter_sql: str | None = None,
) -> DynamoDBJob:
    """The job a ``HiveCopyActivity`` from ``input_node`` to ``output_node`` runs.

    DynamoDB to S3 is an export (read ratio from ``readThroughputPercent``), S3 to
    DynamoDB an import (write ratio from ``writeThroughputPercent``); the S3 side needs a
    ``directoryPath``. ``filterSql`` and other pairs of nodes raise ``StepError``.
    """
    if filter_sql:
        raise StepError(
            f"HiveCopyActivity {activity_id!r}: 'filterSql' is not supported; "
            "ddbpipe copies whole tables"
        )
    kinds = (input_node.type, output_node.type)
    if kinds == ("DynamoDBDataNode", "S3DataNode"):
        return ExportStep(
            path=_directory(activity_id, output_node),
            table=_table(activity_id, input_node),
            read_ratio=_node_ratio(activity_id, input_node, "readThroughputPercent"),
        )
    if kinds == ("S3DataNode", "DynamoDBDataNode"):
        return ImportStep(
            path=_directory(activity_id, input_node),
            table=_table(activity_id, output_node),
            write_ratio=_node_ratio(activity_id, output_node, "writeThroughputPercent"),
        )
    raise StepError(
        f"HiveCopyActivity {activity_id!r} copies from {input_node.type or 'an untyped object'} "
        f"{input_node.id!r} to {output_node.type or 'an untyped object'} {output_node.id!r}; "
        "ddbpipe runs copies between a DynamoDBDataNode and an S3DataNode"
    )


def _directory(activity_id: str, node: DataNodeFields) -> str:
    path = node.fields.get("directoryPath")
    if not path:
        raise StepError(
            f"HiveCopyActivity {activity_id!r}: S3DataNode {node.id!r} needs a directoryPath"
        )
    return path


def _table(activity_id: str, node: DataNodeFields) -> str:
    table = node.fields.get("tableName")
    if not table:
        raise StepError(
            f"HiveCopyActivity {activity_id!r}: DynamoDBDataNode {node.id!r} needs a tableName"
        )
    return table


def _node_ratio(activity_id: str, node: DataNodeFields, key: str) -> Decimal | None:
    text = node.fields.get(key)
    if not text:
        return None
    if not _DECIMAL.fullmatch(text.strip()):
        raise StepError(
            f"HiveCopyActivity {activity_id!r}: {key} {text!r} of {node.id!r} is not a number"
        )
    return Decimal(text.strip())


_NODE_FIELDS = ("directoryPath", "tableName", "readThroughputPercent", "writeThroughputPercent")


def activity_jobs(
    evaluator: FieldEvaluator, activity_id: str, runtime: RuntimeFields
) -> tuple[DynamoDBJob, ...]:
    """The jobs one run of ``activity_id`` stands for, its fields rendered with
    ``runtime``: one per ``step`` of an EmrActivity, or the copy of a HiveCopyActivity.

    Raises ``StepError`` for anything ddbpipe cannot run, and ``ExpressionError`` when
    a field it reads cannot be rendered.
    """
    activity = evaluator.graph[activity_id]
    if activity.type == "EmrActivity":
        steps = evaluator.field(activity_id, "step", runtime)
        if not steps:
            raise StepError(f"EmrActivity {activity_id!r} has no step to run")
        return tuple(parse_step(step) for step in steps)
    if activity.type == "HiveCopyActivity":
        inputs = evaluator.graph.follow(activity, "input")
        outputs = evaluator.graph.follow(activity, "output")
        if not inputs or not outputs:
            raise StepError(f"HiveCopyActivity {activity_id!r} needs an input and an output")
        filter_sql = evaluator.field(activity_id, "filterSql", runtime)
        return (
            hive_copy_job(
                activity_id,
                _node_fields(evaluator, inputs[0], runtime),
                _node_fields(evaluator, outputs[0], runtime),
                filter_sql=filter_sql[0] if filter_sql else None,
            ),
        )
    raise StepError(
        f"{activity.type or 'an object without a type'} {activity_id!r} is not an activity "
        "ddbpipe can run"
    )


def _node_fields(
    evaluator: FieldEvaluator, node: ResolvedObject, runtime: RuntimeFields
) -> DataNodeFields:
    node_runtime = {key: value for key, value in runtime.items() if key != "@id"}
    fields = {
        key: evaluator.field(node.id, key, node_runtime)[0]
        for key in _NODE_FIELDS
        if node.strings(key)
    }
    return DataNodeFields(node.id, node.type, fields)
