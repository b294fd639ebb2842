"""What one attempt of an activity runs: its steps as ddbpipe's export and import jobs.

Each step (``steps.activity_jobs``, rendered with the instance's runtime fields) is one
job:

- an ``ExportStep`` is ``export_table(table, directoryPath, exact=True)``: the files go
  straight into the output node's folder (the templates put the timestamp there). A
  retried attempt goes on from the folder's checkpoint (``resume_export``), and one
  whose export had already finished takes it as done;
- an ``ImportStep`` is ``import_table(path, table)``, checkpointed in the state folder; a
  retried attempt resumes from the checkpoint when there is one.

The DynamoDB region of a job is its DynamoDB data node's ``region``, else its
EmrCluster's, else the command's; the capacity ratio is the step's, else the data
node's ``readThroughputPercent`` / ``writeThroughputPercent`` (converted from
``Decimal`` to the job's float here, once). The jobs of an activity that runs on an
``EmrCluster`` use the runner's Dask cluster when it has one (``RunnerConfig.dask``).

A front end that decides what pipelines may do (a server with roles) passes a
``JobAccess``: it sees the jobs before any runs, may refuse them (``AccessDeniedError``,
failing the attempt for good) and gives back the jobs to run (local paths resolved).
How the attempt ended comes back as an
``AttemptOutcome``: a transient error (``error.transient``) may be retried, anything
else is permanent; when the attempt's cancel token was set, it was canceled, whatever
error the stop raised.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

import orjson

from ddbpipe.backups.layout import CHECKPOINT_NAME, TABLE_SIDECAR_NAME
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import DdbpipeError
from ddbpipe.formats.datapipeline import SUCCESS_NAME
from ddbpipe.pipeline.attempts import AttemptOutcome, AttemptTicket
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.expressions import Value
from ddbpipe.pipeline.logs import ActivityLog
from ddbpipe.pipeline.objects import ResolvedObject
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.steps import DynamoDBJob, ExportStep, ImportStep, activity_jobs
from ddbpipe.sessions import AnySession
from ddbpipe.stores import open_store
from ddbpipe.transfer.cancel import CancelToken
from ddbpipe.transfer.checkpoints import import_checkpoint_path
from ddbpipe.transfer.export import ExportConfig, export_table, resume_export
from ddbpipe.transfer.imports import ImportConfig, import_table
from ddbpipe.transfer.progress import JobProgress

__all__ = ["AttemptJob", "JobAccess", "JobPlan", "job_plans", "mask", "run_attempt"]


@dataclass(frozen=True)
class JobPlan:
    """One job of an attempt: the step, the table's region, the capacity ratio, and the
    ``EmrCluster`` the activity runs on (None for none)."""

    job: DynamoDBJob
    region: str | None
    ratio: float | None
    cluster: str | None = None


class JobAccess(Protocol):
    """What a front end lets an attempt do (see the module doc)."""

    def jobs(
        self, plan: PipelinePlan, activity_id: str, jobs: Sequence[JobPlan], log_url: str | None
    ) -> Sequence[JobPlan]:
        """The jobs to run for ``activity_id`` (which logs to ``log_url``); raises
        ``AccessDeniedError`` or ``ConfigError`` to refuse them."""
        ...

    def log_root(self, root: str) -> str:
        """Where a ``pipelineLogUri`` really is; raises ``DdbpipeError`` to refuse it."""
        ...


@dataclass
class AttemptJob:
    """Everything one attempt needs to run."""

    plan: PipelinePlan
    ticket: AttemptTicket
    config: RunnerConfig
    state_dir: Path
    cancel: CancelToken
    log: ActivityLog
    session: AnySession | None = None
    on_progress: Callable[[JobProgress], None] | None = None
    monotonic: Callable[[], float] = time.monotonic
    access: JobAccess | None = None


def job_plans(
    plan: PipelinePlan, activity_id: str, runtime: Mapping[str, Value], config: RunnerConfig
) -> tuple[JobPlan, ...]:
    """The jobs one run of ``activity_id`` stands for (``StepError`` when ddbpipe cannot
    run it)."""
    jobs = activity_jobs(plan.evaluator, activity_id, runtime)
    activity = plan.graph[activity_id]
    node_runtime = {key: value for key, value in runtime.items() if key != "@id"}
    cluster_region = None
    cluster_id = None
    for cluster in plan.graph.follow(activity, "runsOn"):
        cluster_region = _first(plan, cluster, "region", node_runtime) or cluster_region
        cluster_id = cluster_id or cluster.id
    planned = []
    for job in jobs:
        node = _dynamodb_node(plan, activity, job, node_runtime)
        region = _first(plan, node, "region", node_runtime) if node else None
        key = "readThroughputPercent" if isinstance(job, ExportStep) else "writeThroughputPercent"
        step_ratio = job.read_ratio if isinstance(job, ExportStep) else job.write_ratio
        ratio = (
            step_ratio
            if step_ratio is not None
            else _decimal(_first(plan, node, key, node_runtime) if node else None)
        )
        planned.append(
            JobPlan(
                job,
                region or cluster_region,
                float(ratio) if ratio is not None else None,
                cluster_id,
            )
        )
    return tuple(planned)


def _first(
    plan: PipelinePlan, item: ResolvedObject, key: str, runtime: Mapping[str, Value]
) -> str | None:
    if not item.strings(key):
        return None
    values = plan.evaluator.field(item.id, key, runtime)
    return values[0] if values and values[0] else None


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


def _dynamodb_node(
    plan: PipelinePlan, activity: ResolvedObject, job: DynamoDBJob, runtime: Mapping[str, Value]
) -> ResolvedObject | None:
    side = "input" if isinstance(job, ExportStep) else "output"
    nodes = [n for n in plan.graph.follow(activity, side) if n.type == "DynamoDBDataNode"]
    for node in nodes:
        if _first(plan, node, "tableName", runtime) == job.table:
            return node
    return nodes[0] if nodes else None


def mask(plan: PipelinePlan, text: str) -> str:
    """``text`` with the values of masked (``*my…``) parameters hidden."""
    for secret in plan.masked:
        if secret:
            text = text.replace(secret, "********")
    return text


def run_attempt(job: AttemptJob) -> AttemptOutcome:
    """Run every job of the attempt; see the module doc."""
    ticket, log = job.ticket, job.log
    log.write(
        f"attempt {ticket.number} of {ticket.instance_id} (pipeline {ticket.pipeline_id}, "
        f"component {ticket.component_id})"
    )
    summaries = []
    try:
        plans: Sequence[JobPlan] = job_plans(
            job.plan, ticket.component_id, ticket.runtime, job.config
        )
        if job.access is not None:
            plans = job.access.jobs(job.plan, ticket.component_id, plans, log.url)
        for step in plans:
            summaries.append(_run_step(job, step))
    except BaseException as exc:
        return _failure(job, exc)
    summary = "; ".join(summaries)
    log.write(f"finished: {summary}")
    return AttemptOutcome("finished", fields={"emrStepLog": log.url}, summary=summary)


def _failure(job: AttemptJob, exc: BaseException) -> AttemptOutcome:
    log = job.log
    if job.cancel.is_set():
        reason = job.cancel.reason or "stop"
        log.write(f"canceled ({reason}): {exc}")
        return AttemptOutcome(
            "canceled", reason=reason, error_message=str(exc), fields={"emrStepLog": log.url}
        )
    if isinstance(exc, KeyboardInterrupt):
        return AttemptOutcome("canceled", reason="stop", fields={"emrStepLog": log.url})
    remote = exc.remote_traceback if isinstance(exc, DdbpipeError) else None
    stack = remote or "".join(traceback.format_exception(exc))
    transient = bool(getattr(exc, "transient", False)) if isinstance(exc, DdbpipeError) else False
    message = mask(job.plan, str(exc) or type(exc).__name__)
    kind = "transient error (may be retried)" if transient else "permanent error"
    log.write(f"failed with a {kind}: {type(exc).__name__}: {message}\n{mask(job.plan, stack)}")
    return AttemptOutcome(
        "failed",
        error_id=type(exc).__name__,
        error_message=message,
        stack_trace=mask(job.plan, stack),
        transient=transient,
        fields={"emrStepLog": log.url},
    )


def _run_step(job: AttemptJob, step: JobPlan) -> str:
    config = job.config
    dynamo = replace(config.dynamo, region=step.region or config.dynamo.region)
    task = step.job
    where = dynamo.endpoint_url or "the AWS endpoint"
    ratio = f"{step.ratio}" if step.ratio is not None else "default"
    if isinstance(task, ExportStep):
        job.log.write(
            mask(
                job.plan,
                f"export table {task.table} (region {dynamo.region or 'from the environment'}, "
                f"{where}) to {task.path}; read ratio {ratio}, segments "
                f"{task.segments or 'planned'}, workers {config.workers or 'one per core'}",
            )
        )
        return _export(job, task, step, dynamo)
    assert isinstance(task, ImportStep)
    job.log.write(
        mask(
            job.plan,
            f"import {task.path} into table {task.table} (region "
            f"{dynamo.region or 'from the environment'}, {where}); write ratio {ratio}, "
            f"workers {config.workers or 'one per core'}",
        )
    )
    return _import(job, task, step, dynamo)


def _progress(job: AttemptJob) -> Callable[[JobProgress], None]:
    last = [float("-inf")]

    def report(progress: JobProgress) -> None:
        now = job.monotonic()
        if now - last[0] >= job.config.progress_interval:
            last[0] = now
            job.log.write(
                f"progress: {progress.items:,} items ({progress.done:,} durable), "
                f"{progress.bytes / 1e6:,.1f} MB, {progress.consumed:,.1f} capacity units "
                f"consumed, {progress.elapsed:,.0f} s"
            )
        if job.on_progress is not None:
            job.on_progress(progress)

    return report


def _export(job: AttemptJob, task: ExportStep, step: JobPlan, dynamo: DynamoConfig) -> str:
    config = job.config
    export_config = ExportConfig(
        read_ratio=step.ratio,
        segments=task.segments,
        workers=config.workers,
        max_rcu=config.max_rcu,
        retry=config.retry,
        dynamo=dynamo,
        store=config.store,
        dask=config.dask if step.cluster else None,
    )
    folder = open_store(task.path, config.store, session=job.session)
    if folder.exists(SUCCESS_NAME):
        sidecar = (
            folder.read_bytes(TABLE_SIDECAR_NAME) if folder.exists(TABLE_SIDECAR_NAME) else b""
        )
        items = _sidecar_items(sidecar)
        job.log.write(f"{folder.url} already holds a finished export; nothing to do")
        return f"export of {task.table} to {folder.url} had finished ({items} items)"
    if folder.exists(CHECKPOINT_NAME):
        job.log.write(f"going on from the checkpoint of the interrupted export in {folder.url}")
        result = resume_export(
            task.path,
            export_config,
            session=job.session,
            cancel=job.cancel,
            on_progress=_progress(job),
        )
    else:
        result = export_table(
            task.table,
            task.path,
            export_config,
            session=job.session,
            cancel=job.cancel,
            on_progress=_progress(job),
            exact=True,
        )
    job.log.write(
        f"exported {result.items:,} items ({result.bytes:,} bytes) in {len(result.files)} "
        f"data files to {result.folder}; {result.consumed_capacity:,.1f} RCU consumed in "
        f"{result.duration:,.1f} s ({result.segments} segments, {result.workers} workers, "
        f"limit {result.read_rate:,.1f} RCU/s)"
    )
    return f"exported {result.items:,} items of {result.table} to {result.folder}"


def _sidecar_items(data: bytes) -> int | None:
    try:
        items = orjson.loads(data)["export"]["items"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return int(items) if isinstance(items, int) else None


def _import(job: AttemptJob, task: ImportStep, step: JobPlan, dynamo: DynamoConfig) -> str:
    config = job.config
    source = task.path if "://" in task.path else os.path.abspath(task.path)
    source_url = open_store(source, config.store, session=job.session).url
    checkpoint = import_checkpoint_path(job.state_dir, source_url, task.table)
    resume = job.ticket.number > 1 and checkpoint.exists()
    if resume:
        job.log.write(f"going on from the checkpoint {checkpoint}")
    import_config = ImportConfig(
        write_ratio=step.ratio,
        workers=config.workers,
        max_wcu=config.max_wcu,
        state_dir=str(job.state_dir),
        resume=resume,
        retry=config.retry,
        dynamo=dynamo,
        store=config.store,
        dask=config.dask if step.cluster else None,
    )
    result = import_table(
        source,
        task.table,
        import_config,
        session=job.session,
        cancel=job.cancel,
        on_progress=_progress(job),
    )
    job.log.write(
        f"imported {result.items_read:,} items read, {result.written:,} written from "
        f"{result.files} files of {result.source} into {result.table}; "
        f"{result.consumed_capacity:,.1f} WCU consumed in {result.duration:,.1f} s "
        f"({result.workers} workers, limit {result.write_rate:,.1f} WCU/s)"
    )
    return f"imported {result.written:,} items into {result.table} from {result.source}"
