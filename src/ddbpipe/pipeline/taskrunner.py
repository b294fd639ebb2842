"""A task runner: takes the tasks of one worker group from a Data Pipeline service and
runs them here, with the engine's own job code (``ddbpipe worker``).

The loop, as the service's Task Runner does it:

1. ``ReportTaskRunnerHeartbeat`` every ``heartbeat_interval`` seconds (the service
   expects one at least every 15 minutes); a ``terminate`` answer stops the runner;
2. ``PollForTask`` for the worker group (the service waits for work before answering);
3. a task is rebuilt into the attempt it stands for (``ddbpipe.pipeline.tasks``) and run
   by ``jobs.run_attempt`` in a thread, logging to the log the service named (else to
   ``logs/`` in the state folder). Meanwhile ``ReportTaskProgress`` goes every
   ``progress_interval`` seconds (by default a third of the task's
   ``reportProgressTimeout``, at most a minute) with the job's counts; a ``canceled``
   answer, or a task the service no longer knows, stops the job;
4. ``SetTaskStatus``: ``FINISHED``, or ``FAILED`` with ``errorId`` (the error's class),
   ``errorMessage`` and ``errorStackTrace`` (its last 1,024 characters, the most the
   service takes).

When ``stop`` is set (Ctrl-C, SIGTERM), a running job stops with its checkpoint and the
task is handed back (``FAILED`` with ``errorId`` ``TaskRunnerStopped``), so that the
next task runner goes on from the checkpoint; a poll under way is waited for, and a
task it brings is handed back at once. Errors talking to the service are retried after
``retry_delay`` seconds.

The service's client is injected (``DataPipelineClient``: boto3's ``datapipeline``
client, which signs the requests); every clock is the runner's.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ddbpipe.errors import DdbpipeError
from ddbpipe.pipeline.attempts import AttemptOutcome
from ddbpipe.pipeline.clock import Clock, SystemClock
from ddbpipe.pipeline.jobs import AttemptJob, run_attempt
from ddbpipe.pipeline.logs import ActivityLog, attempt_log_url
from ddbpipe.pipeline.runner import LOGS_FOLDER
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.tasks import STOPPED_ERROR_ID, TaskWork, task_plan
from ddbpipe.sessions import AnySession
from ddbpipe.transfer.cancel import CancelToken, StopFlag
from ddbpipe.transfer.progress import JobProgress

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_RETRY_DELAY",
    "MAX_STACK_TRACE",
    "DataPipelineClient",
    "TaskResult",
    "TaskRunner",
    "TaskRunnerConfig",
]

logger = logging.getLogger("ddbpipe.worker")

DEFAULT_HEARTBEAT_INTERVAL = 60.0
DEFAULT_RETRY_DELAY = 5.0
MAX_STACK_TRACE = 1024
_MAX_PROGRESS_INTERVAL = 60.0
_WAIT_STEP = 0.2


class DataPipelineClient(Protocol):
    """The four operations of the service a task runner calls (boto3's client)."""

    def poll_for_task(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def report_task_progress(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def report_task_runner_heartbeat(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def set_task_status(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class TaskRunnerConfig:
    """Who the task runner is and how it runs its tasks' jobs.

    ``jobs`` says where the jobs reach DynamoDB and S3 (this machine's settings, not
    the service's); ``state_dir`` holds import checkpoints and the logs of tasks the
    service names no log for.
    """

    worker_group: str
    state_dir: Path
    jobs: RunnerConfig = field(default_factory=RunnerConfig)
    hostname: str = field(default_factory=socket.gethostname)
    taskrunner_id: str = field(default_factory=lambda: f"ddbpipe-{uuid.uuid4()}")
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    progress_interval: float | None = None
    retry_delay: float = DEFAULT_RETRY_DELAY


@dataclass(frozen=True)
class TaskResult:
    """A task that ran here: its ids and how it ended."""

    task_id: str
    pipeline_id: str
    attempt_id: str
    outcome: AttemptOutcome


def _error_name(error: BaseException) -> str:
    return getattr(error.__class__, "__name__", "Error")


class TaskRunner:
    """Runs the tasks of ``config.worker_group`` from ``client`` until ``stop`` is set
    (see the module doc). ``on_task`` hears of each task when it ends."""

    def __init__(
        self,
        client: DataPipelineClient,
        config: TaskRunnerConfig,
        *,
        stop: StopFlag,
        clock: Clock | None = None,
        session: AnySession | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_task: Callable[[TaskResult], None] | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.stop = stop
        self.clock = clock or SystemClock()
        self.session = session
        self.monotonic = monotonic
        self.on_task = on_task
        self.results: list[TaskResult] = []
        self._heartbeat_due = float("-inf")
        self._terminate = False

    def run(self) -> list[TaskResult]:
        """Poll and run tasks until stopped; the tasks that ran."""
        self.config.jobs.check()
        while not self.stop.is_set() and not self._terminate:
            self._heartbeat()
            try:
                answer = self.client.poll_for_task(
                    workerGroup=self.config.worker_group, hostname=self.config.hostname
                )
            except Exception as exc:  # the service is away: wait, then poll again
                logger.warning("PollForTask failed: %s", exc)
                self._pause(self.config.retry_delay)
                continue
            task = answer.get("taskObject")
            if not task or not task.get("taskId"):
                continue
            if self.stop.is_set():
                self._hand_back(task)
                break
            self._record(self.run_task(task))
        return self.results

    def _record(self, result: TaskResult) -> None:
        self.results.append(result)
        if self.on_task is not None:
            self.on_task(result)

    def _pause(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        while not self.stop.is_set() and self.monotonic() < deadline:
            time.sleep(min(_WAIT_STEP, max(0.0, deadline - self.monotonic())))

    def _heartbeat(self) -> None:
        if self.monotonic() < self._heartbeat_due:
            return
        self._heartbeat_due = self.monotonic() + self.config.heartbeat_interval
        try:
            answer = self.client.report_task_runner_heartbeat(
                taskrunnerId=self.config.taskrunner_id,
                workerGroup=self.config.worker_group,
                hostname=self.config.hostname,
            )
        except Exception as exc:
            logger.warning("ReportTaskRunnerHeartbeat failed: %s", exc)
            return
        if answer.get("terminate"):
            logger.info("the service asked this task runner to terminate")
            self._terminate = True

    def _hand_back(self, task: Mapping[str, Any]) -> None:
        try:
            self.client.set_task_status(
                taskId=task["taskId"],
                taskStatus="FAILED",
                errorId=STOPPED_ERROR_ID,
                errorMessage=f"the task runner on {self.config.hostname} was stopped",
            )
        except Exception as exc:
            logger.warning("could not hand task %s back: %s", task.get("attemptId"), exc)

    # --- one task ------------------------------------------------------------------------

    def run_task(self, task: Mapping[str, Any]) -> TaskResult:
        """Run one PollForTask ``taskObject`` and report how it ended."""
        task_id = str(task["taskId"])
        try:
            work = task_plan(task)
        except DdbpipeError as exc:
            outcome = AttemptOutcome("failed", error_id=_error_name(exc), error_message=str(exc))
            self._report_end(task_id, outcome)
            return TaskResult(
                task_id, str(task.get("pipelineId")), str(task.get("attemptId")), outcome
            )
        ticket = work.ticket
        logger.info("running %s of pipeline %s", ticket.attempt_id, ticket.pipeline_id)
        log = ActivityLog(
            self._log_url(work),
            clock=self.clock,
            store=self.config.jobs.store,
            session=self.session,
            flush_interval=self.config.jobs.log_flush_interval,
            monotonic=self.monotonic,
        )
        token = CancelToken()
        progress: list[JobProgress] = []
        job = AttemptJob(
            work.plan,
            ticket,
            self.config.jobs,
            self.config.state_dir,
            token,
            log,
            session=self.session,
            on_progress=progress.append,
            monotonic=self.monotonic,
        )
        ended: list[AttemptOutcome] = []

        def target() -> None:
            try:
                ended.append(run_attempt(job))
            except BaseException as exc:  # run_attempt reports errors; a last guard
                ended.append(
                    AttemptOutcome("failed", error_id=_error_name(exc), error_message=str(exc))
                )
            finally:
                log.close()

        if self._report_progress(task_id, None, log_url=log.url):  # the first report
            token.cancel("canceled")
        thread = threading.Thread(target=target, name=f"task {ticket.attempt_id}", daemon=True)
        thread.start()
        self._watch(task_id, work, thread, token, progress)
        outcome = ended[0] if ended else AttemptOutcome("failed", error_message="the task died")
        self._report_end(task_id, outcome)
        return TaskResult(task_id, ticket.pipeline_id, ticket.attempt_id, outcome)

    def _log_url(self, work: TaskWork) -> str:
        if work.log_url:
            return work.log_url
        ticket = work.ticket
        return attempt_log_url(
            str(self.config.state_dir / LOGS_FOLDER),
            ticket.pipeline_id,
            ticket.component_id,
            ticket.instance_id,
            ticket.attempt_id,
        )

    def _interval(self, work: TaskWork) -> float:
        if self.config.progress_interval is not None:
            return self.config.progress_interval
        return max(1.0, min(_MAX_PROGRESS_INTERVAL, work.report_seconds / 3))

    def _watch(
        self,
        task_id: str,
        work: TaskWork,
        thread: threading.Thread,
        token: CancelToken,
        progress: list[JobProgress],
    ) -> None:
        interval = self._interval(work)
        due = self.monotonic() + interval
        while thread.is_alive():
            thread.join(_WAIT_STEP)
            if self.stop.is_set() and not token.is_set():
                token.cancel("stop")
            if self.monotonic() >= due and thread.is_alive():
                due = self.monotonic() + interval
                if self._report_progress(task_id, progress[-1] if progress else None):
                    token.cancel("canceled")

    def _report_progress(
        self, task_id: str, progress: JobProgress | None, *, log_url: str | None = None
    ) -> bool:
        """Report progress (and, the first time, where the task logs); True when the
        job should stop."""
        fields = [{"key": "emrStepLog", "stringValue": log_url}] if log_url else []
        if progress is not None:
            counts = {
                "itemsProcessed": progress.items,
                "itemsDurable": progress.done,
                "bytesProcessed": progress.bytes,
                "capacityConsumed": f"{progress.consumed:.1f}",
            }
            fields += [{"key": key, "stringValue": str(value)} for key, value in counts.items()]
        try:
            answer = self.client.report_task_progress(taskId=task_id, fields=fields)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in (
                "TaskNotFoundException",
                "PipelineNotFoundException",
                "PipelineDeletedException",
            ):
                return True
            logger.warning("ReportTaskProgress failed: %s", exc)
            return False
        return bool(answer.get("canceled"))

    def _report_end(self, task_id: str, outcome: AttemptOutcome) -> None:
        if outcome.status == "finished":
            arguments: dict[str, Any] = {"taskStatus": "FINISHED"}
        elif outcome.status == "canceled" and outcome.reason == "stop":
            arguments = {
                "taskStatus": "FAILED",
                "errorId": STOPPED_ERROR_ID,
                "errorMessage": outcome.error_message
                or f"the task runner on {self.config.hostname} was stopped",
            }
        else:
            arguments = {
                "taskStatus": "FAILED",
                "errorId": (outcome.error_id or "Failed")[:1024],
                "errorMessage": outcome.error_message or outcome.reason or "the task failed",
            }
            if outcome.stack_trace:
                arguments["errorStackTrace"] = outcome.stack_trace[-MAX_STACK_TRACE:]
        for attempt in range(3):
            try:
                self.client.set_task_status(taskId=task_id, **arguments)
                return
            except Exception as exc:
                logger.warning("SetTaskStatus failed (try %d): %s", attempt + 1, exc)
                time.sleep(self.config.retry_delay if attempt < 2 else 0)
        logger.error(
            "could not report the end of task %s; the service will retry it after its "
            "reportProgressTimeout",
            task_id,
        )
