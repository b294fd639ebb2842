"""The Create pipeline page: a name, a source (one of the two DynamoDB templates with its
parameters, or a definition uploaded or pasted), when to run, tags; then Save or
Activate.

The form is checked first (required fields, ratios, tags, the schedule) and the
definition validated as PutPipelineDefinition would; problems are shown next to the
fields and objects they concern, with every value kept, and nothing is created. A
template pipeline is refused at once (403) for a table the user may not export
(``dynamodb:Scan``) or import into (``dynamodb:BatchWriteItem``). Then the pipeline is
made with the API's operations as the user: CreatePipeline (with the tags),
PutPipelineDefinition and, for Activate, ActivatePipeline, whose checks include
``elasticmapreduce:RunJobFlow`` with the pipeline's tags: the guide's EMR policy
requires the tag ``dynamodbdatapipeline``, which the form fills in.

Without JavaScript, "Use this source" reloads the form (a GET of the same fields) for
the chosen template.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from ddbpipe.errors import DdbpipeError
from ddbpipe.pipeline.definition import (
    DefinitionError,
    PipelineDefinition,
    definition_from_file,
    definition_to_api,
)
from ddbpipe.pipeline.templates import console_template
from ddbpipe.pipeline.validation import validate_definition
from ddbpipe.server.authorization import AuthorizationKeys
from ddbpipe.server.console.access import ConsoleUser, invoke, table_arn
from ddbpipe.server.console.catalog import KeyCheck, key_schema_check
from ddbpipe.server.console.site import Console, View
from ddbpipe.server.errors import ApiError
from ddbpipe.server.pipeline_access import definition_path_problems

__all__ = ["TAG_NOTE", "TEMPLATES", "ParameterField", "register"]

TAG_NOTE = (
    "Keep the tag dynamodbdatapipeline = true: the EMR policy the DynamoDB guide suggests "
    "allows RunJobFlow only for requests that carry it, and a pipeline's tags are copied "
    "to the clusters it starts. This server checks the same policy when you activate."
)
TAG_ROWS = 4
MAX_TAGS = 10
SCHEDULE_ID = "DefaultSchedule"
_TABLE_SPLIT = re.compile(r"[\s,]+")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


@dataclass(frozen=True)
class Template:
    """One of the console's two templates."""

    kind: str
    title: str
    description: str


TEMPLATES = {
    "export": Template(
        "export",
        "Export DynamoDB table to S3",
        "Exports DynamoDB tables to an S3 folder, in timestamped YYYY-MM-dd-HH-mm-ss "
        "subfolders, in the DynamoDB export format. Several tables may be exported at once.",
    ),
    "import": Template(
        "import",
        "Import DynamoDB backup data from S3",
        "Loads a previously created DynamoDB backup into a table that exists with the same "
        "key schema. Existing items are replaced by those of the backup; new items are added.",
    ),
}

# The form's labels: the templates' own descriptions, but for the log folder, which the
# console called "S3 location for logs".
_LABELS = {"myPipelineLogUri": "S3 location for logs"}
_OPTIONAL = frozenset({"myPipelineLogUri"})
_RATIOS = ("myDDBReadThroughputRatio", "myDDBWriteThroughputRatio")
_FOLDERS = ("myOutputS3Loc", "myInputS3Loc", "myPipelineLogUri")


@dataclass(frozen=True)
class ParameterField:
    """A template parameter as a labelled form field."""

    id: str
    label: str
    default: str
    hint: str
    required: bool


def parameter_fields(kind: str, region: str) -> list[ParameterField]:
    """The template's parameters, in its order; the region defaults to the server's."""
    template = console_template("export" if kind == "export" else "import")
    found = []
    for parameter in template["parameters"]:
        key = parameter["id"]
        default = parameter.get("default", "")
        if key == "myDDBRegion":
            default = region
        hint = parameter.get("watermark", "")
        if hint == parameter.get("default"):
            hint = ""
        if key == "myDDBTableName" and kind == "export":
            hint = "Several tables: separate their names with commas."
        if key == "myPipelineLogUri":
            hint = "A folder, not a bucket's root. Empty: logs stay in the server's state folder."
        found.append(
            ParameterField(
                id=key,
                label=_LABELS.get(key, parameter.get("description", key)),
                default=default,
                hint=hint,
                required=key not in _OPTIONAL and not default,
            )
        )
    return found


@dataclass
class Problems:
    """What is wrong with a submitted form, by field name and by object id."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    objects: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        """A problem with field ``name``."""
        self.fields.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.objects or self.general)


def _tables(text: str) -> list[str]:
    return [name for name in _TABLE_SPLIT.split(text) if name]


def _tags(values: Mapping[str, str], problems: Problems) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for index in range(1, MAX_TAGS + 1):
        key = values.get(f"tag_key_{index}", "").strip()
        value = values.get(f"tag_value_{index}", "").strip()
        if not key:
            if value:
                problems.add(f"tag_key_{index}", "A tag with a value needs a key.")
            continue
        if len(key) > 128 or len(value) > 256:
            problems.add(f"tag_key_{index}", "Keys have 1 to 128 characters, values up to 256.")
        if any(tag["key"] == key for tag in tags):
            problems.add(f"tag_key_{index}", f"The key {key!r} is given twice.")
        tags.append({"key": key, "value": value})
    return tags


def _schedule(values: Mapping[str, str], problems: Problems) -> dict[str, Any] | None:
    if values.get("run", "activation") != "schedule":
        return None
    period = values.get("period", "").strip()
    if not re.fullmatch(r"\d+\s+(minute|hour|day|week|month|year)s?", period):
        problems.add("period", "Write the period as a number and a unit, such as 1 day or 6 hours.")
    schedule: dict[str, Any] = {
        "id": SCHEDULE_ID,
        "name": f"Every {period}",
        "type": "Schedule",
        "period": period,
    }
    start = values.get("start", "").strip()
    if start:
        if not _DATETIME.fullmatch(start):
            problems.add("start", "Give the start as a date and time.")
        schedule["startDateTime"] = start if len(start) == 19 else f"{start}:00"
    else:
        schedule["startAt"] = "FIRST_ACTIVATION_DATE_TIME"
    end = values.get("end", "").strip()
    if end:
        if not _DATETIME.fullmatch(end):
            problems.add("end", "Give the end as a date and time.")
        schedule["endDateTime"] = end if len(end) == 19 else f"{end}:00"
    return schedule


def template_document(
    kind: str, values: Mapping[str, str], region: str, problems: Problems
) -> tuple[dict[str, Any], list[str]]:
    """The file-form definition the template makes of the form's values, and the
    tables it names."""
    fields = parameter_fields(kind, region)
    for item in fields:
        text = values.get(item.id, "").strip()
        if item.required and not text:
            problems.add(item.id, f"{item.label} is required.")
        if item.id in _RATIOS and text:
            try:
                ratio = float(text)
            except ValueError:
                ratio = -1.0
            if not 0.1 <= ratio <= 1.0:
                problems.add(item.id, "Enter a value between 0.1 and 1.0.")
        if item.id in _FOLDERS and text and "://" in text and not text.startswith("s3://"):
            problems.add(item.id, "Give an s3:// folder (or a folder under the local root).")
    tables = _tables(values.get("myDDBTableName", ""))
    if kind == "import" and len(tables) > 1:
        problems.add("myDDBTableName", "An import loads one table at a time.")
        tables = tables[:1]
    try:
        document = console_template("export" if kind == "export" else "import", tables)
    except DdbpipeError as error:
        problems.add("myDDBTableName", str(error))
        document = console_template("export" if kind == "export" else "import")
    given = {
        item.id: values.get(item.id, "").strip() or item.default
        for item in fields
        if item.id != "myDDBTableName"
    }
    if not given.get("myPipelineLogUri"):
        given.pop("myPipelineLogUri", None)
        for item in document["objects"]:
            item.pop("pipelineLogUri", None)
        document["parameters"] = [
            p for p in document["parameters"] if p["id"] != "myPipelineLogUri"
        ]
    document.setdefault("values", {}).update({k: v for k, v in given.items() if v})
    if len(tables) == 1:
        document["values"]["myDDBTableName"] = tables[0]
    return document, tables


def _with_schedule(document: dict[str, Any], schedule: dict[str, Any] | None) -> None:
    if schedule is None:
        return
    objects = [item for item in document["objects"] if item.get("type") != "Schedule"]
    for item in objects:
        if item.get("id") == "Default":
            item["scheduleType"] = "cron"
            item["schedule"] = {"ref": SCHEDULE_ID}
    document["objects"] = [schedule, *objects]


def _check_tables(
    console: Console, user: ConsoleUser, kind: str, tables: list[str], region: str
) -> None:
    action = "dynamodb:Scan" if kind == "export" else "dynamodb:BatchWriteItem"
    for table in tables:
        user.require(
            action, AuthorizationKeys(resource=table_arn(region, console.account_id, table))
        )


def _validate(console: Console, definition: PipelineDefinition, problems: Problems) -> None:
    now = console.now()
    result = validate_definition(definition, now=now)
    for source in (result.fatal, result.errors):
        for key, messages in source.items():
            problems.objects.setdefault(key or "(definition)", []).extend(messages)
    for key, messages in result.warnings.items():
        problems.warnings.setdefault(key or "(definition)", []).extend(messages)
    paths = definition_path_problems(definition, console.config.local_root, now=now)
    for key, texts in paths.items():
        problems.objects.setdefault(key, []).extend(texts)


def _parameter_objects(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Which template parameters each object uses, to show its problems beside them."""
    found: dict[str, list[str]] = {}
    for item in document.get("objects", []):
        text = orjson.dumps(item).decode()
        found[item.get("id", "")] = re.findall(r"#\{(my\w+)\}", text)
    return found


def _key_check(console: Console, values: Mapping[str, str]) -> KeyCheck | None:
    source = values.get("myInputS3Loc", "").strip()
    if not source:
        return None
    tables = _tables(values.get("myDDBTableName", ""))
    target = None
    if tables:
        try:
            target = console.catalog.table(tables[0])
        except DdbpipeError:
            return KeyCheck(False, f"Table {tables[0]} does not exist at this server's DynamoDB.")
    location = source
    if "://" not in source and console.config.local_root is not None:
        location = str(console.config.local_root / source)
    return key_schema_check(location, target, console.config.s3)


def _render(
    console: Console,
    view: View,
    values: Mapping[str, str],
    problems: Problems,
    status: int = 200,
    *,
    saved: str | None = None,
) -> Response:
    source = values.get("source") or "template"
    kind = values.get("template") or "export"
    if kind not in TEMPLATES:
        kind = "export"
    key_check = _key_check(console, values) if kind == "import" and source == "template" else None
    document, _ = template_document(kind, values, console.config.region, Problems())
    return console.render(
        view,
        "create.html",
        status,
        values=values,
        source=source,
        kind=kind,
        templates=TEMPLATES,
        fields=parameter_fields(kind, console.config.region),
        problems=problems,
        uses=_parameter_objects(document),
        tag_rows=max(TAG_ROWS, sum(1 for k in values if k.startswith("tag_key_"))),
        tag_note=TAG_NOTE,
        key_check=key_check,
        saved=saved,
    )


def _defaults(console: Console, view: View) -> dict[str, str]:
    values: dict[str, str] = {
        "source": "template",
        "template": "export",
        "run": "activation",
        "unique_id": secrets.token_hex(8),
        "tag_key_1": "dynamodbdatapipeline",
        "tag_value_1": "true",
    }
    prefixes = console.config.backup_prefixes
    if prefixes:
        values["myOutputS3Loc"] = prefixes[0].rstrip("/")
    for key, value in view.request.query_params.items():
        values[key] = value
    if "table" in values:
        values.setdefault("myDDBTableName", values.pop("table"))
    if "input" in values:
        values["template"] = "import"
        values.setdefault("myInputS3Loc", values.pop("input"))
    kind = values.get("template") or "export"
    kind = kind if kind in TEMPLATES else "export"
    for item in parameter_fields(kind, console.config.region):
        if item.default and not values.get(item.id):
            values[item.id] = item.default
    values.pop("csrf_token", None)
    return values


def new_pipeline(console: Console, view: View) -> Response:
    """The form (GET), and creating the pipeline (POST)."""
    user = view.signed_in
    user.require("datapipeline:CreatePipeline")
    if view.request.method == "GET":
        return _render(console, view, _defaults(console, view), Problems())
    values = dict(view.form.as_values())
    values.pop("csrf_token", None)
    problems = Problems()
    name = values.get("name", "").strip()
    if not name:
        problems.add("name", "Name is required.")
    elif len(name) > 1024:
        problems.add("name", "A name has at most 1,024 characters.")
    tags = _tags(values, problems)
    schedule = _schedule(values, problems)
    document: dict[str, Any] | None = None
    if values.get("source") == "definition":
        upload = view.form.files.get("definition_file")
        text = upload[1].decode("utf-8", errors="replace") if upload and upload[1] else ""
        text = text or values.get("definition", "")
        if upload and upload[1]:
            values["definition"] = text
        if not text.strip():
            problems.add("definition", "Upload a definition file or paste its JSON.")
        else:
            try:
                loaded = orjson.loads(text)
                document = loaded if isinstance(loaded, dict) else None
                if document is None:
                    problems.add("definition", "A definition is a JSON object.")
            except orjson.JSONDecodeError as error:
                problems.add("definition", f"This is not JSON: {error}")
    else:
        kind = values.get("template", "export")
        region = values.get("myDDBRegion", "").strip() or console.config.region
        document, tables = template_document(kind, values, console.config.region, problems)
        if not problems:
            _check_tables(console, user, kind, tables, region)
    definition = None
    if document is not None:
        _with_schedule(document, schedule)
        try:
            definition = definition_from_file(document)
        except DefinitionError as error:
            problems.add("definition", str(error))
    if definition is not None and not problems:
        _validate(console, definition, problems)
    if problems or definition is None:
        return _render(console, view, values, problems, 400)
    return _create(console, view, values, definition, tags, problems)


def _create(
    console: Console,
    view: View,
    values: dict[str, str],
    definition: PipelineDefinition,
    tags: list[dict[str, str]],
    problems: Problems,
) -> Response:
    user = view.signed_in
    body: dict[str, Any] = {
        "name": values["name"].strip(),
        "uniqueId": values.get("unique_id") or secrets.token_hex(8),
        "tags": tags,
    }
    if values.get("description", "").strip():
        body["description"] = values["description"].strip()
    pipeline_id = str(invoke(console.operations, user, "CreatePipeline", body)["pipelineId"])
    try:
        result = invoke(
            console.operations,
            user,
            "PutPipelineDefinition",
            {"pipelineId": pipeline_id, **definition_to_api(definition)},
        )
        if result.get("errored"):
            for item in result.get("validationErrors", []):
                problems.objects.setdefault(item["id"], []).extend(item["errors"])
            return _render(console, view, values, problems, 400, saved=pipeline_id)
        if values.get("action") == "activate":
            invoke(console.operations, user, "ActivatePipeline", {"pipelineId": pipeline_id})
    except ApiError as error:
        problems.general.append(error.message)
        return _render(console, view, values, problems, 400, saved=pipeline_id)
    return console.redirect(f"/pipelines/{pipeline_id}")


def register(console: Console) -> None:
    """Add the Create pipeline page."""
    console.page("/pipelines/new", new_pipeline, methods=("GET", "POST"))
