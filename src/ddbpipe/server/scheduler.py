"""The server's scheduler: a background service that runs every active pipeline.

Each pipeline whose ``@pipelineState`` is ``SCHEDULED`` or ``DEACTIVATING`` gets a
``PipelineRunner`` in a thread of the server's process, the same runner as ``ddbpipe
pipeline run``'s: it takes the pipeline's lease in the state (one runner per pipeline,
whatever process runs it), marks what a runner before it left running as interrupted
(after a crash, even SIGKILL: those attempts are retried from their checkpoints), then
ticks the pipeline, runs its due attempts and keeps going while the pipeline is active.
It hands the work of ``workerGroup`` activities to task runners (``TaskOffers``) and
checks every job against the role it runs as (``JobAccess``).

The scheduler looks for pipelines to run every ``interval`` seconds and at once when
the API changes one (``wake``); every ``checkpoint_interval`` seconds it also copies the
state's write-ahead log back into the database (``StateStore.checkpoint``), which the
server's many readers keep SQLite from doing on its own. A runner that ended while its
pipeline is still active (its lease was held by another process, a ``ddbpipe pipeline
run`` for example) is started again after ``retry_after`` seconds. ``stop`` (the server
shutting down on SIGTERM or Ctrl-C) stops every runner: running attempts are
checkpointed and their instances wait for the next start, without using a retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from ddbpipe.errors import DdbpipeError, PipelineBusyError, PipelineNotFoundError
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.jobs import JobAccess
from ddbpipe.pipeline.runner import PipelineRunner, RunEvent, TaskOffers
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.statuses import PipelineState
from ddbpipe.transfer.cancel import CancelToken

__all__ = [
    "DEFAULT_CHECKPOINT_INTERVAL",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_SCAN_INTERVAL",
    "STOP_TIMEOUT",
    "PipelineScheduler",
    "RunListener",
]

logger = logging.getLogger("ddbpipe.server")

DEFAULT_SCAN_INTERVAL = 1.0
DEFAULT_RETRY_AFTER = 10.0
DEFAULT_CHECKPOINT_INTERVAL = 2.0
STOP_TIMEOUT = 25.0
"""How long ``stop`` waits for runners to checkpoint their attempts."""
RunListener = Callable[[str, RunEvent], None]
"""Told every run event of a pipeline (its id first), besides the server's log."""
_ACTIVE = (PipelineState.SCHEDULED.value, PipelineState.DEACTIVATING.value)


@dataclass
class _Slot:
    token: CancelToken = field(default_factory=CancelToken)
    thread: threading.Thread | None = None
    runner: PipelineRunner | None = None
    ended: float | None = None
    woken: bool = False

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class PipelineScheduler:
    """Runs the active pipelines of ``engine`` (see the module doc)."""

    def __init__(
        self,
        engine: PipelineEngine,
        *,
        state_dir: Path,
        config: RunnerConfig,
        offers: TaskOffers | None = None,
        access: JobAccess | None = None,
        interval: float = DEFAULT_SCAN_INTERVAL,
        retry_after: float = DEFAULT_RETRY_AFTER,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        listeners: Sequence[RunListener] = (),
    ) -> None:
        self.engine = engine
        self.listeners = tuple(listeners)
        self.state_dir = state_dir
        self.config = config
        self.offers = offers
        self.access = access
        self.interval = interval
        self.retry_after = retry_after
        self.checkpoint_interval = checkpoint_interval
        self.monotonic = monotonic
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- the background service -----------------------------------------------------

    async def start(self) -> None:
        """Start looking for pipelines to run."""
        self._thread = threading.Thread(target=self._loop, name="pipeline scheduler", daemon=True)
        self._thread.start()
        logger.info("pipeline scheduler started")

    async def stop(self) -> None:
        """Stop every runner, checkpointing running attempts."""
        await anyio.to_thread.run_sync(self.shutdown)

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """``stop``, from a plain thread."""
        with self._lock:
            self._stopping = True
            slots = list(self._slots.values())
        for slot in slots:
            slot.token.cancel("the server stopped")
        self._event.set()
        deadline = self.monotonic() + timeout
        for slot in slots:
            if slot.thread is not None:
                slot.thread.join(max(0.0, deadline - self.monotonic()))
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - self.monotonic()))
        left = [key for key, slot in self._slots.items() if slot.alive()]
        if left:
            logger.warning("pipeline runners still stopping: %s", ", ".join(left))
        logger.info("pipeline scheduler stopped")

    # --- what the API tells it --------------------------------------------------------

    def wake(self, pipeline_id: str | None = None) -> None:
        """Look at ``pipeline_id`` (or every pipeline) now: start its runner, or wake it."""
        with self._lock:
            slot = self._slots.get(pipeline_id) if pipeline_id else None
            if slot is not None:
                slot.woken = True
                if slot.runner is not None:
                    slot.runner.wake.set()
        self._event.set()

    def forget(self, pipeline_id: str, reason: str) -> None:
        """Stop the runner of a pipeline that is going away (its attempts checkpoint and
        stop; this does not wait for them)."""
        with self._lock:
            slot = self._slots.pop(pipeline_id, None)
        if slot is not None:
            slot.token.cancel(reason)

    def running(self) -> list[str]:
        """The pipelines whose runner is running now."""
        with self._lock:
            return [key for key, slot in self._slots.items() if slot.alive()]

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        checkpointed = self.monotonic()
        while not self._stopping:
            try:
                self._start_due()
                if self.monotonic() - checkpointed >= self.checkpoint_interval:
                    checkpointed = self.monotonic()
                    self.engine.state.checkpoint()
            except Exception:  # a broken state row must not stop the scheduler
                logger.exception("the pipeline scheduler could not read the pipelines")
            self._event.wait(min(self.interval, self.checkpoint_interval))
            self._event.clear()

    def _start_due(self) -> None:
        active = [item.pipeline_id for item in self.engine.state.pipeline_summaries(states=_ACTIVE)]
        now = self.monotonic()
        with self._lock:
            if self._stopping:
                return
            for pipeline_id in active:
                slot = self._slots.get(pipeline_id)
                if slot is not None and slot.alive():
                    continue
                if (
                    slot is not None
                    and not slot.woken
                    and slot.ended is not None
                    and now - slot.ended < self.retry_after
                ):
                    continue
                self._slots[pipeline_id] = self._launch(pipeline_id)

    def _launch(self, pipeline_id: str) -> _Slot:
        slot = _Slot()
        slot.thread = threading.Thread(
            target=self._run, args=(pipeline_id, slot), name=f"pipeline {pipeline_id}", daemon=True
        )
        slot.thread.start()
        return slot

    def _run(self, pipeline_id: str, slot: _Slot) -> None:
        try:
            runner = PipelineRunner(
                self.engine,
                pipeline_id,
                state_dir=self.state_dir,
                config=self.config,
                cancel=slot.token,
                on_event=_log_event(pipeline_id, self.listeners),
                offers=self.offers,
                access=self.access,
                linger=True,
            )
            with self._lock:
                slot.runner = runner
                slot.woken = False
            runner.run()
        except PipelineBusyError as exc:
            logger.info("pipeline %s is not run here for now: %s", pipeline_id, exc)
        except PipelineNotFoundError:
            logger.info("pipeline %s was deleted; its runner stopped", pipeline_id)
        except DdbpipeError as exc:
            logger.error("the runner of pipeline %s stopped: %s", pipeline_id, exc)
        except Exception:
            logger.exception("the runner of pipeline %s failed", pipeline_id)
        finally:
            with self._lock:
                slot.runner = None
                slot.ended = self.monotonic()


def _log_event(
    pipeline_id: str, listeners: Sequence[RunListener] = ()
) -> Callable[[RunEvent], None]:
    def log(event: RunEvent) -> None:
        for listener in listeners:
            listener(pipeline_id, event)
        if event.kind == "status":
            logger.info(
                "%s %s %s%s",
                pipeline_id,
                event.object_id,
                event.status,
                f": {event.message}" if event.message else "",
            )
        elif event.kind in ("action", "problem"):
            level = logging.WARNING if event.kind == "problem" else logging.INFO
            logger.log(level, "%s %s %s", pipeline_id, event.object_id, event.message)

    return log
