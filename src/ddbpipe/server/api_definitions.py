"""PutPipelineDefinition, ValidatePipelineDefinition, GetPipelineDefinition,
ActivatePipeline and DeactivatePipeline over the pipeline engine.

A definition is validated as the service does (``ddbpipe.pipeline.validation``): fatal
problems refuse PutPipelineDefinition with HTTP 400 ``InvalidRequestException`` in the
service's words and save nothing; other errors and warnings come back in
``validationErrors`` and ``validationWarnings`` with ``errored``. A local folder outside
the server's local root is refused the same way (``ddbpipe.server.pipeline_access``).

ActivatePipeline and DeactivatePipeline bring ``datapipeline:workerGroup`` for each
worker group the definition names (the action is checked once per group). Activation
also checks what the pipeline will do (``pipeline_access.check_activation``), in the
transaction that activates it, and wakes the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ddbpipe.errors import PipelineInvalidError
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.definition import (
    ParameterValue,
    PipelineDefinition,
    definition_from_api,
    definition_to_api,
)
from ddbpipe.pipeline.state import PipelineRecord
from ddbpipe.pipeline.validation import ValidationResult
from ddbpipe.server.authorization import AuthorizationKeys, RequestFacts
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.operations import Call, Operation
from ddbpipe.server.pipeline_access import check_activation, definition_path_problems
from ddbpipe.server.service_context import ServiceContext

__all__ = ["activation_authorizer", "definition_operations", "fatal_message"]

_VERSIONS = ("latest", "active")


def fatal_message(errors: dict[str, tuple[str, ...]]) -> str:
    """The service's text for a definition refused with fatal errors."""
    found = "; ".join(
        f"{key or '(definition)'}: {text}" for key, texts in errors.items() for text in texts
    )
    return (
        "Pipeline definition has errors: Could not save the pipeline definition due to "
        f"FATAL errors: [{found}] Please call Validate to validate your pipeline"
    )


def _definition(call: Call) -> PipelineDefinition:
    document = {
        key: call.input[key]
        for key in ("pipelineObjects", "parameterObjects", "parameterValues")
        if key in call.input
    }
    return definition_from_api(document)


def _worker_groups(definition: PipelineDefinition | None) -> list[str]:
    if definition is None:
        return []
    groups = {
        entry.value
        for item in definition.objects
        for entry in item.fields
        if entry.key == "workerGroup" and not entry.is_ref and entry.value
    }
    return sorted(groups)


def _with_paths(result: ValidationResult, problems: dict[str, list[str]]) -> ValidationResult:
    if not problems:
        return result
    errors = {key: list(values) for key, values in result.errors.items()}
    for key, values in problems.items():
        errors.setdefault(key, []).extend(values)
    return ValidationResult(
        result.fatal, {key: tuple(values) for key, values in errors.items()}, result.warnings
    )


def activation_authorizer(
    ctx: ServiceContext, call: Call
) -> Callable[[PipelinePlan, PipelineRecord], None]:
    """What checks that the caller of ``call`` may run a pipeline's plan (activation,
    SetStatus RERUN); see ``pipeline_access.check_activation``."""
    facts: RequestFacts = call.facts

    def authorize(plan: PipelinePlan, record: PipelineRecord) -> None:
        tags = {tag["key"]: tag["value"] for tag in record.tags}
        check_activation(
            facts,
            plan,
            ctx.store,
            region=ctx.config.region,
            tags=tags,
            config=ctx.runner_config,
            local_root=ctx.config.local_root,
            now=call.received_at,
        )

    return authorize


def definition_operations(ctx: ServiceContext) -> list[Operation]:
    """The handlers of the definition and activation operations over ``ctx``."""
    root = ctx.config.local_root

    def one_keys(call: Call) -> list[AuthorizationKeys]:
        return [ctx.keys(call.input["pipelineId"])]

    def group_keys(call: Call) -> list[AuthorizationKeys]:
        pipeline_id = call.input["pipelineId"]
        ctx.summary(pipeline_id)
        definition = ctx.engine.get_definition(pipeline_id)
        groups = _worker_groups(definition)
        return [ctx.keys(pipeline_id, worker_group=group) for group in groups] or [
            ctx.keys(pipeline_id)
        ]

    def put(call: Call) -> dict[str, Any]:
        pipeline_id = call.input["pipelineId"]
        definition = _definition(call)
        now = call.received_at
        problems = definition_path_problems(definition, root, now=now)
        if problems:
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                fatal_message({key: tuple(values) for key, values in problems.items()}),
            )
        try:
            result = ctx.engine.put_definition(pipeline_id, definition)
        except PipelineInvalidError as error:
            raise ApiError(ErrorCode.INVALID_REQUEST, fatal_message(error.errors)) from None
        return result.to_api()

    def validate(call: Call) -> dict[str, Any]:
        definition = _definition(call)
        result = ctx.engine.validate(call.input["pipelineId"], definition)
        problems = definition_path_problems(definition, root, now=call.received_at)
        return _with_paths(result, problems).to_api()

    def get(call: Call) -> dict[str, Any]:
        version = call.input.get("version") or "latest"
        if version not in _VERSIONS:
            raise ApiError(
                ErrorCode.INVALID_REQUEST, f"version must be latest or active, not '{version}'"
            )
        definition = ctx.engine.get_definition(
            call.input["pipelineId"], "active" if version == "active" else "latest"
        )
        if definition is None:
            return {"pipelineObjects": []}
        return definition_to_api(definition)

    def activate(call: Call) -> None:
        pipeline_id = call.input["pipelineId"]
        raw: Sequence[dict[str, str]] | None = call.input.get("parameterValues")
        values = None
        if raw is not None:
            values = [ParameterValue(item["id"], item["stringValue"]) for item in raw]
        try:
            ctx.engine.activate(
                pipeline_id,
                parameter_values=values,
                start_timestamp=call.input.get("startTimestamp"),
                authorize=activation_authorizer(ctx, call),
            )
        except PipelineInvalidError as error:
            found = "; ".join(
                f"{key or '(definition)'}: {text}"
                for key, texts in error.errors.items()
                for text in texts
            )
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                f"Pipeline definition has errors: {found}. Please call Validate to validate "
                "your pipeline",
            ) from None
        ctx.scheduler.wake(pipeline_id)

    def deactivate(call: Call) -> None:
        pipeline_id = call.input["pipelineId"]
        cancel = call.input.get("cancelActive")
        ctx.engine.deactivate(pipeline_id, cancel_active=True if cancel is None else cancel)
        ctx.scheduler.wake(pipeline_id)

    return [
        Operation("PutPipelineDefinition", put, keys=one_keys),
        Operation("ValidatePipelineDefinition", validate, keys=one_keys),
        Operation("GetPipelineDefinition", get, keys=one_keys),
        Operation("ActivatePipeline", activate, keys=group_keys),
        Operation("DeactivatePipeline", deactivate, keys=group_keys),
    ]
