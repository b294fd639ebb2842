"""QueryObjects, DescribeObjects, EvaluateExpression and SetStatus over the pipeline
engine.

- QueryObjects: every selector operator (``EQ``, ``REF_EQ``, ``LE``, ``GE``,
  ``BETWEEN``) on the ``COMPONENT``, ``INSTANCE`` and ``ATTEMPT`` spheres, ``limit`` ids
  a page (100 by default), continued from ``marker``.
- DescribeObjects: ``DESCRIBE_PAGE`` objects a page (the AWS CLI's ``list-runs`` sends
  100 ids a call and reads one page), with ``evaluateExpressions``.
- EvaluateExpression: the expression rendered in the scope of a component, instance or
  attempt; several values (a list) are joined with commas.
- SetStatus: ``PAUSE``/``RESUME`` components, ``TRY_CANCEL`` (or ``CANCEL``), ``RERUN``
  and ``MARK_FINISHED`` instances. ``RERUN`` runs work again, so it is authorised as an
  activation is. The scheduler is woken after every change.
"""

from __future__ import annotations

from typing import Any

from ddbpipe.pipeline.queries import Selector
from ddbpipe.server.api_definitions import activation_authorizer
from ddbpipe.server.authorization import AuthorizationKeys
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.operations import Call, Operation
from ddbpipe.server.service_context import ServiceContext

__all__ = ["DEFAULT_QUERY_LIMIT", "DESCRIBE_PAGE", "object_operations"]

DEFAULT_QUERY_LIMIT = 100
DESCRIBE_PAGE = 100
_STATUS_ALIASES = {"CANCEL": "TRY_CANCEL"}


def object_operations(ctx: ServiceContext) -> list[Operation]:
    """The handlers of the object operations over ``ctx``."""

    def one_keys(call: Call) -> list[AuthorizationKeys]:
        return [ctx.keys(call.input["pipelineId"])]

    def query(call: Call) -> dict[str, Any]:
        raw = (call.input.get("query") or {}).get("selectors") or []
        selectors = [Selector.from_api(item) for item in raw]
        ids, marker = ctx.engine.query_objects(
            call.input["pipelineId"],
            call.input["sphere"],
            selectors,
            limit=call.input.get("limit") or DEFAULT_QUERY_LIMIT,
            marker=call.input.get("marker") or None,
        )
        response: dict[str, Any] = {"ids": ids, "hasMoreResults": marker is not None}
        if marker is not None:
            response["marker"] = marker
        return response

    def describe(call: Call) -> dict[str, Any]:
        ids = list(dict.fromkeys(call.input["objectIds"]))
        marker = call.input.get("marker") or "0"
        if not marker.isdigit():
            raise ApiError(ErrorCode.INVALID_REQUEST, f"Invalid marker '{marker}'")
        start = int(marker)
        page = ids[start : start + DESCRIBE_PAGE]
        objects = ctx.engine.describe_objects(
            call.input["pipelineId"],
            page,
            evaluate_expressions=bool(call.input.get("evaluateExpressions")),
        )
        response: dict[str, Any] = {"pipelineObjects": objects}
        more = start + DESCRIBE_PAGE < len(ids)
        response["hasMoreResults"] = more
        if more:
            response["marker"] = str(start + DESCRIBE_PAGE)
        return response

    def evaluate(call: Call) -> dict[str, Any]:
        values = ctx.engine.evaluate_expression(
            call.input["pipelineId"], call.input["objectId"], call.input["expression"]
        )
        return {"evaluatedExpression": ",".join(values)}

    def set_status(call: Call) -> None:
        pipeline_id = call.input["pipelineId"]
        status = call.input["status"].upper()
        ctx.engine.set_status(
            pipeline_id,
            call.input["objectIds"],
            _STATUS_ALIASES.get(status, status),
            authorize=activation_authorizer(ctx, call),
        )
        ctx.scheduler.wake(pipeline_id)

    return [
        Operation("QueryObjects", query, keys=one_keys),
        Operation("DescribeObjects", describe, keys=one_keys),
        Operation("EvaluateExpression", evaluate, keys=one_keys),
        Operation("SetStatus", set_status, keys=one_keys),
    ]
