"""Preconditions: checks that must hold before a data node is ready or an activity runs.

- ``S3KeyExists``: the object ``s3Key`` exists;
- ``S3PrefixNotEmpty``: something lies under ``s3Prefix``;
- ``DynamoDBTableExists``: the table ``tableName`` exists;
- ``DynamoDBDataExists``: the table ``tableName`` holds at least one item.

Their fields are rendered for the instance that waits on them (``#{node.…}`` names
it). The S3 ones take local paths too. A DynamoDB check uses the region of the node it
guards when that is a DynamoDB data node with a ``region``, else the command's. A check
that cannot be made (access denied, a missing bucket) raises; a table or folder that is
missing is a check that is not met.
"""

from __future__ import annotations

from dataclasses import replace

from ddbpipe.dynamo.client import DynamoClient
from ddbpipe.dynamo.ops import scan_page
from ddbpipe.dynamo.table import describe_table
from ddbpipe.errors import BucketNotFoundError, ConfigError, NotFoundError, TableNotFoundError
from ddbpipe.pipeline.components import PipelinePlan
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import ObjectRecord
from ddbpipe.pipeline.transitions import instance_runtime
from ddbpipe.sessions import AnySession
from ddbpipe.stores import open_store

__all__ = ["check_precondition"]


def check_precondition(
    plan: PipelinePlan,
    precondition_id: str,
    node: ObjectRecord,
    config: RunnerConfig,
    *,
    session: AnySession | None = None,
) -> bool:
    """Whether the precondition holds for the instance ``node``; raises
    ``DdbpipeError`` when it cannot be checked."""
    precondition = plan.graph[precondition_id]
    component_id = node.component_id or ""
    runtime = instance_runtime(plan, node)
    runtime.pop("@id", None)

    def field(key: str) -> str:
        values = plan.evaluator.field(precondition_id, key, runtime, node_id=component_id)
        if not values or not values[0]:
            raise ConfigError(f"precondition {precondition_id!r} has no {key!r}")
        return values[0]

    kind = precondition.type
    if kind == "S3KeyExists":
        folder, _, name = field("s3Key").rstrip("/").rpartition("/")
        try:
            return open_store(folder, config.store, session=session).exists(name)
        except BucketNotFoundError:
            raise
        except NotFoundError:
            return False
    if kind == "S3PrefixNotEmpty":
        try:
            listing = open_store(field("s3Prefix"), config.store, session=session).list_dir()
        except BucketNotFoundError:
            raise
        except NotFoundError:
            return False
        return bool(listing.files or listing.folders)
    if kind in ("DynamoDBTableExists", "DynamoDBDataExists"):
        region = None
        guarded = plan.graph.get(component_id)
        if guarded is not None and guarded.type == "DynamoDBDataNode" and guarded.strings("region"):
            values = plan.evaluator.field(component_id, "region", runtime)
            region = values[0] if values else None
        dynamo = replace(config.dynamo, region=region or config.dynamo.region)
        client = DynamoClient.from_config(dynamo, session)
        table = field("tableName")
        try:
            if kind == "DynamoDBTableExists":
                describe_table(client, table)
                return True
            return bool(scan_page(client, table, limit=1).items)
        except TableNotFoundError:
            return False
    raise ConfigError(
        f"{kind or 'an object without a type'} {precondition_id!r} is not a precondition "
        "ddbpipe checks"
    )
