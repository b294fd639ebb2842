"""Deciding whether a caller may perform an action: the caller's identity policies
against ``datapipeline:<Operation>`` on the pipeline's ARN
(``arn:aws:datapipeline:REGION:ACCOUNT:pipeline/df-…``), or on ``*`` for an operation
that names no pipeline (``ListPipelines``, ``CreatePipeline``, the task runner's), in a
request context.

The context holds what the server knows of every request — ``aws:username`` (users
only), ``aws:userid``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
``aws:PrincipalType``, ``aws:CurrentTime``, ``aws:EpochTime``, ``aws:SecureTransport``,
``aws:SourceIp`` — and what the operation's handler knows of what the request touches,
given as ``AuthorizationKeys``: ``datapipeline:PipelineCreator``,
``datapipeline:Tag/<key>``, ``aws:ResourceTag/<key>``, ``aws:RequestTag/<key>`` with
``aws:TagKeys``, ``datapipeline:workerGroup``, and any other key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.policy import Decision, access_denied_message, evaluate
from ddbpipe.server.policy_context import RequestContext, request_context
from ddbpipe.server.principals import Principal

__all__ = [
    "NO_KEYS",
    "AuthorizationKeys",
    "Caller",
    "RequestFacts",
    "authorize",
    "decide",
    "pipeline_arn",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Caller:
    """Who signed a request: the principal and the access key it signed with
    (``temporary`` for a session credential from GetSessionToken)."""

    principal: Principal
    access_key_id: str
    temporary: bool = False

    @property
    def name(self) -> str:
        """The user's (or role's) name."""
        return self.principal.name

    @property
    def arn(self) -> str:
        """The principal's ARN, as messages name it."""
        return self.principal.arn

    @property
    def user_id(self) -> str:
        """IAM's unique ID of the principal: the value of ``aws:userid``."""
        return self.principal.unique_id

    @property
    def account_id(self) -> str:
        """The account the principal belongs to."""
        return self.principal.account_id


@dataclass(frozen=True)
class AuthorizationKeys:
    """What a handler knows of the resource a request touches, for the policy context.

    ``pipeline_tags`` become ``datapipeline:Tag/<key>``, ``resource_tags``
    ``aws:ResourceTag/<key>``, ``request_tags`` ``aws:RequestTag/<key>`` and
    ``aws:TagKeys``; ``extra`` adds other keys as they are. ``resource`` is what the
    action is checked on: a pipeline's ARN, or ``*`` where no pipeline is named.
    """

    pipeline_creator: str | None = None
    pipeline_tags: Mapping[str, str] | None = None
    resource_tags: Mapping[str, str] | None = None
    request_tags: Mapping[str, str] | None = None
    worker_group: str | None = None
    extra: Mapping[str, str | tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    resource: str = "*"

    @classmethod
    def for_pipeline(
        cls,
        arn: str,
        creator: str | None,
        tags: Mapping[str, str],
        *,
        request_tags: Mapping[str, str] | None = None,
        worker_group: str | None = None,
    ) -> AuthorizationKeys:
        """The keys of the existing pipeline ``arn``: its creator, and its tags as both
        ``datapipeline:Tag`` and ``aws:ResourceTag``."""
        return cls(
            pipeline_creator=creator,
            pipeline_tags=tags,
            resource_tags=tags,
            request_tags=request_tags,
            worker_group=worker_group,
            resource=arn,
        )


def pipeline_arn(region: str, account_id: str, pipeline_id: str) -> str:
    """``arn:aws:datapipeline:REGION:ACCOUNT:pipeline/df-…``."""
    return f"arn:aws:datapipeline:{region}:{account_id}:pipeline/{pipeline_id}"


NO_KEYS = AuthorizationKeys()


@dataclass(frozen=True)
class RequestFacts:
    """What the server knows of a request, whatever it touches."""

    caller: Caller
    current_time: datetime
    secure_transport: bool = False
    source_ip: str | None = None

    def context(self, keys: AuthorizationKeys = NO_KEYS) -> RequestContext:
        """The request context with ``keys`` added."""
        principal = self.caller.principal
        extra: dict[str, str | Iterable[str]] = {
            "aws:PrincipalArn": principal.arn,
            "aws:PrincipalAccount": principal.account_id,
            "aws:PrincipalType": "User" if principal.kind == "user" else "AssumedRole",
        }
        extra.update(keys.extra)
        return request_context(
            username=principal.name if principal.kind == "user" else None,
            userid=principal.unique_id,
            current_time=self.current_time,
            secure_transport=self.secure_transport,
            source_ip=self.source_ip,
            request_tags=keys.request_tags,
            resource_tags=keys.resource_tags,
            pipeline_tags=keys.pipeline_tags,
            pipeline_creator=keys.pipeline_creator,
            worker_group=keys.worker_group,
            extra=extra,
        )


def decide(facts: RequestFacts, action: str, keys: AuthorizationKeys = NO_KEYS) -> Decision:
    """The decision on ``action`` for the caller's identity policies."""
    return evaluate(facts.caller.principal.policies, action, keys.resource, facts.context(keys))


def authorize(facts: RequestFacts, action: str, keys: AuthorizationKeys = NO_KEYS) -> Decision:
    """The allowing decision on ``action``; raises ``ApiError``
    (``AccessDeniedException``, naming the caller, the action and the resource) when the
    caller's policies do not allow it."""
    decision = decide(facts, action, keys)
    if not decision.allowed:
        raise ApiError(ErrorCode.ACCESS_DENIED, access_denied_message(facts.caller.arn, decision))
    return decision
