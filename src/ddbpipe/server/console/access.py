"""Who is using the console, and what they may do: the same policy evaluation as the API.

A signed-in user's requests carry the same facts as a signed API request
(``RequestFacts``: the principal, the time, whether it came over HTTPS, the address).
Pages decide what to list with ``decide`` on the action the matching API call needs
(``datapipeline:DescribePipelines`` for a pipeline in the list, ``dynamodb:Scan`` on a
table's ARN for a table one may export ...). Actions run the API's own operation
handlers through ``invoke``: the input is validated against the service's shapes, the
operation's condition keys are computed and ``datapipeline:<Operation>`` is checked
with each, then the handler runs, with every check it makes itself (activation checks
``iam:PassRole``, the table actions and ``elasticmapreduce:RunJobFlow`` with the
pipeline's tags). A refusal is ``Refused``, whose message names the user, the action
and the resource, shown on a 403 page.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ddbpipe.server.authorization import (
    NO_KEYS,
    AuthorizationKeys,
    Caller,
    RequestFacts,
    authorize,
    decide,
)
from ddbpipe.server.console.sessions import ConsoleSession
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.operations import Call, OperationTable
from ddbpipe.server.policy import access_denied_message
from ddbpipe.server.principals import Principal
from ddbpipe.server.shapes import validate_input

__all__ = ["ConsoleUser", "Refused", "invoke", "table_arn"]


class Refused(Exception):
    """The signed-in user may not do this; the message says which action on which
    resource."""


@dataclass(frozen=True)
class ConsoleUser:
    """A signed-in user and the facts of the request being served."""

    session: ConsoleSession
    facts: RequestFacts

    @property
    def principal(self) -> Principal:
        """The user as a principal, with every policy that applies."""
        return self.facts.caller.principal

    @property
    def name(self) -> str:
        """The user's name."""
        return self.principal.name

    def allowed(self, action: str, keys: AuthorizationKeys = NO_KEYS) -> bool:
        """Whether the user's policies allow ``action`` on what ``keys`` describe."""
        return decide(self.facts, action, keys).allowed

    def require(self, action: str, keys: AuthorizationKeys = NO_KEYS) -> None:
        """``Refused`` unless ``allowed``."""
        decision = decide(self.facts, action, keys)
        if not decision.allowed:
            raise Refused(access_denied_message(self.principal.arn, decision))


def user_facts(
    session: ConsoleSession,
    principal: Principal,
    *,
    now: Any,
    secure: bool,
    source_ip: str | None,
) -> ConsoleUser:
    """The console user of ``session`` for one request."""
    caller = Caller(principal, session.access_key_id or "")
    return ConsoleUser(session, RequestFacts(caller, now, secure, source_ip))


def invoke(
    operations: OperationTable, user: ConsoleUser, name: str, body: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Run the API operation ``name`` as ``user`` (see the module doc); ``Refused`` when
    a policy refuses it, ``ApiError`` for anything else the API would refuse."""
    operation = operations.get(name)
    if operation is None:
        raise ApiError(ErrorCode.UNKNOWN_OPERATION, f"{name} is not served here")
    checked = validate_input(name, dict(body))
    call = Call(name, checked, str(uuid.uuid4()), user.facts)
    try:
        keys = operation.keys(call) if operation.keys is not None else ()
        if inspect.isawaitable(keys):
            raise ApiError(ErrorCode.UNKNOWN_OPERATION, f"{name} is not served to the console")
        for each in keys or (NO_KEYS,):
            authorize(call.facts, call.action, each)
        output = operation.handler(call)
        if inspect.isawaitable(output):
            raise ApiError(ErrorCode.UNKNOWN_OPERATION, f"{name} is not served to the console")
    except ApiError as error:
        if error.error_code == ErrorCode.ACCESS_DENIED:
            raise Refused(error.message) from None
        raise
    return dict(output or {})


def table_arn(region: str, account_id: str, table: str) -> str:
    """``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME``."""
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{table}"
