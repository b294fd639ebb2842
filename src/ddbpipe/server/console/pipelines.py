"""The pipeline pages: the list, a pipeline's page (live while it runs), its actions,
an attempt's log, an export's backup folder, editing the definition, deleting.

The list shows the pipelines the user may describe (``datapipeline:DescribePipelines``
with each pipeline's creator and tags, as ListPipelines decides). A pipeline's page
needs ``DescribePipelines`` and ``DescribeObjects`` on it; its log and backup pages too.
Every action runs the API operation it stands for as the user (``access.invoke``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from starlette.responses import Response

from ddbpipe.backups.opener import open_backup
from ddbpipe.errors import ConfigError, DdbpipeError, NotFoundError
from ddbpipe.pipeline.definition import (
    DefinitionError,
    definition_from_api,
    definition_from_file,
    definition_to_api,
    definition_to_file,
)
from ddbpipe.pipeline.state import ObjectRecord, PipelineRecord
from ddbpipe.server.authorization import AuthorizationKeys
from ddbpipe.server.console.access import ConsoleUser, invoke
from ddbpipe.server.console.display import ACTIVE_STATUSES
from ddbpipe.server.console.runs import component_views, export_folders
from ddbpipe.server.console.site import Console, View
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.local_paths import check_local_path
from ddbpipe.server.pipeline_access import is_local
from ddbpipe.stores import open_store
from ddbpipe.transfer.inspect import BackupReport, inspect_backup

__all__ = ["PAGE_SIZE", "STATE_FILTERS", "register"]

PAGE_SIZE = 100
STATE_FILTERS = ("PENDING", "SCHEDULED", "FINISHED", "INACTIVE", "ERROR")
_DESCRIBE = "datapipeline:DescribePipelines"
_OBJECTS = "datapipeline:DescribeObjects"
MAX_LOG_BYTES = 1024 * 1024


def _keys(console: Console, pipeline_id: str) -> AuthorizationKeys:
    try:
        return console.context.keys(pipeline_id)
    except ApiError as error:
        if error.error_code in (ErrorCode.PIPELINE_NOT_FOUND, ErrorCode.PIPELINE_DELETED):
            raise NotFoundError(error.message) from None
        raise


def _visible(console: Console, user: ConsoleUser, pipeline_id: str) -> PipelineRecord:
    keys = _keys(console, pipeline_id)
    user.require(_DESCRIBE, keys)
    user.require(_OBJECTS, keys)
    return console.context.engine.pipeline(pipeline_id)


# --- the list ---------------------------------------------------------------------------


def pipeline_list(console: Console, view: View) -> Response:
    """Every pipeline the user may see, filtered by name and state."""
    user = view.signed_in
    user.require("datapipeline:ListPipelines")
    wanted_name = view.query("name").lower()
    wanted_state = view.query("state").upper()
    rows = []
    for item in console.context.engine.state.pipeline_overviews():
        summary = item.summary
        keys = console.context.summary_keys(summary)
        if not user.allowed(_DESCRIBE, keys):
            continue
        if (
            wanted_name
            and wanted_name not in summary.name.lower()
            and wanted_name not in (summary.pipeline_id.lower())
        ):
            continue
        if wanted_state == "ERROR":
            if item.health != "ERROR":
                continue
        elif wanted_state and summary.state != wanted_state:
            continue
        rows.append((item, keys.pipeline_tags))
    rows.reverse()  # newest first
    try:
        page = max(1, int(view.query("page") or 1))
    except ValueError:
        page = 1
    pages = max(1, (len(rows) + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return console.render(
        view,
        "pipelines.html",
        rows=shown,
        total=len(rows),
        page=page,
        pages=pages,
        name=view.query("name"),
        state=wanted_state,
        states=STATE_FILTERS,
        can_create=user.allowed("datapipeline:CreatePipeline"),
    )


# --- one pipeline -----------------------------------------------------------------------


def _detail_context(console: Console, view: View, pipeline_id: str) -> dict[str, Any]:
    user = view.signed_in
    record = _visible(console, user, pipeline_id)
    objects = console.context.engine.state.objects(pipeline_id)
    components = component_views(record, objects, console.progress)
    running = any(
        instance.status in ACTIVE_STATUSES for c in components for instance in c.instances
    ) or (record.state in ("SCHEDULED", "DEACTIVATING") and not components_done(components))
    keys = _keys(console, pipeline_id)
    document = record.active_definition or record.latest_definition or {}
    parameters = [
        (item.get("id", ""), item.get("stringValue", ""))
        for item in document.get("parameterValues", [])
    ]
    return {
        "record": record,
        "components": components,
        "running": running,
        "parameters": parameters,
        "next_run": console.context.engine.next_run_time(pipeline_id),
        "can": {
            "activate": user.allowed("datapipeline:ActivatePipeline", keys),
            "deactivate": user.allowed("datapipeline:DeactivatePipeline", keys),
            "set_status": user.allowed("datapipeline:SetStatus", keys),
            "edit": user.allowed("datapipeline:PutPipelineDefinition", keys),
            "delete": user.allowed("datapipeline:DeletePipeline", keys),
        },
    }


def components_done(components: list[Any]) -> bool:
    """Whether every instance so far has ended (an on-demand pipeline that ran)."""
    instances = [i for c in components for i in c.instances]
    return bool(instances) and not any(i.active for i in instances)


def pipeline_page(console: Console, view: View, status: int = 200) -> Response:
    """A pipeline: state, health, parameters, tags, objects, instances and attempts."""
    context = _detail_context(console, view, view.path("pipeline_id"))
    return console.render(view, "pipeline.html", status, **context)


def pipeline_live(console: Console, view: View) -> Response:
    """The part of a pipeline's page that changes while it runs."""
    context = _detail_context(console, view, view.path("pipeline_id"))
    return console.render(view, "_objects.html", **context)


def _act(console: Console, view: View, operation: str, body: dict[str, Any]) -> Response:
    pipeline_id = view.path("pipeline_id")
    _keys(console, pipeline_id)
    try:
        invoke(console.operations, view.signed_in, operation, {"pipelineId": pipeline_id, **body})
    except (ApiError, ConfigError) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        view.messages.append(message)
        return pipeline_page(console, view, 400)
    return console.redirect(f"/pipelines/{pipeline_id}")


def activate(console: Console, view: View) -> Response:
    """ActivatePipeline."""
    return _act(console, view, "ActivatePipeline", {})


def deactivate(console: Console, view: View) -> Response:
    """DeactivatePipeline, canceling what runs."""
    return _act(console, view, "DeactivatePipeline", {"cancelActive": True})


def rerun(console: Console, view: View) -> Response:
    """SetStatus RERUN of one instance."""
    instance = view.form.get("instance_id")
    return _act(console, view, "SetStatus", {"objectIds": [instance], "status": "RERUN"})


def mark_finished(console: Console, view: View) -> Response:
    """SetStatus MARK_FINISHED of one instance."""
    instance = view.form.get("instance_id")
    return _act(console, view, "SetStatus", {"objectIds": [instance], "status": "MARK_FINISHED"})


def delete_pipeline(console: Console, view: View) -> Response:
    """The confirmation page, and DeletePipeline."""
    pipeline_id = view.path("pipeline_id")
    record = _visible(console, view.signed_in, pipeline_id)
    if view.request.method == "GET":
        return console.render(view, "delete.html", record=record)
    invoke(console.operations, view.signed_in, "DeletePipeline", {"pipelineId": pipeline_id})
    return console.redirect("/pipelines")


# --- an attempt's log ---------------------------------------------------------------------


def _read_log(console: Console, url: str) -> str:
    if is_local(url):
        path = Path(url.removeprefix("file://"))
        roots = [console.config.state_dir.resolve()]
        if console.config.local_root is not None:
            roots.append(console.config.local_root.resolve())
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise NotFoundError(f"{url} is not a log of this server")
        if not resolved.exists():
            raise NotFoundError(f"the log {url} has not been written yet")
        data = resolved.read_bytes()
    else:
        folder, _, name = url.rpartition("/")
        store = open_store(folder, console.config.s3)
        if not store.exists(name):
            raise NotFoundError(f"the log {url} has not been written yet")
        data = store.read_bytes(name)
    if len(data) > MAX_LOG_BYTES:
        data = b"[... the start is left out ...]\n" + data[-MAX_LOG_BYTES:]
    return data.decode("utf-8", errors="replace")


def _run_object(console: Console, pipeline_id: str, object_id: str, sphere: str) -> ObjectRecord:
    """The instance or attempt ``object_id`` of the pipeline; ``NotFoundError`` else."""
    found = console.context.engine.state.object(pipeline_id, object_id)
    if found is None or found.sphere != sphere:
        raise NotFoundError(f"pipeline {pipeline_id} has no {sphere.lower()} {object_id!r}")
    return found


def attempt_log(console: Console, view: View) -> Response:
    """An attempt's ``Activity.log``."""
    pipeline_id = view.path("pipeline_id")
    record = _visible(console, view.signed_in, pipeline_id)
    attempt_id = view.query("attempt")
    attempt = _run_object(console, pipeline_id, attempt_id, "ATTEMPT")
    url = attempt.fields.get("emrStepLog")
    if not isinstance(url, str) or not url:
        raise NotFoundError(f"attempt {attempt_id} has no log")
    text = _read_log(console, url)
    return console.render(
        view,
        "log.html",
        record=record,
        attempt=attempt,
        url=url,
        text=text,
        running=(attempt.status in ACTIVE_STATUSES),
    )


# --- an export's backup folder ----------------------------------------------------------


def backup_folder(console: Console, view: View) -> Response:
    """The files an export instance wrote, and their item counts."""
    pipeline_id = view.path("pipeline_id")
    record = _visible(console, view.signed_in, pipeline_id)
    instance_id = view.query("instance")
    instance = _run_object(console, pipeline_id, instance_id, "INSTANCE")
    plan = console.context.engine.plan(pipeline_id)
    reports: list[tuple[str, BackupReport | None, str]] = []
    for folder in export_folders(console.context, plan, instance):
        location = folder
        if is_local(folder):
            try:
                location = str(check_local_path(folder, console.config.local_root))
            except ApiError as error:
                reports.append((folder, None, error.message))
                continue
        try:
            report = inspect_backup(open_backup(location, console.config.s3))
        except DdbpipeError as error:
            reports.append((folder, None, str(error)))
            continue
        reports.append((folder, report, ""))
    return console.render(view, "backup.html", record=record, instance=instance, reports=reports)


# --- the definition -----------------------------------------------------------------------


def _problems(result: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    for item in result.get("validationErrors", []):
        found.setdefault(item["id"], {"errors": [], "warnings": []})["errors"] += item["errors"]
    for item in result.get("validationWarnings", []):
        found.setdefault(item["id"], {"errors": [], "warnings": []})["warnings"] += item["warnings"]
    return found


def edit_definition(console: Console, view: View) -> Response:
    """The definition as JSON (the file form), validated or saved with the API."""
    pipeline_id = view.path("pipeline_id")
    user = view.signed_in
    record = _visible(console, user, pipeline_id)
    user.require("datapipeline:GetPipelineDefinition", _keys(console, pipeline_id))
    problems: dict[str, dict[str, list[str]]] = {}
    error = ""
    outcome = ""
    status = 200
    if view.request.method == "GET":
        document = record.latest_definition
        text = (
            orjson.dumps(
                definition_to_file(definition_from_api(document)), option=orjson.OPT_INDENT_2
            ).decode()
            if document
            else '{\n  "objects": []\n}'
        )
        return console.render(
            view,
            "definition.html",
            record=record,
            text=text,
            problems=problems,
            error=error,
            outcome=outcome,
        )
    text = view.form.raw("definition")
    action = view.form.get("action") or "validate"
    try:
        definition = definition_from_file(orjson.loads(text))
        body = {"pipelineId": pipeline_id, **definition_to_api(definition)}
        operation = "PutPipelineDefinition" if action == "save" else "ValidatePipelineDefinition"
        result = invoke(console.operations, user, operation, body)
        problems = _problems(dict(result))
        errored = bool(result.get("errored"))
        if action == "save":
            outcome = "Saved, with errors to fix before activating." if errored else "Saved."
        else:
            outcome = "The definition has errors." if errored else "The definition is valid."
        status = 400 if errored else 200
    except orjson.JSONDecodeError as exc:
        error, status = f"This is not JSON: {exc}", 400
    except DefinitionError as exc:
        error, status = str(exc), 400
    except ApiError as exc:
        error, status = exc.message, 400
    return console.render(
        view,
        "definition.html",
        status,
        record=record,
        text=text,
        problems=problems,
        error=error,
        outcome=outcome,
    )


def register(console: Console) -> None:
    """Add the pipeline pages."""
    console.page("/pipelines", pipeline_list)
    console.page("/pipelines/{pipeline_id}", pipeline_page)
    console.page("/pipelines/{pipeline_id}/live", pipeline_live)
    console.page("/pipelines/{pipeline_id}/activate", activate, methods=("POST",))
    console.page("/pipelines/{pipeline_id}/deactivate", deactivate, methods=("POST",))
    console.page("/pipelines/{pipeline_id}/rerun", rerun, methods=("POST",))
    console.page("/pipelines/{pipeline_id}/mark-finished", mark_finished, methods=("POST",))
    console.page("/pipelines/{pipeline_id}/delete", delete_pipeline, methods=("GET", "POST"))
    console.page("/pipelines/{pipeline_id}/log", attempt_log)
    console.page("/pipelines/{pipeline_id}/backup", backup_folder)
    console.page("/pipelines/{pipeline_id}/definition", edit_definition, methods=("GET", "POST"))
