"""The rules that validation applies to a definition, except the fatal ones.

``check_rules`` runs them all and returns errors and warnings by object or parameter
id, as ``CODE: text`` messages from ``ddbpipe.pipeline.messages``. It works in two
passes: structure (sizes, types, field names, references, expression syntax, names
without a parameter) over every object first, then values, so a field that cannot be
parsed is known before another field follows a reference to it, and each failing
expression is reported once, on the field where it is written.

Values are checked after their expressions are rendered with the parameter values.
Runtime fields stand in as placeholders (a fixed time for ``@…Time``), and a check that
would depend on a parameter without a value is skipped; the missing value is reported
on the parameter instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ddbpipe.pipeline.definition import Field, PipelineDefinition
from ddbpipe.pipeline.evaluation import NEVER_EVALUATED, FieldEvaluator
from ddbpipe.pipeline.expressions import ExpressionError, Value
from ddbpipe.pipeline.messages import message
from ddbpipe.pipeline.objects import DEFAULT_OBJECT_ID, ObjectGraph, ResolvedObject
from ddbpipe.pipeline.parameters import ParameterResolution, resolve_parameters
from ddbpipe.pipeline.schema import (
    ACTION_TYPES,
    ANY_FIELD,
    DATA_PIPELINE_TYPES,
    FIELDS,
    MAX_FIELD_BYTES,
    MAX_FIELDS_PER_OBJECT,
    MAX_NAME_BYTES,
    MAX_OBJECT_BYTES,
    PERIOD_FIELDS,
    PRECONDITION_TYPES,
    REQUIRED,
    SCHEDULED_TYPES,
    SUPPORTED_TYPES,
    reference_targets,
)
from ddbpipe.pipeline.steps import StepError, parse_step
from ddbpipe.pipeline.timefmt import Period, TimeValueError, format_datetime, parse_datetime

__all__ = ["Findings", "check_rules"]

Findings = dict[str, list[str]]

_USER_FIELD = re.compile(r"my[A-Z_].*", re.DOTALL)
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_FIRST_ACTIVATION = "FIRST_ACTIVATION_DATE_TIME"
_ONDEMAND_PERIOD, _ONDEMAND_START = "ONDEMAND_PERIOD", "ONDEMAND_ACTIVATION_TIME"
_ENUMS: dict[str, tuple[str, ...]] = {
    "scheduleType": ("cron", "ondemand", "timeseries"),
    "failureAndRerunMode": ("none", "cascade"),
    "actionOnResourceFailure": ("retryall", "retrynone"),
    "actionOnTaskFailure": ("continue", "terminate"),
}
_BOOLEANS = frozenset({"resizeClusterBeforeRunning", "useOnDemandOnLastAttempt"})
_WHOLE_NUMBERS = {
    "occurrences": 1,
    "maxActiveInstances": 1,
    "coreInstanceCount": 0,
    "taskInstanceCount": 0,
    "resizeClusterMaxInstances": 1,
}
_THROUGHPUT_FIELDS = ("readThroughputPercent", "writeThroughputPercent")
_ONDEMAND_MOST_ACTIVE = 5  # runs of an on-demand pipeline at once, at most


def check_rules(definition: PipelineDefinition, now: datetime | None) -> tuple[Findings, Findings]:
    """Errors and warnings of ``definition`` by id; ``now`` (UTC) enables the
    cascade-backfill warning for schedules that start before it."""
    checker = _Checker(definition, now)
    checker.run()
    return checker.errors, checker.warnings


class _Parameters(Mapping[str, str | tuple[str, ...]]):
    """Parameter values for validation: a declared parameter without a value reads as a
    placeholder, and ``used`` records that a rendered value rests on one."""

    def __init__(self, resolution: ParameterResolution) -> None:
        self.given = resolution.scope_values()
        self.declared = frozenset(resolution.specs)
        self.used = False

    def __getitem__(self, key: str) -> str | tuple[str, ...]:
        if key in self.given:
            return self.given[key]
        if key in self.declared:
            self.used = True
            return f"<{key}>"
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.declared | set(self.given))

    def __len__(self) -> int:
        return len(self.declared | set(self.given))


class _Runtime(Mapping[str, Value]):
    """Placeholder runtime fields: a fixed time for ``@…Time``, a marker otherwise."""

    def __getitem__(self, key: str) -> Value:
        if not key.startswith("@") or key == "@id":
            raise KeyError(key)
        return _PLACEHOLDER_TIME if key.endswith("Time") else f"<{key}>"

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.startswith("@") and key != "@id"

    def __iter__(self) -> Iterator[str]:
        return iter(("@scheduledStartTime", "@scheduledEndTime", "@actualStartTime"))

    def __len__(self) -> int:
        return 3


class _Checker:
    """Runs every non-fatal rule over one definition, collecting messages by id."""

    def __init__(self, definition: PipelineDefinition, now: datetime | None) -> None:
        self.definition = definition
        # A naive clock reading is taken as UTC, the only zone of pipeline times.
        self.now = now.replace(tzinfo=UTC) if now is not None and now.tzinfo is None else now
        self.graph = ObjectGraph(definition)
        self.resolution = resolve_parameters(definition)
        self.parameters = _Parameters(self.resolution)
        self.evaluator = FieldEvaluator(self.graph, self.parameters)
        self.runtime = _Runtime()
        self.errors: dict[str, list[str]] = {
            key: list(items) for key, items in self.resolution.errors.items()
        }
        self.warnings: dict[str, list[str]] = {
            key: list(items) for key, items in self.resolution.warnings.items()
        }
        default = self.graph.get(DEFAULT_OBJECT_ID)
        mode = default.string("scheduleType") if default is not None else None
        self.ondemand = (mode or "").lower() == "ondemand"
        self.abstract = self.graph.parent_ids() | {DEFAULT_OBJECT_ID}
        self.failed_fields: set[tuple[str, str]] = set()
        self.to_render: list[tuple[ResolvedObject, str]] = []

    def error(self, object_id: str, text: str) -> None:
        self.errors.setdefault(object_id, []).append(text)

    def run(self) -> None:
        for object_id, count in self.graph.duplicates.items():
            self.error(object_id, message("duplicate_id", count=count, id=object_id))
        # Structure first, so that a field that cannot be parsed is known before any
        # other field follows a reference to it; then the values.
        known = {item.id: self.check_structure(item) for item in self.graph}
        for item, key in self.to_render:
            self.rendered(item, key)
        for item in self.graph:
            self.check_values(item, known[item.id])
        self.check_cascade_backfill()

    def check_structure(self, item: ResolvedObject) -> bool:
        """Sizes, type, field names, references and expression syntax; True when the
        object's type is one ddbpipe checks further."""
        self.check_sizes(item)
        cycle = self.graph.parent_cycles.get(item.id)
        if cycle:
            self.error(item.id, message("parent_cycle", path=" -> ".join(cycle)))
        kind = item.type
        known = self.check_type(item, kind)
        if known or (kind is None and item.id in self.abstract):
            self.check_field_names(item, kind)
        self.check_references(item, kind)
        self.check_expressions(item, kind)
        return known

    def check_values(self, item: ResolvedObject, known: bool) -> None:
        kind = item.type
        self.check_common_values(item)
        self.check_schedule_type(item)
        if not known or kind is None:
            return
        for rule in REQUIRED.get(kind, ()):
            self.check_required(item, rule)
        if kind in SCHEDULED_TYPES and not self.ondemand and not item.has("schedule"):
            self.error(item.id, message("schedule_required"))
        specific = _TYPE_RULES.get(kind)
        if specific is not None:
            specific(self, item)

    # --- structure ------------------------------------------------------------------

    def check_sizes(self, item: ResolvedObject) -> None:
        own = item.own
        keys = len({entry.key for entry in own.fields})
        if keys > MAX_FIELDS_PER_OBJECT:
            self.error(item.id, message("too_many_fields", count=keys, limit=MAX_FIELDS_PER_OBJECT))
        total = _size(own.id) + _size(own.name)
        for what, text in (("id", own.id), ("name", own.name)):
            if _size(text) > MAX_NAME_BYTES:
                self.error(item.id, _name_too_long(what, text))
        for entry in own.fields:
            total += _size(entry.key) + _size(entry.value)
            if _size(entry.key) > MAX_NAME_BYTES:
                self.error(item.id, _name_too_long("field name", entry.key))
            if _size(entry.value) > MAX_FIELD_BYTES:
                self.error(
                    item.id,
                    message(
                        "field_too_long",
                        key=entry.key,
                        size=_size(entry.value),
                        limit=MAX_FIELD_BYTES,
                    ),
                )
        if total > MAX_OBJECT_BYTES:
            self.error(item.id, message("object_too_large", size=total, limit=MAX_OBJECT_BYTES))

    def check_type(self, item: ResolvedObject, kind: str | None) -> bool:
        """Report a missing, unknown or unsupported type; True when rules apply to it."""
        if kind is None:
            if item.id not in self.abstract:
                self.error(item.id, message("missing_type"))
            return False
        if kind not in DATA_PIPELINE_TYPES:
            self.error(item.id, message("unknown_type", type=kind))
            return False
        if kind not in SUPPORTED_TYPES:
            self.error(item.id, message("unsupported_type", type=kind))
            return False
        return True

    def check_field_names(self, item: ResolvedObject, kind: str | None) -> None:
        allowed = FIELDS[kind] if kind is not None else ANY_FIELD
        for key in dict.fromkeys(entry.key for entry in item.own.fields):
            if key.startswith("@"):
                self.error(item.id, message("runtime_field", key=key))
                continue
            bare = key.removeprefix("*")
            if kind == "EmrCluster" and bare in ("runsOn", "workerGroup"):
                self.error(item.id, message("field_not_allowed", key=bare, type=kind))
            elif bare not in allowed and not _USER_FIELD.fullmatch(bare):
                what = f"{kind} objects" if kind is not None else "any object type"
                self.error(item.id, message("unknown_field", key=key, what=what))

    def check_references(self, item: ResolvedObject, kind: str | None) -> None:
        for entry in item.own.fields:
            bare = entry.key.removeprefix("*")
            must_refer = bare in ("parent", "schedule") or reference_targets(kind, bare)
            if not entry.is_ref:
                if must_refer and entry.value:
                    self.error(item.id, message("ref_expected", key=entry.key))
                continue
            if not entry.value:
                continue  # fatal already
            if not must_refer and not _USER_FIELD.fullmatch(bare) and bare in ANY_FIELD:
                self.error(item.id, message("string_expected", key=entry.key))
                continue
            target = self.graph.get(entry.value)
            if target is None:
                self.error(item.id, message("ref_not_found", key=entry.key, target=entry.value))
                continue
            allowed = reference_targets(kind, bare)
            if allowed is not None and target.type is not None and target.type not in allowed:
                expected = " or ".join(sorted(allowed))
                self.error(
                    item.id,
                    message(
                        "ref_wrong_type",
                        key=entry.key,
                        expected=expected,
                        target=entry.value,
                        actual=target.type,
                    ),
                )

    def check_required(self, item: ResolvedObject, rule: str | tuple[str, str]) -> None:
        if isinstance(rule, tuple):
            if not (item.has(rule[0]) or item.has(rule[1])):
                self.error(item.id, message("one_of_required", first=rule[0], second=rule[1]))
        elif not item.has(rule):
            self.error(item.id, message("required", key=rule))

    # --- expressions ----------------------------------------------------------------

    def check_expressions(self, item: ResolvedObject, kind: str | None) -> None:
        renderable = (
            kind in SUPPORTED_TYPES
            and item.id not in self.abstract
            and kind not in PRECONDITION_TYPES | ACTION_TYPES
        )
        for entry in item.own.fields:
            if entry.is_ref or entry.key in NEVER_EVALUATED or entry.key.startswith("@"):
                continue
            try:
                template = self.evaluator.template(item.id, entry.key, entry.value)
            except ExpressionError as exc:
                self.fail_field(item, entry.key, exc)
                continue
            undefined = [
                name
                for name in sorted(template.references())
                if "." not in name
                and _USER_FIELD.fullmatch(name.removeprefix("*"))
                and name not in self.parameters
                and not item.has(name)
            ]
            for name in undefined:
                self.error(item.id, message("undefined_parameter", key=entry.key, name=name))
            if undefined:
                self.failed_fields.add((item.id, entry.key))
            elif renderable and not template.is_literal:
                self.to_render.append((item, entry.key))
        if renderable:
            # Inherited fields are rendered here too, in the object that uses them;
            # their syntax is checked on the object that writes them.
            for key, entries in item.fields.items():
                if item.origin(key) != item.id and _has_expression(key, entries):
                    self.to_render.append((item, key))

    def fail_field(self, item: ResolvedObject, key: str, exc: ExpressionError) -> None:
        """Report a field whose expression fails, once, on the field where the failing
        expression is written (which may be a field that ``key`` follows)."""
        self.failed_fields.add((item.id, key))
        origin = (exc.object_id or item.id, exc.field or key)
        if origin != (item.id, key):
            if origin in self.failed_fields:
                return
            self.failed_fields.add(origin)
        text = message("bad_expression", key=origin[1], reason=exc.reason, position=exc.position)
        self.error(origin[0], text)

    def rendered(self, item: ResolvedObject, key: str) -> tuple[tuple[str, ...], bool] | None:
        """Every rendered value of ``key`` and whether they rest only on given values;
        None when an expression fails (reported once per field)."""
        if {(item.id, key), (item.origin(key), key)} & self.failed_fields:
            return None
        self.parameters.used = False
        try:
            values = self.evaluator.field(item.id, key, self.runtime)
        except ExpressionError as exc:
            self.fail_field(item, key, exc)
            return None
        return values, not self.parameters.used

    def literal_value(self, item: ResolvedObject, key: str) -> str | None:
        """The first rendered value of ``key`` when it rests only on given values."""
        if not item.has(key) or not item.strings(key):
            return None
        outcome = self.rendered(item, key)
        if outcome is None or not outcome[1] or not outcome[0]:
            return None
        return outcome[0][0]

    # --- values ---------------------------------------------------------------------

    def check_common_values(self, item: ResolvedObject) -> None:
        """Checks on the object's own fields, whatever its type (Default included)."""
        own_keys = {entry.key for entry in item.own.fields if not entry.is_ref}
        for key in own_keys & _ENUMS.keys():
            value = self.literal_value(item, key)
            if value is not None and value.lower() not in _ENUMS[key]:
                choices = ", ".join(_ENUMS[key])
                self.error(item.id, message("bad_enum", key=key, choices=choices, value=value))
        for key in own_keys & _BOOLEANS:
            value = self.literal_value(item, key)
            if value is not None and value.lower() not in ("true", "false"):
                self.error(item.id, message("bad_boolean", key=key, value=value))
        for key in own_keys & _WHOLE_NUMBERS.keys():
            value = self.literal_value(item, key)
            minimum = _WHOLE_NUMBERS[key]
            if value is not None and not (_WHOLE.fullmatch(value) and int(value) >= minimum):
                self.error(item.id, message("bad_integer", key=key, minimum=minimum, value=value))
        for key in own_keys & PERIOD_FIELDS:
            self.check_period_field(item, key)
        if self.ondemand and item.id == "Default" and "maxActiveInstances" in own_keys:
            value = self.literal_value(item, "maxActiveInstances")
            if value is not None and _WHOLE.fullmatch(value) and int(value) > _ONDEMAND_MOST_ACTIVE:
                self.error(item.id, message("ondemand_max_active", value=value))
        if "maximumRetries" in own_keys:
            value = self.literal_value(item, "maximumRetries")
            if value is not None and not (_WHOLE.fullmatch(value) and 0 <= int(value) <= 5):
                self.error(item.id, message("retries_range", value=value))
        for key in own_keys & set(_THROUGHPUT_FIELDS):
            value = self.literal_value(item, key)
            if value is not None and not _is_ratio(value):
                self.error(item.id, message("throughput_range", key=key, value=value))

    def check_period_field(self, item: ResolvedObject, key: str) -> None:
        value = self.literal_value(item, key)
        if value is None:
            return
        try:
            period = Period.parse(value)
        except TimeValueError:
            self.error(item.id, message("bad_period", key=key, value=value))
            return
        if key == "retryDelay" and not period.is_at_least_minutes(2):
            self.error(item.id, message("retry_delay", value=value))

    def check_schedule_type(self, item: ResolvedObject) -> None:
        own = item.own.string("scheduleType")
        if own is None or item.id == DEFAULT_OBJECT_ID:
            return
        if self.ondemand and own.lower() != "ondemand":
            self.error(item.id, message("ondemand_not_only", value=own))
        elif not self.ondemand and own.lower() == "ondemand":
            self.error(item.id, message("ondemand_not_default"))

    def check_cascade_backfill(self) -> None:
        if self.now is None or self.ondemand:
            return
        for item in self.graph:
            mode = (item.string("failureAndRerunMode") or "").lower()
            if mode != "cascade" or item.type not in SCHEDULED_TYPES:
                continue
            for schedule in self.graph.follow(item, "schedule"):
                start = _literal_datetime(schedule.string("startDateTime"))
                if start is not None and start < self.now:
                    self.warnings.setdefault(item.id, []).append(
                        message("cascade_backfill", name=item.name, start=format_datetime(start))
                    )


# --- rules of one type --------------------------------------------------------------


def _check_schedule(checker: _Checker, item: ResolvedObject) -> None:
    period_text = checker.literal_value(item, "period")
    start_at = item.string("startAt")
    if period_text == _ONDEMAND_PERIOD:  # the explicit on-demand schedule
        if start_at != _ONDEMAND_START:
            checker.error(
                item.id,
                message("bad_enum", key="startAt", choices=_ONDEMAND_START, value=start_at),
            )
        return
    if not item.has("period"):
        checker.error(item.id, message("required", key="period"))
    elif period_text is not None:
        _check_schedule_period(checker, item, period_text)
    if checker.ondemand:
        checker.error(item.id, message("ondemand_schedule"))
    if item.has("startAt") == item.has("startDateTime"):
        rule = "only_one_of" if item.has("startAt") else "one_of_required"
        checker.error(item.id, message(rule, first="startAt", second="startDateTime"))
    if start_at is not None and start_at != _FIRST_ACTIVATION:
        checker.error(
            item.id, message("bad_enum", key="startAt", choices=_FIRST_ACTIVATION, value=start_at)
        )
    start = _check_literal_datetime(checker, item, "startDateTime")
    end = _check_literal_datetime(checker, item, "endDateTime")
    if item.has("occurrences") and item.has("endDateTime"):
        checker.error(item.id, message("not_with", first="occurrences", second="endDateTime"))
    if start is not None and end is not None and end <= start:
        checker.error(item.id, message("end_before_start"))


def _check_schedule_period(checker: _Checker, item: ResolvedObject, text: str) -> None:
    try:
        period = Period.parse(text)
    except TimeValueError:
        checker.error(item.id, message("bad_period", key="period", value=text))
        return
    if not period.fits_schedule():
        checker.error(item.id, message("period_range", value=text))


def _check_literal_datetime(checker: _Checker, item: ResolvedObject, key: str) -> datetime | None:
    text = item.string(key)
    if text is None:
        return None
    value = _literal_datetime(text)
    if value is None:
        checker.error(item.id, message("literal_datetime", key=key))
    return value


def _literal_datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except TimeValueError:
        return None


def _check_emr_activity(checker: _Checker, item: ResolvedObject) -> None:
    outcome = checker.rendered(item, "step") if item.has("step") else None
    if outcome is None:
        return
    written = item.strings("step")
    for index, step in enumerate(outcome[0]):
        try:
            parse_step(step)
        except StepError as exc:
            shown = written[index] if len(written) == len(outcome[0]) else step
            checker.error(item.id, message("unsupported_step", step=shown, reason=exc.reason))


def _check_hive_copy(checker: _Checker, item: ResolvedObject) -> None:
    if item.has("filterSql"):
        checker.error(item.id, message("filter_sql"))
    inputs = checker.graph.follow(item, "input")
    outputs = checker.graph.follow(item, "output")
    if not inputs or not outputs:
        return
    pair = (inputs[0].type, outputs[0].type)
    if pair not in (("DynamoDBDataNode", "S3DataNode"), ("S3DataNode", "DynamoDBDataNode")):
        checker.error(
            item.id,
            message(
                "hive_copy_nodes",
                input=_described(inputs[0]),
                output=_described(outputs[0]),
            ),
        )
        return
    # The copy is a whole-table export or import: a folder and a table, named.
    for node in (inputs[0], outputs[0]):
        needed = "directoryPath" if node.type == "S3DataNode" else "tableName"
        if not node.has(needed):
            checker.error(item.id, message("hive_copy_field", node=_described(node), key=needed))


def _described(item: ResolvedObject) -> str:
    return f"{item.type or 'an object without a type'} '{item.id}'"


_TYPE_RULES = {
    "Schedule": _check_schedule,
    "EmrActivity": _check_emr_activity,
    "HiveCopyActivity": _check_hive_copy,
}


def _has_expression(key: str, entries: tuple[Field, ...]) -> bool:
    if key in NEVER_EVALUATED or key.startswith("@"):
        return False
    return any("#{" in entry.value for entry in entries if not entry.is_ref)


def _is_ratio(text: str) -> bool:
    if not _DECIMAL.fullmatch(text.strip()):
        return False
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return False
    return Decimal("0.1") <= value <= Decimal("1.0")


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _name_too_long(what: str, text: str) -> str:
    shown = text if len(text) <= 40 else text[:40] + "…"
    return message("name_too_long", what=what, name=shown, size=_size(text), limit=MAX_NAME_BYTES)
