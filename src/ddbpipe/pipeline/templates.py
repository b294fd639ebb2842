"""The console's two DynamoDB templates, as ``ddbpipe pipeline template`` prints them.

Two generations of each:

- the current one (the default): ``scheduleType: ONDEMAND``, ``pipelineLogUri``, an
  EmrCluster with ``releaseLabel``, and the step running the 4.11.0 emr-dynamodb-tools
  jar's ``DynamoDBExport`` / ``DynamoDBImport``;
- the 2017 one (``legacy``): a daily ``Schedule`` starting at the first activation for
  the export, ``amiVersion`` 3.9.0, and the 2.1.0 emr-ddb jar's ``DynamoDbExport`` /
  ``DynamoDbImport``, exactly as the console wrote them.

Given tables, the export template exports each of them (one pair of data nodes and one
activity per table, every activity on the one cluster, each table's files under
``<myOutputS3Loc>/<table>/``), as the console's export did; the import loads one table
at a time, as the console's did. One table is filled in as the value of
``myDDBTableName``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any, Literal

from ddbpipe.errors import ConfigError

__all__ = ["TemplateKind", "console_template"]

TemplateKind = Literal["export", "import"]

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")

_EXPORT: dict[str, Any] = {
    "objects": [
        {
            "id": "Default",
            "name": "Default",
            "failureAndRerunMode": "CASCADE",
            "resourceRole": "DataPipelineDefaultResourceRole",
            "role": "DataPipelineDefaultRole",
            "pipelineLogUri": "#{myPipelineLogUri}",
            "scheduleType": "ONDEMAND",
        },
        {
            "id": "DDBSourceTable",
            "name": "DDBSourceTable",
            "type": "DynamoDBDataNode",
            "tableName": "#{myDDBTableName}",
            "readThroughputPercent": "#{myDDBReadThroughputRatio}",
        },
        {
            "id": "S3BackupLocation",
            "name": "S3BackupLocation",
            "type": "S3DataNode",
            "directoryPath": (
                "#{myOutputS3Loc}/#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
            ),
        },
        {
            "id": "EmrClusterForBackup",
            "name": "EmrClusterForBackup",
            "type": "EmrCluster",
            "releaseLabel": "emr-5.23.0",
            "masterInstanceType": "m4.xlarge",
            "coreInstanceType": "m4.xlarge",
            "coreInstanceCount": "1",
            "taskInstanceType": "m4.xlarge",
            "taskInstanceCount": "1",
            "region": "#{myDDBRegion}",
        },
        {
            "id": "TableBackupActivity",
            "name": "TableBackupActivity",
            "type": "EmrActivity",
            "input": {"ref": "DDBSourceTable"},
            "output": {"ref": "S3BackupLocation"},
            "runsOn": {"ref": "EmrClusterForBackup"},
            "resizeClusterBeforeRunning": "false",
            "maximumRetries": "2",
            "step": [
                (
                    "s3://dynamodb-dpl-#{myDDBRegion}/emr-ddb-storage-handler/4.11.0/"
                    "emr-dynamodb-tools-4.11.0-SNAPSHOT-jar-with-dependencies.jar,"
                    "org.apache.hadoop.dynamodb.tools.DynamoDBExport,#{output.directoryPath},"
                    "#{input.tableName},#{input.readThroughputPercent}"
                )
            ],
        },
    ],
    "parameters": [
        {"id": "myOutputS3Loc", "type": "AWS::S3::ObjectKey", "description": "Output S3 folder"},
        {"id": "myDDBTableName", "type": "String", "description": "Source DynamoDB table name"},
        {
            "id": "myDDBReadThroughputRatio",
            "type": "Double",
            "description": "DynamoDB read throughput ratio",
            "default": "0.25",
            "watermark": "Enter value between 0.1-1.0",
        },
        {
            "id": "myDDBRegion",
            "type": "String",
            "description": "Region of the DynamoDB table",
            "default": "us-east-1",
            "watermark": "us-east-1",
        },
        {
            "id": "myPipelineLogUri",
            "type": "AWS::S3::ObjectKey",
            "description": "S3 folder for logs",
        },
    ],
}

_IMPORT: dict[str, Any] = {
    "objects": [
        {
            "id": "Default",
            "name": "Default",
            "failureAndRerunMode": "CASCADE",
            "resourceRole": "DataPipelineDefaultResourceRole",
            "role": "DataPipelineDefaultRole",
            "pipelineLogUri": "#{myPipelineLogUri}",
            "scheduleType": "ONDEMAND",
        },
        {
            "id": "DDBDestinationTable",
            "name": "DDBDestinationTable",
            "type": "DynamoDBDataNode",
            "tableName": "#{myDDBTableName}",
            "writeThroughputPercent": "#{myDDBWriteThroughputRatio}",
        },
        {
            "id": "S3InputDataNode",
            "name": "S3InputDataNode",
            "type": "S3DataNode",
            "directoryPath": "#{myInputS3Loc}",
        },
        {
            "id": "EmrClusterForLoad",
            "name": "EmrClusterForLoad",
            "type": "EmrCluster",
            "releaseLabel": "emr-5.23.0",
            "masterInstanceType": "m4.xlarge",
            "coreInstanceType": "m4.xlarge",
            "coreInstanceCount": "1",
            "region": "#{myDDBRegion}",
        },
        {
            "id": "TableLoadActivity",
            "name": "TableLoadActivity",
            "type": "EmrActivity",
            "runsOn": {"ref": "EmrClusterForLoad"},
            "input": {"ref": "S3InputDataNode"},
            "output": {"ref": "DDBDestinationTable"},
            "maximumRetries": "2",
            "resizeClusterBeforeRunning": "false",
            "step": [
                (
                    "s3://dynamodb-dpl-#{myDDBRegion}/emr-ddb-storage-handler/4.11.0/"
                    "emr-dynamodb-tools-4.11.0-SNAPSHOT-jar-with-dependencies.jar,"
                    "org.apache.hadoop.dynamodb.tools.DynamoDBImport,#{input.directoryPath},"
                    "#{output.tableName},#{output.writeThroughputPercent}"
                )
            ],
        },
    ],
    "parameters": [
        {
            "id": "myDDBRegion",
            "type": "String",
            "description": "Region of the DynamoDB table",
            "default": "us-east-1",
            "watermark": "us-east-1",
        },
        {"id": "myDDBTableName", "type": "String", "description": "Target DynamoDB table name"},
        {
            "id": "myDDBWriteThroughputRatio",
            "type": "Double",
            "description": "DynamoDB write throughput ratio",
            "default": "0.25",
            "watermark": "Enter value between 0.1-1.0",
        },
        {"id": "myInputS3Loc", "type": "AWS::S3::ObjectKey", "description": "Input S3 folder"},
        {
            "id": "myPipelineLogUri",
            "type": "AWS::S3::ObjectKey",
            "description": "S3 folder for logs",
        },
    ],
}

_EXPORT_2017: dict[str, Any] = {
    "metadata": {
        "templateName": "Export DynamoDB table to S3 (Map Reduce job)",
        "templateDescription": (
            "This template schedules an Amazon Elastic MapReduce (EMR) cluster to export data "
            "from a DynamoDB table to an Amazon S3 folder. The files are stored in timestamped "
            "YYYY-MM-dd-HH-mm-ss subfolders in the DynamoDB export format on each scheduled "
            "day of execution."
        ),
    },
    "objects": [
        {
            "id": "SchedulePeriod",
            "name": "SchedulePeriod",
            "type": "Schedule",
            "startAt": "FIRST_ACTIVATION_DATE_TIME",
            "period": "#{myDDBSchedulePeriod}",
        },
        {
            "id": "Default",
            "name": "Default",
            "scheduleType": "CRON",
            "schedule": {"ref": "SchedulePeriod"},
            "failureAndRerunMode": "CASCADE",
            "role": "DataPipelineDefaultRole",
            "resourceRole": "DataPipelineDefaultResourceRole",
        },
        {
            "id": "DDBSourceTable",
            "name": "DDBSourceTable",
            "type": "DynamoDBDataNode",
            "tableName": "#{myDDBTableName}",
            "readThroughputPercent": "#{myDDBReadThroughputRatio}",
        },
        {
            "id": "S3BackupLocation",
            "name": "S3BackupLocation",
            "type": "S3DataNode",
            "directoryPath": (
                "#{myOutputS3Loc}/#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
            ),
        },
        {
            "id": "EmrClusterForBackup",
            "name": "EmrClusterForBackup",
            "type": "EmrCluster",
            "amiVersion": "3.9.0",
            "masterInstanceType": "m3.xlarge",
            "coreInstanceType": "m3.xlarge",
            "coreInstanceCount": "1",
            "region": "#{myDDBRegion}",
            "bootstrapAction": [
                (
                    "s3://#{myDDBRegion}.elasticmapreduce/bootstrap-actions/configure-hadoop, "
                    "--yarn-key-value,yarn.nodemanager.resource.memory-mb=11520,--yarn-key-value,"
                    "yarn.scheduler.maximum-allocation-mb=11520,--yarn-key-value,"
                    "yarn.scheduler.minimum-allocation-mb=1440,--yarn-key-value,"
                    "yarn.app.mapreduce.am.resource.mb=2880,--mapred-key-value,"
                    "mapreduce.map.memory.mb=5760,--mapred-key-value,"
                    "mapreduce.map.java.opts=-Xmx4608M,--mapred-key-value,"
                    "mapreduce.reduce.memory.mb=2880,--mapred-key-value,"
                    "mapreduce.reduce.java.opts=-Xmx2304m,--mapred-key-value,"
                    "mapreduce.map.speculative=false"
                )
            ],
        },
        {
            "id": "TableBackupActivity",
            "name": "TableBackupActivity",
            "type": "EmrActivity",
            "input": {"ref": "DDBSourceTable"},
            "output": {"ref": "S3BackupLocation"},
            "runsOn": {"ref": "EmrClusterForBackup"},
            "resizeClusterBeforeRunning": "true",
            "maximumRetries": "2",
            "step": [
                (
                    "s3://dynamodb-emr-#{myDDBRegion}/emr-ddb-storage-handler/2.1.0/"
                    "emr-ddb-2.1.0.jar,org.apache.hadoop.dynamodb.tools.DynamoDbExport,"
                    "#{output.directoryPath},#{input.tableName},#{input.readThroughputPercent}"
                )
            ],
        },
    ],
    "parameters": [
        {
            "id": "myDDBRegion",
            "type": "String",
            "description": "Region of the DynamoDB table",
            "default": "us-east-1",
            "watermark": "us-east-1",
        },
        {"id": "myDDBTableName", "type": "String", "description": "Source DynamoDB table name"},
        {
            "id": "myDDBReadThroughputRatio",
            "type": "Double",
            "description": "DynamoDB read throughput ratio",
            "default": "0.25",
            "watermark": "Enter value between 0.1-1.0",
        },
        {"id": "myOutputS3Loc", "type": "AWS::S3::ObjectKey", "description": "Output S3 folder"},
        {
            "id": "myDDBSchedulePeriod",
            "type": "String",
            "description": "DynamoDB schedule period",
            "default": "1 day",
        },
    ],
}

_IMPORT_2017: dict[str, Any] = {
    "metadata": {
        "templateName": "Import DynamoDB backup data from S3 (MapReduce job)",
        "templateDescription": (
            "This template schedules an Amazon Elastic MapReduce (EMR) cluster to load a "
            "previously created DynamoDB backup in Amazon S3 to a DynamoDB table. Existing "
            "items in the DynamoDB table will be updated with those from the backup data and "
            "new items will be added to the table.  This has been modified from the original "
            "template to run on demand instead of daily."
        ),
    },
    "objects": [
        {
            "id": "Default",
            "name": "Default",
            "scheduleType": "ondemand",
            "failureAndRerunMode": "CASCADE",
            "role": "DataPipelineDefaultRole",
            "resourceRole": "DataPipelineDefaultResourceRole",
        },
        {
            "id": "DDBDestinationTable",
            "name": "DDBDestinationTable",
            "type": "DynamoDBDataNode",
            "tableName": "#{myDDBTableName}",
            "writeThroughputPercent": "#{myDDBWriteThroughputRatio}",
        },
        {
            "id": "S3InputDataNode",
            "name": "S3InputDataNode",
            "type": "S3DataNode",
            "directoryPath": "#{myInputS3Loc}",
        },
        {
            "id": "EmrClusterForLoad",
            "name": "EmrClusterForLoad",
            "type": "EmrCluster",
            "amiVersion": "3.9.0",
            "masterInstanceType": "m3.xlarge",
            "coreInstanceType": "m3.xlarge",
            "coreInstanceCount": "1",
            "region": "#{myDDBRegion}",
            "bootstrapAction": [
                (
                    "s3://#{myDDBRegion}.elasticmapreduce/bootstrap-actions/configure-hadoop, "
                    "--mapred-key-value,mapreduce.map.speculative=false"
                )
            ],
        },
        {
            "id": "TableLoadActivity",
            "name": "TableLoadActivity",
            "type": "EmrActivity",
            "runsOn": {"ref": "EmrClusterForLoad"},
            "input": {"ref": "S3InputDataNode"},
            "output": {"ref": "DDBDestinationTable"},
            "maximumRetries": "2",
            "resizeClusterBeforeRunning": "true",
            "step": [
                (
                    "s3://dynamodb-emr-#{myDDBRegion}/emr-ddb-storage-handler/2.1.0/"
                    "emr-ddb-2.1.0.jar,org.apache.hadoop.dynamodb.tools.DynamoDbImport,"
                    "#{input.directoryPath},#{output.tableName},#{output.writeThroughputPercent}"
                )
            ],
        },
    ],
    "parameters": [
        {
            "id": "myDDBRegion",
            "type": "String",
            "description": "Region of the DynamoDB table",
            "default": "us-east-1",
            "watermark": "us-east-1",
        },
        {"id": "myDDBTableName", "type": "String", "description": "Target DynamoDB table name"},
        {
            "id": "myDDBWriteThroughputRatio",
            "type": "Double",
            "description": "DynamoDB write throughput ratio",
            "default": "0.25",
            "watermark": "Enter value between 0.1-1.0",
        },
        {"id": "myInputS3Loc", "type": "AWS::S3::ObjectKey", "description": "Input S3 folder"},
    ],
}


def console_template(
    kind: TemplateKind, tables: Sequence[str] = (), *, legacy: bool = False
) -> dict[str, Any]:
    """The console template ``kind`` (file form), for ``tables`` when given."""
    if kind == "export":
        template = copy.deepcopy(_EXPORT_2017 if legacy else _EXPORT)
    elif kind == "import":
        template = copy.deepcopy(_IMPORT_2017 if legacy else _IMPORT)
    else:
        raise ConfigError(f"the templates are export and import, not {kind!r}")
    bad = [table for table in tables if not _TABLE_NAME.fullmatch(table)]
    if bad:
        raise ConfigError([f"{table!r} is not a DynamoDB table name" for table in bad])
    if len(set(tables)) != len(tables):
        raise ConfigError("a table is named twice")
    if len(tables) == 1:
        template["values"] = {"myDDBTableName": tables[0]}
    elif len(tables) > 1:
        if kind == "import":
            raise ConfigError("the import template loads one table at a time; give one --table")
        _export_each(template, tables)
    return template


def _export_each(template: dict[str, Any], tables: Sequence[str]) -> None:
    """One source node, backup location and activity per table, sharing the cluster."""
    objects: list[dict[str, Any]] = template["objects"]
    by_id = {item["id"]: item for item in objects}
    source = by_id["DDBSourceTable"]
    location = by_id["S3BackupLocation"]
    activity = by_id["TableBackupActivity"]
    shared = [item for item in objects if item not in (source, location, activity)]
    added: list[dict[str, Any]] = []
    for table in tables:
        node_id, folder_id, work_id = (
            f"{item['id']}_{table}" for item in (source, location, activity)
        )
        added += [
            {**source, "id": node_id, "name": node_id, "tableName": table},
            {
                **location,
                "id": folder_id,
                "name": folder_id,
                "directoryPath": location["directoryPath"].replace(
                    "#{myOutputS3Loc}/", f"#{{myOutputS3Loc}}/{table}/"
                ),
            },
            {
                **activity,
                "id": work_id,
                "name": work_id,
                "input": {"ref": node_id},
                "output": {"ref": folder_id},
            },
        ]
    template["objects"] = shared + added
    template["parameters"] = [p for p in template["parameters"] if p["id"] != "myDDBTableName"]
