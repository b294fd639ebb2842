"""CreatePipeline, DeletePipeline, ListPipelines, DescribePipelines, AddTags and
RemoveTags over the pipeline engine.

Condition keys: CreatePipeline brings its tags as ``aws:RequestTag/<key>``,
``aws:TagKeys`` and ``datapipeline:Tag/<key>``; every operation on an existing pipeline
brings its creator (``datapipeline:PipelineCreator``, the creator's ``aws:userid``) and
its tags (``datapipeline:Tag/<key>``, ``aws:ResourceTag/<key>``); AddTags adds the new
tags as request tags, RemoveTags the removed keys as ``aws:TagKeys``. ListPipelines
lists the pipelines the caller may describe (``datapipeline:DescribePipelines`` with
each pipeline's keys), ``LIST_PAGE`` at a time.
"""

from __future__ import annotations

from typing import Any

from ddbpipe.server.authorization import AuthorizationKeys
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.operations import Call, Operation
from ddbpipe.server.service_context import ServiceContext, tags_of

__all__ = ["LIST_PAGE", "MAX_DESCRIBE_PIPELINES", "pipeline_operations"]

LIST_PAGE = 100
MAX_DESCRIBE_PIPELINES = 25
_DESCRIBE = "datapipeline:DescribePipelines"


def pipeline_operations(ctx: ServiceContext) -> list[Operation]:
    """The handlers of the pipeline operations over ``ctx``."""

    def create_keys(call: Call) -> list[AuthorizationKeys]:
        tags = tags_of(call.input.get("tags", []))
        return [AuthorizationKeys(request_tags=tags, pipeline_tags=tags)]

    def create(call: Call) -> dict[str, Any]:
        tags = tags_of(call.input.get("tags", []))
        pipeline_id = ctx.engine.create_pipeline(
            call.input["name"],
            call.input["uniqueId"],
            description=call.input.get("description"),
            tags=tags,
            creator=call.caller.user_id,
        )
        return {"pipelineId": pipeline_id}

    def one_keys(call: Call) -> list[AuthorizationKeys]:
        return [ctx.keys(call.input["pipelineId"])]

    def delete(call: Call) -> None:
        pipeline_id = call.input["pipelineId"]
        ctx.summary(pipeline_id)
        ctx.board.withdraw(pipeline_id)
        ctx.scheduler.forget(pipeline_id, "the pipeline was deleted")
        ctx.engine.delete_pipeline(pipeline_id)

    def listing(call: Call) -> dict[str, Any]:
        marker = call.input.get("marker") or None
        after: tuple[str, str] | None = None
        if marker is not None:
            created, _, previous = marker.partition("|")
            if not previous:
                raise ApiError(ErrorCode.INVALID_REQUEST, f"Invalid marker '{marker}'")
            after = (created, previous)
        visible: list[dict[str, str]] = []
        last: tuple[str, str] | None = None
        more = False
        for item in ctx.engine.state.pipeline_summaries():
            if after is not None and (item.created, item.pipeline_id) <= after:
                continue
            if not call.is_allowed(ctx.summary_keys(item), action=_DESCRIBE):
                continue
            if len(visible) == LIST_PAGE:
                more = True
                break
            visible.append({"id": item.pipeline_id, "name": item.name})
            last = (item.created, item.pipeline_id)
        response: dict[str, Any] = {"pipelineIdList": visible, "hasMoreResults": more}
        if more and last is not None:
            response["marker"] = f"{last[0]}|{last[1]}"
        return response

    def describe_keys(call: Call) -> list[AuthorizationKeys]:
        ids = call.input["pipelineIds"]
        if len(ids) > MAX_DESCRIBE_PIPELINES:
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                f"DescribePipelines takes at most {MAX_DESCRIBE_PIPELINES} pipeline ids, "
                f"not {len(ids)}",
            )
        return [ctx.keys(pipeline_id) for pipeline_id in ids]

    def describe(call: Call) -> dict[str, Any]:
        account = ctx.store.account_id
        return {
            "pipelineDescriptionList": [
                ctx.engine.describe_pipeline(pipeline_id, account_id=account)
                for pipeline_id in call.input["pipelineIds"]
            ]
        }

    def add_tags_keys(call: Call) -> list[AuthorizationKeys]:
        tags = tags_of(call.input["tags"])
        return [ctx.keys(call.input["pipelineId"], request_tags=tags)]

    def add_tags(call: Call) -> None:
        ctx.engine.add_tags(call.input["pipelineId"], tags_of(call.input["tags"]))

    def remove_tags_keys(call: Call) -> list[AuthorizationKeys]:
        removed = tuple(call.input["tagKeys"])
        return [ctx.keys(call.input["pipelineId"], extra={"aws:TagKeys": removed})]

    def remove_tags(call: Call) -> None:
        ctx.engine.remove_tags(call.input["pipelineId"], call.input["tagKeys"])

    return [
        Operation("CreatePipeline", create, keys=create_keys),
        Operation("DeletePipeline", delete, keys=one_keys),
        Operation("ListPipelines", listing),
        Operation("DescribePipelines", describe, keys=describe_keys),
        Operation("AddTags", add_tags, keys=add_tags_keys),
        Operation("RemoveTags", remove_tags, keys=remove_tags_keys),
    ]
