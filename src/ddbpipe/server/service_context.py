"""What the pipeline operations' handlers share: the engine, the identities, the
scheduler to wake, the task board, and the condition keys of a pipeline.

Handlers (``ddbpipe.server.api_pipelines``, ``api_definitions``, ``api_objects``,
``api_tasks``) are built over one ``ServiceContext``; ``ddbpipe.server.pipeline_service``
makes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Protocol

from ddbpipe.errors import PipelineNotFoundError
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import PipelineSummary
from ddbpipe.server.authorization import AuthorizationKeys, pipeline_arn
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.errors import ApiError, ErrorCode, api_error_for
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.pipeline_access import RoleAccess

__all__ = ["Scheduler", "ServiceContext", "TaskBoardView", "tags_of"]


class Scheduler(Protocol):
    """What handlers tell the scheduler."""

    def wake(self, pipeline_id: str | None = None) -> None:
        """Look at ``pipeline_id`` now."""
        ...

    def forget(self, pipeline_id: str, reason: str) -> None:
        """Stop running ``pipeline_id``."""
        ...


class TaskBoardView(Protocol):
    """What pipeline handlers tell the task board."""

    def withdraw(self, pipeline_id: str) -> None:
        """Offer nothing more of ``pipeline_id``."""
        ...


def tags_of(tags: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """API tags (``[{key, value}]``) as a dict; ``ApiError`` when a key repeats."""
    found: dict[str, str] = {}
    for tag in tags:
        key = tag["key"]
        if key in found:
            raise ApiError(ErrorCode.INVALID_REQUEST, f"Tag key '{key}' is given twice")
        found[key] = tag.get("value", "")
    return found


@dataclass
class ServiceContext:
    """One server's pipeline side (see the module doc)."""

    config: ServerConfig
    store: IdentityStore
    engine: PipelineEngine
    scheduler: Scheduler
    board: TaskBoardView
    access: RoleAccess
    runner_config: RunnerConfig

    def summary(self, pipeline_id: str) -> PipelineSummary:
        """A pipeline's summary; ``ApiError`` (not found, deleted) otherwise."""
        found = self.engine.state.pipeline_summary(pipeline_id)
        if found is None:
            raise api_error_for(PipelineNotFoundError(pipeline_id))
        summary, deleted = found
        if deleted:
            raise api_error_for(PipelineNotFoundError(pipeline_id, deleted=True))
        return summary

    def keys(
        self,
        pipeline_id: str,
        *,
        request_tags: Mapping[str, str] | None = None,
        worker_group: str | None = None,
        extra: Mapping[str, str | tuple[str, ...]] | None = None,
    ) -> AuthorizationKeys:
        """The condition keys of an existing pipeline (creator and tags), with those of
        the request."""
        keys = self.summary_keys(
            self.summary(pipeline_id), request_tags=request_tags, worker_group=worker_group
        )
        return replace(keys, extra=dict(extra)) if extra else keys

    def summary_keys(
        self,
        summary: PipelineSummary,
        *,
        request_tags: Mapping[str, str] | None = None,
        worker_group: str | None = None,
    ) -> AuthorizationKeys:
        """The condition keys of a pipeline already read (listings read many at once)."""
        return AuthorizationKeys.for_pipeline(
            self.pipeline_arn(summary.pipeline_id),
            summary.creator or None,
            {tag["key"]: tag["value"] for tag in summary.tags},
            request_tags=request_tags,
            worker_group=worker_group,
        )

    def pipeline_arn(self, pipeline_id: str) -> str:
        """The ARN that policies name the pipeline by."""
        return pipeline_arn(self.config.region, self.account_id, pipeline_id)

    @cached_property
    def account_id(self) -> str:
        """The account of every ARN: set when the store is opened, read once (it is a
        query, and every request names a pipeline)."""
        return self.store.account_id
