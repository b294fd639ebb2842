"""What each object type may hold: Data Pipeline's types, their fields, and what
ddbpipe can run.

The field lists are those of the Developer Guide's object reference pages for the types
ddbpipe accepts. Types of the service that ddbpipe does not run are known by name only,
so a definition that uses one gets a clear "cannot run" error rather than "unknown".
"""

from __future__ import annotations

__all__ = [
    "ACTION_TYPES",
    "ACTIVITY_TYPES",
    "ANY_FIELD",
    "DATA_FORMAT_TYPES",
    "DATA_NODE_TYPES",
    "DATA_PIPELINE_TYPES",
    "FIELDS",
    "MAX_FIELDS_PER_OBJECT",
    "MAX_FIELD_BYTES",
    "MAX_NAME_BYTES",
    "MAX_OBJECTS",
    "MAX_OBJECT_BYTES",
    "PERIOD_FIELDS",
    "PRECONDITION_TYPES",
    "REFERENCE_TARGETS",
    "REQUIRED",
    "RESOURCE_TYPES",
    "SCHEDULED_TYPES",
    "SUPPORTED_TYPES",
    "reference_targets",
]

MAX_OBJECTS = 100
MAX_FIELDS_PER_OBJECT = 50
MAX_NAME_BYTES = 256
MAX_FIELD_BYTES = 10_240
MAX_OBJECT_BYTES = 15_360

ACTIVITY_TYPES = frozenset(
    {
        "CopyActivity",
        "EmrActivity",
        "HadoopActivity",
        "HiveActivity",
        "HiveCopyActivity",
        "PigActivity",
        "RedshiftCopyActivity",
        "ShellCommandActivity",
        "SqlActivity",
    }
)
DATA_NODE_TYPES = frozenset(
    {"DynamoDBDataNode", "MySqlDataNode", "RedshiftDataNode", "S3DataNode", "SqlDataNode"}
)
RESOURCE_TYPES = frozenset({"Ec2Resource", "EmrCluster"})
PRECONDITION_TYPES = frozenset(
    {
        "DynamoDBDataExists",
        "DynamoDBTableExists",
        "Exists",
        "S3KeyExists",
        "S3PrefixNotEmpty",
        "ShellCommandPrecondition",
    }
)
ACTION_TYPES = frozenset({"SnsAlarm", "Terminate"})
DATA_FORMAT_TYPES = frozenset(
    {"CSV", "Custom", "DynamoDBDataFormat", "DynamoDBExportDataFormat", "RegEx", "TSV"}
)
_OTHER_TYPES = frozenset(
    {
        "Schedule",
        "JdbcDatabase",
        "RdsDatabase",
        "RedshiftDatabase",
        "EmrConfiguration",
        "Property",
        "ShellScriptConfig",
        "HttpProxy",
        "EbsConfiguration",
        "EbsBlockDeviceConfig",
        "VolumeSpecification",
    }
)
DATA_PIPELINE_TYPES = (
    ACTIVITY_TYPES
    | DATA_NODE_TYPES
    | RESOURCE_TYPES
    | PRECONDITION_TYPES
    | ACTION_TYPES
    | DATA_FORMAT_TYPES
    | _OTHER_TYPES
)

SUPPORTED_TYPES = frozenset(
    {
        "Schedule",
        "DynamoDBDataNode",
        "S3DataNode",
        "EmrCluster",
        "EmrActivity",
        "HiveCopyActivity",
        "DynamoDBExportDataFormat",
        "S3PrefixNotEmpty",
        "S3KeyExists",
        "DynamoDBTableExists",
        "DynamoDBDataExists",
        "SnsAlarm",
        "Terminate",
        # Settings of an EmrCluster; kept so definitions round-trip, never used.
        "EmrConfiguration",
        "Property",
    }
)

# Types that run on a schedule, so need one unless the pipeline is on demand.
SCHEDULED_TYPES = ACTIVITY_TYPES | DATA_NODE_TYPES | RESOURCE_TYPES

_RUNNABLE = frozenset(
    {
        "type",
        "parent",
        "schedule",
        "attemptStatus",
        "attemptTimeout",
        "dependsOn",
        "failureAndRerunMode",
        "lateAfterTimeout",
        "maxActiveInstances",
        "maximumRetries",
        "onFail",
        "onLateAction",
        "onSuccess",
        "pipelineLogUri",
        "precondition",
        "reportProgressTimeout",
        "retryDelay",
        "runsOn",
        "scheduleType",
        "workerGroup",
    }
)
_PRECONDITION = frozenset(
    {
        "type",
        "parent",
        "role",
        "attemptStatus",
        "attemptTimeout",
        "failureAndRerunMode",
        "lateAfterTimeout",
        "maximumRetries",
        "onFail",
        "onLateAction",
        "onSuccess",
        "preconditionTimeout",
        "reportProgressTimeout",
        "retryDelay",
    }
)
_EMR_CLUSTER = frozenset(
    {
        "actionOnResourceFailure",
        "actionOnTaskFailure",
        "additionalMasterSecurityGroupIds",
        "additionalSlaveSecurityGroupIds",
        "amiVersion",
        "applications",
        "availabilityZone",
        "bootstrapAction",
        "configuration",
        "coreEbsConfiguration",
        "coreGroupConfiguration",
        "coreInstanceBidPrice",
        "coreInstanceCount",
        "coreInstanceType",
        "customAmiId",
        "emrLogUri",
        "emrManagedMasterSecurityGroupId",
        "emrManagedSlaveSecurityGroupId",
        "enableDebugging",
        "hadoopSchedulerType",
        "hadoopVersion",
        "httpProxy",
        "initTimeout",
        "keyPair",
        "masterEbsConfiguration",
        "masterGroupConfiguration",
        "masterInstanceBidPrice",
        "masterInstanceType",
        "region",
        "releaseLabel",
        "resourceRole",
        "role",
        "securityConfiguration",
        "serviceAccessSecurityGroupId",
        "subnetId",
        "supportedProducts",
        "taskEbsConfiguration",
        "taskGroupConfiguration",
        "taskInstanceBidPrice",
        "taskInstanceCount",
        "taskInstanceType",
        "terminateAfter",
        "useOnDemandOnLastAttempt",
        "visibleToAllUsers",
    }
)

FIELDS: dict[str, frozenset[str]] = {
    "Schedule": frozenset(
        {"type", "parent", "period", "startAt", "startDateTime", "endDateTime", "occurrences"}
    ),
    "DynamoDBDataNode": _RUNNABLE
    | {"tableName", "dataFormat", "readThroughputPercent", "writeThroughputPercent", "region"},
    "S3DataNode": _RUNNABLE
    | {
        "directoryPath",
        "filePath",
        "compression",
        "dataFormat",
        "manifestFilePath",
        "s3EncryptionType",
    },
    "EmrActivity": _RUNNABLE
    | {
        "input",
        "output",
        "step",
        "preStepCommand",
        "postStepCommand",
        "resizeClusterBeforeRunning",
        "resizeClusterMaxInstances",
    },
    "HiveCopyActivity": _RUNNABLE
    | {
        "input",
        "output",
        "filterSql",
        "resizeClusterBeforeRunning",
        "resizeClusterMaxInstances",
        "preActivityTaskConfig",
        "postActivityTaskConfig",
    },
    "EmrCluster": _RUNNABLE | _EMR_CLUSTER,
    "DynamoDBExportDataFormat": frozenset({"type", "parent", "column"}),
    "S3KeyExists": _PRECONDITION | {"s3Key"},
    "S3PrefixNotEmpty": _PRECONDITION | {"s3Prefix"},
    "DynamoDBTableExists": _PRECONDITION | {"tableName"},
    "DynamoDBDataExists": _PRECONDITION | {"tableName"},
    "SnsAlarm": frozenset({"type", "parent", "message", "role", "subject", "topicArn"}),
    "Terminate": frozenset({"type", "parent"}),
    "EmrConfiguration": frozenset(
        {"type", "parent", "classification", "configuration", "property"}
    ),
    "Property": frozenset({"type", "parent", "key", "value"}),
}
# Fields the Default object (or an untyped parent) may hold: any field of any type,
# since its fields flow into every object below it.
ANY_FIELD = frozenset().union(*FIELDS.values()) | {"resourceRole", "role"}

# Fields that must be given (``(a, b)`` means one of the two).
REQUIRED: dict[str, tuple[str | tuple[str, str], ...]] = {
    "DynamoDBDataNode": ("tableName",),
    "S3DataNode": (("directoryPath", "filePath"),),
    "EmrActivity": (("runsOn", "workerGroup"), "step"),
    "HiveCopyActivity": (("runsOn", "workerGroup"), "input", "output"),
    "S3KeyExists": ("role", "s3Key"),
    "S3PrefixNotEmpty": ("role", "s3Prefix"),
    "DynamoDBTableExists": ("role", "tableName"),
    "DynamoDBDataExists": ("role", "tableName"),
    "SnsAlarm": ("message", "role", "subject", "topicArn"),
    "EmrConfiguration": ("classification",),
    "Property": ("key", "value"),
}

REFERENCE_TARGETS: dict[str, frozenset[str] | None] = {
    "parent": None,  # any object
    "schedule": frozenset({"Schedule"}),
    "runsOn": RESOURCE_TYPES,
    "input": DATA_NODE_TYPES,
    "output": DATA_NODE_TYPES,
    "precondition": PRECONDITION_TYPES,
    "onFail": ACTION_TYPES,
    "onSuccess": ACTION_TYPES,
    "onLateAction": ACTION_TYPES,
    "dependsOn": ACTIVITY_TYPES | DATA_NODE_TYPES | RESOURCE_TYPES,
    "dataFormat": DATA_FORMAT_TYPES,
    "configuration": frozenset({"EmrConfiguration"}),
    "property": frozenset({"Property"}),
    "httpProxy": frozenset({"HttpProxy"}),
    "preActivityTaskConfig": frozenset({"ShellScriptConfig"}),
    "postActivityTaskConfig": frozenset({"ShellScriptConfig"}),
    "coreEbsConfiguration": frozenset({"EbsConfiguration"}),
    "masterEbsConfiguration": frozenset({"EbsConfiguration"}),
    "taskEbsConfiguration": frozenset({"EbsConfiguration"}),
}

# Fields whose value is a Period.
PERIOD_FIELDS = frozenset(
    {
        "attemptTimeout",
        "lateAfterTimeout",
        "reportProgressTimeout",
        "retryDelay",
        "terminateAfter",
        "initTimeout",
        "preconditionTimeout",
    }
)


def reference_targets(object_type: str | None, key: str) -> frozenset[str] | None:
    """The types ``key`` of an ``object_type`` object may refer to; None for any type."""
    if key == "runsOn" and object_type in ("EmrActivity", "HiveCopyActivity"):
        return frozenset({"EmrCluster"})
    return REFERENCE_TARGETS.get(key)
