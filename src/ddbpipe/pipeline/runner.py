"""The runner: runs one pipeline's instances as they come due, until there is nothing
left to do (or it is told to stop).

A runner first takes the pipeline's lease (another runner holding it raises
``PipelineBusyError``; a lease whose holder died is taken over), then marks what a
runner before it left running as interrupted (``PipelineEngine.recover``) and loops:

1. record the attempts that ended and the progress of those running;
2. tick the pipeline (``PipelineEngine.tick``): plan, move instances, learn what to do;
3. carry out the pending actions (``SnsAlarm``, ``Terminate``);
4. cancel the attempts the tick says to (timeouts, cancellations);
5. check the preconditions that are due, and start an attempt, each in its own
   thread, for every instance that may run (each job uses its own worker processes);
6. wait until something is due, an attempt ends, or ``poll_interval`` passes.

With ``once``, only instances due when the runner starts are planned, and it returns
when those can go no further; otherwise it returns when the pipeline is finished or
deactivated, or when nothing more will ever be planned and nothing can move (with
``linger``, as a server's scheduler runs it, only when the pipeline is no longer
active). When the ``cancel`` flag is set, running attempts are stopped with their
checkpoints; their instances wait for the next runner, which goes on from there.

Activities of a ``workerGroup`` without ``runsOn`` are run here too, unless the runner
has a ``TaskOffers`` (a server with task runners): it then offers their ready instances
to the task runners of their worker group instead (``ddbpipe.pipeline.tasks``), cancels
their attempts on the service's side, and fails those whose task runner stopped
reporting. A ``JobAccess`` sees every attempt's jobs before they run (see
``ddbpipe.pipeline.jobs``).

Every time the runner reads or waits goes through its ``Clock``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from ddbpipe.errors import DdbpipeError, PipelineBusyError
from ddbpipe.pipeline.actions import publish_alarm, render_alarm
from ddbpipe.pipeline.attempts import AttemptOutcome, AttemptTicket
from ddbpipe.pipeline.clock import Clock
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.jobs import AttemptJob, JobAccess, run_attempt
from ddbpipe.pipeline.logs import ActivityLog, attempt_log_url
from ddbpipe.pipeline.preconditions import check_precondition
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import ObjectRecord
from ddbpipe.pipeline.statuses import PipelineState
from ddbpipe.pipeline.tasks import is_remote_attempt
from ddbpipe.pipeline.tick import CancelRequest, PreconditionCheck, ReadyInstance, Tick
from ddbpipe.pipeline.timefmt import format_datetime
from ddbpipe.pipeline.transitions import StatusChange
from ddbpipe.sessions import AnySession
from ddbpipe.transfer.cancel import CancelToken, StopFlag
from ddbpipe.transfer.progress import JobProgress

__all__ = ["LOGS_FOLDER", "PipelineRunner", "RunEvent", "RunEventKind", "TaskOffers"]

LOGS_FOLDER = "logs"
"""Where, under the state folder, attempts log when their pipeline sets no
``pipelineLogUri``."""

RunEventKind = Literal["status", "progress", "action", "problem"]
_EVENT_SECONDS = 1.0


@dataclass(frozen=True)
class RunEvent:
    """Something that happened while a pipeline ran, for a live display: a status
    change, a job's progress, an action carried out, or a problem worth showing."""

    kind: RunEventKind
    object_id: str | None = None
    component_id: str | None = None
    sphere: str | None = None
    status: str | None = None
    message: str | None = None
    progress: JobProgress | None = None


class TaskOffers(Protocol):
    """Where a runner offers the ready instances of remote activities to task runners."""

    def offer(self, pipeline_id: str, ready: Sequence[ReadyInstance]) -> None:
        """``ready`` are the pipeline's remote instances that may start now (replacing
        what was offered before; empty when there are none)."""
        ...


@dataclass
class _Running:
    ticket: AttemptTicket
    token: CancelToken
    thread: threading.Thread
    log: ActivityLog
    reported: float = float("-inf")


class PipelineRunner:
    """Runs the pipeline ``pipeline_id`` of ``engine``; see the module doc.

    ``state_dir`` holds import checkpoints and, for pipelines without a
    ``pipelineLogUri``, the attempts' logs. ``on_event`` receives ``RunEvent``s in the
    runner's thread. ``offers``, ``access`` and ``linger``: see the module doc.
    """

    def __init__(
        self,
        engine: PipelineEngine,
        pipeline_id: str,
        *,
        state_dir: str | os.PathLike[str],
        config: RunnerConfig | None = None,
        once: bool = False,
        cancel: StopFlag | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        session: AnySession | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        offers: TaskOffers | None = None,
        access: JobAccess | None = None,
        linger: bool = False,
    ) -> None:
        self.engine = engine
        self.state = engine.state
        self.clock: Clock = engine.clock
        self.pipeline_id = pipeline_id
        self.state_dir = Path(state_dir)
        self.config = config or RunnerConfig()
        self.config.check()
        self.once = once
        self.cancel = cancel
        self.on_event = on_event
        self.session = session
        self.monotonic = monotonic
        self.offers = offers
        self.access = access
        self.linger = linger
        self.hostname = self.config.hostname or socket.gethostname()
        self.owner = f"{self.hostname}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.running: dict[str, _Running] = {}
        self.events: queue.SimpleQueue[tuple[str, AttemptTicket, object]] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.stopping = False
        self.touched: set[str] = set()

    # --- the loop -------------------------------------------------------------------

    def run(self) -> bool:
        """Run until done; True when the run was stopped by ``cancel`` (it can be
        resumed), False when there was nothing left to do."""
        if (
            self.state.acquire_lease(self.pipeline_id, self.owner, ttl=self.config.lease_ttl)
            is None
        ):
            lease = self.state.lease(self.pipeline_id)
            assert lease is not None
            raise PipelineBusyError(self.pipeline_id, lease.owner, lease.host, lease.pid)
        try:
            self.engine.recover(self.pipeline_id, now=self.clock.now())
            return self._loop()
        except BaseException:
            self._stop_all("stop")
            self._drain_running(timeout=10.0)
            raise
        finally:
            if self.offers is not None:
                self.offers.offer(self.pipeline_id, [])
            for running in self.running.values():
                running.log.close()
            self.state.release_lease(self.pipeline_id, self.owner)

    def _loop(self) -> bool:
        horizon = self.clock.now() if self.once else None
        heartbeat = self.monotonic()
        while True:
            busy = self._collect()
            if not self.stopping and self.cancel is not None and self.cancel.is_set():
                self._stop_all("stop")
            now = self.clock.now()
            if self.offers is not None:
                expired = self.engine.expire_tasks(self.pipeline_id, now=now)
                self._emit_changes(expired)
                busy = busy or bool(expired)
            tick = self.engine.tick(self.pipeline_id, now=now, plan_until=horizon)
            self._emit_changes(tick.changes)
            busy = self._fire_actions() or busy or bool(tick.changes)
            for request in tick.cancels:
                self._cancel(request)
            local, remote = self._split(tick.ready)
            if self.offers is not None:
                self.offers.offer(self.pipeline_id, [] if self.stopping else remote)
            if not self.stopping:
                for check in tick.checks:
                    self._check(check)
                for ready in local:
                    self._start(ready)
                busy = busy or bool(tick.checks or local)
            for running in self.running.values():
                running.log.flush(only_if_due=True)
            if self.monotonic() - heartbeat >= self.config.heartbeat_interval:
                heartbeat = self.monotonic()
                if not self.state.heartbeat(self.pipeline_id, self.owner):
                    self._stop_all("stop")
            if self._done(tick):
                self._fire_actions()
                return self.stopping
            if not busy:
                self._wait(tick, now)

    def _split(self, ready: list[ReadyInstance]) -> tuple[list[ReadyInstance], list[ReadyInstance]]:
        """The ready instances this runner starts, and those it offers to task runners."""
        if self.offers is None or not ready:
            return ready, []
        plan = self.engine.plan(self.pipeline_id)
        local: list[ReadyInstance] = []
        remote: list[ReadyInstance] = []
        for item in ready:
            component = plan.components.get(item.component_id)
            (remote if component is not None and component.remote else local).append(item)
        return local, remote

    def _done(self, tick: Tick) -> bool:
        if self.running:
            return False
        if self.stopping:
            return True
        if tick.state in (PipelineState.FINISHED, PipelineState.INACTIVE, PipelineState.PENDING):
            return True
        if self.linger:
            return False
        return tick.settled and (self.once or tick.next_run is None)

    def _wait(self, tick: Tick, now: datetime) -> None:
        delay = self.config.poll_interval
        upcoming = [tick.next_time] + ([] if self.once else [tick.next_run])
        for moment in upcoming:
            if moment is not None:
                delay = min(delay, max((moment - now).total_seconds(), 0.0))
        self.clock.sleep(delay, wake=self.wake)
        self.wake.clear()

    # --- attempts -------------------------------------------------------------------

    def _start(self, ready: ReadyInstance) -> None:
        ticket, changes = self.engine.start_attempt(
            self.pipeline_id, ready.instance_id, hostname=self.hostname, now=self.clock.now()
        )
        self._emit_changes(changes)
        if ticket is None:
            return
        plan = self.engine.plan(self.pipeline_id)
        try:
            root = plan.log_uri(ticket.component_id, ticket.runtime)
            if root is not None and self.access is not None:
                root = self.access.log_root(root)
        except DdbpipeError as exc:
            self._emit(
                RunEvent(
                    "problem",
                    ticket.attempt_id,
                    ticket.component_id,
                    message=f"its pipelineLogUri is not used: {exc}",
                )
            )
            root = None
        url = attempt_log_url(
            root or str(self.state_dir / LOGS_FOLDER),
            self.pipeline_id,
            ticket.component_id,
            ticket.instance_id,
            ticket.attempt_id,
        )
        log = ActivityLog(
            url,
            clock=self.clock,
            store=self.config.store,
            session=self.session,
            flush_interval=self.config.log_flush_interval,
            monotonic=self.monotonic,
        )
        if log.problem:
            self._emit(
                RunEvent("problem", ticket.attempt_id, ticket.component_id, message=log.problem)
            )
        self.engine.record_progress(self.pipeline_id, [ticket.attempt_id], {"emrStepLog": log.url})
        token = CancelToken()
        job = AttemptJob(
            plan,
            ticket,
            self.config,
            self.state_dir,
            token,
            log,
            session=self.session,
            on_progress=lambda progress: self._progress(ticket, progress),
            monotonic=self.monotonic,
            access=self.access,
        )
        thread = threading.Thread(
            target=self._attempt, args=(job,), name=f"attempt {ticket.attempt_id}", daemon=True
        )
        self.running[ticket.attempt_id] = _Running(ticket, token, thread, log)
        thread.start()

    def _attempt(self, job: AttemptJob) -> None:
        try:
            outcome = run_attempt(job)
        except BaseException as exc:  # run_attempt reports errors; this is a last guard
            outcome = AttemptOutcome("failed", error_id=type(exc).__name__, error_message=str(exc))
        finally:
            job.log.close()
        self.events.put(("finished", job.ticket, outcome))
        self.wake.set()

    def _progress(self, ticket: AttemptTicket, progress: JobProgress) -> None:
        running = self.running.get(ticket.attempt_id)
        now = self.monotonic()
        if running is not None and now - running.reported < _EVENT_SECONDS:
            return
        if running is not None:
            running.reported = now
        self.events.put(("progress", ticket, progress))

    def _collect(self) -> bool:
        collected = False
        while True:
            try:
                kind, ticket, payload = self.events.get_nowait()
            except queue.Empty:
                return collected
            collected = True
            if kind == "progress":
                assert isinstance(payload, JobProgress)
                self._emit(
                    RunEvent(
                        "progress",
                        ticket.instance_id,
                        ticket.component_id,
                        "INSTANCE",
                        progress=payload,
                    )
                )
                self.engine.record_progress(
                    self.pipeline_id,
                    [ticket.attempt_id, ticket.instance_id],
                    {"reportProgressTime": format_datetime(self.clock.now())},
                )
                continue
            assert isinstance(payload, AttemptOutcome)
            running = self.running.pop(ticket.attempt_id, None)
            if running is not None:
                running.thread.join()
            outcome = payload
            if outcome.status == "canceled" and outcome.reason == "stop":
                why = getattr(self.cancel, "reason", None) or "stopped"
                detail = f" {outcome.error_message}" if outcome.error_message else ""
                outcome = replace(
                    outcome,
                    error_message=f"stopped: the runner was stopped ({why}); it goes on from "
                    f"its checkpoint when the pipeline runs again.{detail}",
                )
            changes = self.engine.finish_attempt(
                self.pipeline_id, ticket.attempt_id, outcome, now=self.clock.now()
            )
            self._emit_changes(changes)

    def _cancel(self, request: CancelRequest) -> None:
        running = self.running.get(request.attempt_id)
        if running is not None:
            if not running.token.is_set():
                running.token.cancel(request.reason)
            return
        attempt = self.state.object(self.pipeline_id, request.attempt_id)
        if attempt is not None and is_remote_attempt(attempt):
            # A task runner runs it: it ends here; the task runner hears it on its next
            # progress report.
            changes = self.engine.finish_attempt(
                self.pipeline_id,
                request.attempt_id,
                AttemptOutcome("canceled", reason=request.reason),
                now=self.clock.now(),
            )
            self._emit_changes(changes)

    def _stop_all(self, reason: str) -> None:
        self.stopping = True
        for running in self.running.values():
            running.token.cancel(reason)

    def _drain_running(self, timeout: float) -> None:
        deadline = self.monotonic() + timeout
        while self.running and self.monotonic() < deadline:
            with contextlib.suppress(DdbpipeError):
                self._collect()
            if self.running:
                self.wake.wait(0.05)
                self.wake.clear()

    # --- preconditions and actions --------------------------------------------------

    def _check(self, check: PreconditionCheck) -> None:
        node = self.state.object(self.pipeline_id, check.instance_id)
        if node is None:
            return
        plan = self.engine.plan(self.pipeline_id)
        error = None
        try:
            met = check_precondition(
                plan, check.precondition_id, node, self.config, session=self.session
            )
        except DdbpipeError as exc:
            met, error = False, str(exc)
        what = "met" if met else f"not met ({error})" if error else "not met yet"
        self._emit(
            RunEvent(
                "action",
                check.instance_id,
                check.component_id,
                "INSTANCE",
                message=f"precondition {check.precondition_id} {what}",
            )
        )
        changes = self.engine.record_precondition(
            self.pipeline_id,
            check.instance_id,
            check.precondition_id,
            met=met,
            error=error,
            now=self.clock.now(),
        )
        self._emit_changes(changes)

    def _fire_actions(self) -> bool:
        pending = self.state.pending_actions(self.pipeline_id)
        if not pending:
            return False
        plan = self.engine.plan(self.pipeline_id)
        for row, action_id, node_id, event in pending:
            node = self.state.object(self.pipeline_id, node_id)
            action = plan.actions.get(action_id)
            if node is not None and action is not None:
                self._fire(plan, action.type, action_id, node, event)
            self.state.done_action(row)
        return True

    def _fire(
        self, plan: PipelinePlan, kind: str, action_id: str, node: ObjectRecord, event: str
    ) -> None:
        try:
            if kind == "SnsAlarm":
                alarm = render_alarm(plan, action_id, node)
                publish_alarm(alarm, self.config, session=self.session)
                message = f"{event}: {action_id} published to {alarm.topic_arn}"
            else:
                self.engine.request_cancel(self.pipeline_id, node.object_id, "Terminate")
                message = f"{event}: {action_id} canceled {node.object_id}"
            self._emit(
                RunEvent("action", node.object_id, node.component_id, node.sphere, message=message)
            )
        except DdbpipeError as exc:
            self._emit(
                RunEvent(
                    "problem",
                    node.object_id,
                    node.component_id,
                    node.sphere,
                    message=f"{event}: action {action_id} failed: {exc}",
                )
            )

    # --- events ---------------------------------------------------------------------

    def _emit_changes(self, changes: list[StatusChange]) -> None:
        for change in changes:
            if change.sphere == "INSTANCE":
                self.touched.add(change.object_id)
            self._emit(
                RunEvent(
                    "status",
                    change.object_id,
                    change.component_id,
                    change.sphere,
                    change.status,
                    change.message,
                )
            )

    def _emit(self, event: RunEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
