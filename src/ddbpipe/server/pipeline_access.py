"""What a pipeline may do, decided by IAM policies: at activation for the caller, at run
time for the role its work runs as; and which local folders it may use.

**At activation** (ActivatePipeline, and SetStatus RERUN, which runs work again), the
caller needs, besides ``datapipeline:<Operation>``:

1. ``iam:PassRole`` on ``arn:aws:iam::ACCOUNT:role/NAME`` for every ``role`` and
   ``resourceRole`` the pipeline's objects name (``DataPipelineDefaultRole`` and
   ``DataPipelineDefaultResourceRole`` when they name none), with
   ``iam:PassedToService`` ``datapipeline.amazonaws.com``; each role must exist;
2. the table actions of every job the pipeline's activities will run, on
   ``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME``: ``dynamodb:DescribeTable`` and
   ``dynamodb:Scan`` for an export, ``dynamodb:DescribeTable`` and
   ``dynamodb:BatchWriteItem`` for an import. NAME is the job's table, from the
   evaluated ``DynamoDBDataNode.tableName`` (with the activation's parameter values);
   REGION the region the job runs in: the data node's ``region``, else its
   ``EmrCluster``'s, else the server's;
3. ``elasticmapreduce:RunJobFlow`` on ``*`` when an activity runs on an ``EmrCluster``,
   with the pipeline's tags as ``elasticmapreduce:RequestTag/<key>`` (and
   ``aws:RequestTag/<key>``, ``aws:TagKeys``): the service copies a pipeline's tags to
   the clusters it starts, which is what the DynamoDB guide's EMR policy checks.

A refusal is ``AccessDeniedException`` naming the user, the action and the resource;
nothing is activated.

**At run time** the work of an activity is done as the role the service's work ran as:
the ``resourceRole`` of the ``EmrCluster`` the activity runs on (the role of the
cluster's instances, which ran the export and import steps), else the activity's own
``resourceRole`` (inherited from ``Default``, as the templates set it), else
``DataPipelineDefaultResourceRole``. ``RoleAccess`` checks every job against that
role's policies before it runs: the table actions above, and for an S3 folder
``s3:ListBucket`` on ``arn:aws:s3:::BUCKET`` with ``s3:GetObject`` (and ``s3:PutObject``
for an export) on ``arn:aws:s3:::BUCKET/PREFIX/*``; an S3 log folder needs
``s3:PutObject`` there too. A refusal fails the attempt for good, with the same
sentence.

**Local folders**: a path without a scheme or a ``file:`` URL in ``directoryPath``,
``filePath``, ``pipelineLogUri``, ``s3Key`` or ``s3Prefix`` (or a job's) must lie under
the server's ``--local-root`` (``check_local_path``); it needs no S3 permission. They are
checked when a definition is saved (as far as its values let them be rendered), at
activation, and again before each job runs, which runs on the resolved path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ddbpipe.errors import AccessDeniedError, ConfigError, DdbpipeError, FatalError
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.definition import PipelineDefinition
from ddbpipe.pipeline.evaluation import FieldEvaluator, RuntimeFields
from ddbpipe.pipeline.expressions import ExpressionError, Value
from ddbpipe.pipeline.ids import instance_id
from ddbpipe.pipeline.jobs import JobPlan, job_plans
from ddbpipe.pipeline.objects import ObjectGraph
from ddbpipe.pipeline.parameters import resolve_parameters
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.steps import ExportStep
from ddbpipe.server.authorization import AuthorizationKeys, Caller, RequestFacts, decide
from ddbpipe.server.clock import Clock
from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.local_paths import check_local_path
from ddbpipe.server.policy import access_denied_message
from ddbpipe.server.principals import Principal, iam_arn
from ddbpipe.stores import split_s3_url

__all__ = [
    "DEFAULT_RESOURCE_ROLE",
    "DEFAULT_ROLE",
    "LOCAL_PATH_FIELDS",
    "PASSED_TO_SERVICE",
    "Requirement",
    "RoleAccess",
    "RoleAccessDeniedError",
    "activation_requirements",
    "check_activation",
    "check_definition_paths",
    "definition_path_problems",
    "is_local",
    "job_requirements",
]

DEFAULT_ROLE = "DataPipelineDefaultRole"
DEFAULT_RESOURCE_ROLE = "DataPipelineDefaultResourceRole"
PASSED_TO_SERVICE = "datapipeline.amazonaws.com"
LOCAL_PATH_FIELDS = ("directoryPath", "filePath", "pipelineLogUri", "s3Key", "s3Prefix")
"""Fields that name a folder or file: S3, or a local path under the local root."""

_EXPORT_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Scan")
_IMPORT_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:BatchWriteItem")


class RoleAccessDeniedError(AccessDeniedError):
    """A role's policies refuse an action a job needs; the message is IAM's sentence."""

    def __init__(self, message: str, action: str, resource: str) -> None:
        self.action = action
        self.resource = resource
        FatalError.__init__(self, message)


@dataclass(frozen=True)
class Requirement:
    """An action on a resource that a pipeline needs, with the condition keys it
    brings (``keys.resource`` is the resource)."""

    action: str
    keys: AuthorizationKeys

    @property
    def resource(self) -> str:
        """The resource the action is checked on."""
        return self.keys.resource


def is_local(location: str) -> bool:
    """Whether ``location`` names this machine's files (a path, a ``file:`` URL) rather
    than a store reached by URL."""
    return location.lower().startswith("file:") or "://" not in location


def _table_arn(region: str, account_id: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account_id}:table/{table}"


def _s3_requirements(url: str, *, write: bool, log: bool = False) -> list[Requirement]:
    bucket, prefix = split_s3_url(url)
    objects = f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"
    listed = AuthorizationKeys(
        resource=f"arn:aws:s3:::{bucket}", extra={"s3:prefix": f"{prefix}/" if prefix else ""}
    )
    found = [] if log else [Requirement("s3:ListBucket", listed)]
    if not log:
        found.append(Requirement("s3:GetObject", AuthorizationKeys(resource=objects)))
    if write or log:
        found.append(Requirement("s3:PutObject", AuthorizationKeys(resource=objects)))
    return found


def job_requirements(
    job: JobPlan, *, region: str, account_id: str, with_s3: bool = True
) -> list[Requirement]:
    """What running ``job`` needs: its table actions, and (``with_s3``) its S3 folder's."""
    step = job.job
    arn = _table_arn(job.region or region, account_id, step.table)
    actions = _EXPORT_ACTIONS if isinstance(step, ExportStep) else _IMPORT_ACTIONS
    found = [Requirement(action, AuthorizationKeys(resource=arn)) for action in actions]
    if with_s3 and not is_local(step.path):
        found += _s3_requirements(step.path, write=isinstance(step, ExportStep))
    return found


def _denied(principal: Principal, facts: RequestFacts, requirement: Requirement) -> str | None:
    decision = decide(facts, requirement.action, requirement.keys)
    return None if decision.allowed else access_denied_message(principal.arn, decision)


# --- activation -------------------------------------------------------------------------


def _first_runtime(plan: PipelinePlan, component_id: str, now: datetime) -> dict[str, Value]:
    component = plan.components[component_id]
    start, end = now, now
    if component.schedule.kind != "ondemand" and component.schedule.start is not None:
        start, end = component.schedule.interval(0)
    runtime = plan.runtime(start, end)
    runtime["@id"] = instance_id(component_id, start)
    return runtime


def _roles(plan: PipelinePlan) -> list[str]:
    names: dict[str, None] = {}
    runtime: RuntimeFields = {"@pipelineId": plan.pipeline_id}
    for component_id in plan.components:
        for key, default in (("role", DEFAULT_ROLE), ("resourceRole", DEFAULT_RESOURCE_ROLE)):
            try:
                values = plan.evaluator.field(component_id, key, runtime)
            except (ExpressionError, KeyError):
                values = ()
            names.update(dict.fromkeys(values or (default,)))
    return list(names)


def activation_jobs(
    plan: PipelinePlan, config: RunnerConfig, now: datetime
) -> list[tuple[str, JobPlan]]:
    """Every job the pipeline's activities run, rendered for their first instance, as
    ``(activity id, job)``; ``ConfigError`` when one cannot be read."""
    found = []
    for component_id, component in plan.components.items():
        if component.kind != "activity":
            continue
        try:
            jobs = job_plans(plan, component_id, _first_runtime(plan, component_id, now), config)
        except (ExpressionError, KeyError) as exc:
            raise ConfigError(f"activity {component_id!r}: {exc}") from None
        found += [(component_id, job) for job in jobs]
    return found


def activation_requirements(
    plan: PipelinePlan,
    *,
    account_id: str,
    region: str,
    tags: Mapping[str, str],
    config: RunnerConfig,
    now: datetime,
) -> list[Requirement]:
    """What the caller needs to activate ``plan`` (see the module doc), in the order
    they are checked."""
    found = [
        Requirement(
            "iam:PassRole",
            AuthorizationKeys(
                resource=iam_arn(account_id, "role", role),
                extra={"iam:PassedToService": PASSED_TO_SERVICE},
            ),
        )
        for role in _roles(plan)
    ]
    seen: set[tuple[str, str]] = set()
    for _, job in activation_jobs(plan, config, now):
        for requirement in job_requirements(
            job, region=region, account_id=account_id, with_s3=False
        ):
            if (requirement.action, requirement.resource) not in seen:
                seen.add((requirement.action, requirement.resource))
                found.append(requirement)
    if any(c.runs_on is not None for c in plan.components.values() if c.kind == "activity"):
        emr_tags = {f"elasticmapreduce:RequestTag/{key}": value for key, value in tags.items()}
        found.append(
            Requirement(
                "elasticmapreduce:RunJobFlow",
                AuthorizationKeys(request_tags=dict(tags), extra=emr_tags),
            )
        )
    return found


def check_activation(
    facts: RequestFacts,
    plan: PipelinePlan,
    store: IdentityStore,
    *,
    region: str,
    tags: Mapping[str, str],
    config: RunnerConfig,
    local_root: Path | None,
    now: datetime,
) -> None:
    """Refuse (``ApiError``) an activation of ``plan`` that the caller may not make or
    whose roles or local folders are not allowed (see the module doc)."""
    account_id = store.account_id
    requirements = activation_requirements(
        plan, account_id=account_id, region=region, tags=tags, config=config, now=now
    )
    for requirement in requirements:
        refusal = _denied(facts.caller.principal, facts, requirement)
        if refusal is not None:
            raise ApiError(ErrorCode.ACCESS_DENIED, refusal)
    for role in _roles(plan):
        try:
            store.principal("role", role)
        except DdbpipeError:
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                f"Role '{role}' does not exist on this server: pipelines run as the roles "
                "they name (add it with ddbpipe roles add)",
            ) from None
    check_definition_paths(plan.definition, local_root, now=now, evaluator=plan.evaluator)
    for _, job in activation_jobs(plan, config, now):
        if is_local(job.job.path):
            check_local_path(job.job.path, local_root)


# --- local folders of a definition ---------------------------------------------------------


def _literal_prefix(text: str) -> str:
    index = text.find("#{")
    return text if index < 0 else text[:index]


def definition_path_problems(
    definition: PipelineDefinition,
    local_root: Path | None,
    *,
    now: datetime,
    evaluator: FieldEvaluator | None = None,
) -> dict[str, list[str]]:
    """Local folders of ``definition`` that the server refuses, by object id, as the
    service words validation errors. A field is rendered with the definition's
    parameters where it can be; otherwise the text before its first expression is
    checked."""
    if evaluator is None:
        try:
            scope = resolve_parameters(definition).scope_values()
        except ConfigError:
            scope = {}
        evaluator = FieldEvaluator(ObjectGraph(definition), scope)
    runtime: RuntimeFields = {
        "@pipelineId": "df-CHECK",
        "@scheduledStartTime": now,
        "@scheduledEndTime": now,
    }
    problems: dict[str, list[str]] = {}
    for item in definition.objects:
        for key in LOCAL_PATH_FIELDS:
            texts = [entry.value for entry in item.fields if entry.key == key and not entry.is_ref]
            if not texts:
                continue
            for value in _rendered_or_prefixes(evaluator, item.id, key, texts, runtime):
                if not value or not is_local(value):
                    continue
                try:
                    check_local_path(value, local_root)
                except ApiError as error:
                    problems.setdefault(item.id, []).append(
                        f"INVALID_FIELD_VALUE: '{key}': {error.message}"
                    )
    return problems


def _rendered_or_prefixes(
    evaluator: FieldEvaluator,
    object_id: str,
    key: str,
    texts: Sequence[str],
    runtime: RuntimeFields,
) -> Iterable[str]:
    """The field's values rendered, or, when they cannot be yet, the text of each
    before its first expression."""
    try:
        return evaluator.field(object_id, key, runtime)
    except (ExpressionError, KeyError):
        return [_literal_prefix(text) for text in texts]


def check_definition_paths(
    definition: PipelineDefinition,
    local_root: Path | None,
    *,
    now: datetime,
    evaluator: FieldEvaluator | None = None,
) -> None:
    """Refuse (``ApiError``, ``InvalidRequestException``) a definition naming a local
    folder outside the local root."""
    problems = definition_path_problems(definition, local_root, now=now, evaluator=evaluator)
    if problems:
        text = "; ".join(
            f"{key}: {message}" for key, items in problems.items() for message in items
        )
        raise ApiError(ErrorCode.INVALID_REQUEST, f"Pipeline definition has errors: {text}")


# --- run time ---------------------------------------------------------------------------------


class RoleAccess:
    """The server's ``JobAccess``: jobs are checked against the policies of the role
    they run as, and local folders against the local root (see the module doc)."""

    def __init__(
        self,
        store: IdentityStore,
        *,
        region: str,
        local_root: Path | None,
        clock: Clock,
    ) -> None:
        self.store = store
        self.region = region
        self.local_root = local_root
        self.clock = clock

    def role_of(self, plan: PipelinePlan, activity_id: str) -> str:
        """The role the work of ``activity_id`` runs as."""
        runtime: RuntimeFields = {"@pipelineId": plan.pipeline_id}
        activity = plan.graph[activity_id]
        holders = [*plan.graph.follow(activity, "runsOn"), activity]
        for holder in holders:
            try:
                values = plan.evaluator.field(holder.id, "resourceRole", runtime)
            except (ExpressionError, KeyError):
                continue
            if values and values[0]:
                return values[0]
        return DEFAULT_RESOURCE_ROLE

    def _local(self, path: str) -> str:
        try:
            return str(check_local_path(path, self.local_root))
        except ApiError as error:
            raise ConfigError(error.message) from None

    def jobs(
        self, plan: PipelinePlan, activity_id: str, jobs: Sequence[JobPlan], log_url: str | None
    ) -> Sequence[JobPlan]:
        """The jobs with their local paths resolved; ``RoleAccessDeniedError`` when the
        role refuses one of their actions, ``ConfigError`` for a folder outside the
        local root."""
        role = self.role_of(plan, activity_id)
        try:
            principal = self.store.principal("role", role)
        except DdbpipeError:
            raise ConfigError(
                f"role {role!r}, which activity {activity_id!r} runs as, does not exist"
            ) from None
        facts = RequestFacts(Caller(principal, ""), self.clock.now())
        account_id = principal.account_id
        requirements: list[Requirement] = []
        for job in jobs:
            requirements += job_requirements(job, region=self.region, account_id=account_id)
        if log_url and not is_local(log_url):
            requirements += _s3_requirements(log_url.rpartition("/")[0], write=True, log=True)
        for requirement in requirements:
            refusal = _denied(principal, facts, requirement)
            if refusal is not None:
                raise RoleAccessDeniedError(refusal, requirement.action, requirement.resource)
        resolved = []
        for job in jobs:
            step = job.job
            if is_local(step.path):
                step = replace(step, path=self._local(step.path))
            resolved.append(replace(job, job=step))
        return resolved

    def log_root(self, root: str) -> str:
        """A local log root resolved under the local root (``ConfigError`` outside it);
        an S3 one as it is."""
        return self._local(root) if is_local(root) else root
