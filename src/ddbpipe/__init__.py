"""ddbpipe: move DynamoDB tables to and from S3, in the Data Pipeline backup format and
DynamoDB's native formats.

Every public name is imported on first use, so that a command loads only what it runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ddbpipe._version import __version__

if TYPE_CHECKING:
    from ddbpipe.backups import Backup, BackupChain, BackupFile, PlainFiles, open_backup, open_chain
    from ddbpipe.dynamo.client import DynamoConfig
    from ddbpipe.errors import (
        DdbpipeError,
        PausedError,
        PipelineBusyError,
        PipelineInvalidError,
        PipelineNotFoundError,
        ResumePoint,
        TableOutcome,
    )
    from ddbpipe.formats.csv import CsvOptions
    from ddbpipe.formats.datapipeline import Manifest
    from ddbpipe.formats.ddbjson import ManifestSummary
    from ddbpipe.pipeline.clock import Clock, SystemClock
    from ddbpipe.pipeline.definition import (
        Field,
        ParameterAttribute,
        ParameterObject,
        ParameterValue,
        PipelineDefinition,
        PipelineObject,
        load_definition,
    )
    from ddbpipe.pipeline.engine import PipelineEngine
    from ddbpipe.pipeline.jobs import JobAccess
    from ddbpipe.pipeline.run import (
        InstanceResult,
        PipelineRunResult,
        resume_pipeline,
        run_pipeline,
    )
    from ddbpipe.pipeline.runner import PipelineRunner, RunEvent, TaskOffers
    from ddbpipe.pipeline.settings import RunnerConfig
    from ddbpipe.pipeline.state import StateStore
    from ddbpipe.pipeline.validation import ValidationResult, validate_definition
    from ddbpipe.retry import RetryPolicy
    from ddbpipe.sessions import StaticCredentials
    from ddbpipe.stores import Store, StoreConfig, open_store
    from ddbpipe.transfer.cancel import CancelToken, StopFlag
    from ddbpipe.transfer.convert import ConvertResult, convert_backup
    from ddbpipe.transfer.export import (
        ExportConfig,
        ExportResult,
        export_table,
        export_tables,
        resume_export,
    )
    from ddbpipe.transfer.imports import ImportConfig, ImportResult, import_table
    from ddbpipe.transfer.inspect import BackupReport, FileReport, inspect_backup
    from ddbpipe.transfer.progress import JobProgress

__all__ = [
    "Backup",
    "BackupChain",
    "BackupFile",
    "BackupReport",
    "CancelToken",
    "Clock",
    "ConvertResult",
    "CsvOptions",
    "DdbpipeError",
    "DynamoConfig",
    "ExportConfig",
    "ExportResult",
    "Field",
    "FileReport",
    "ImportConfig",
    "ImportResult",
    "InstanceResult",
    "JobAccess",
    "JobProgress",
    "Manifest",
    "ManifestSummary",
    "ParameterAttribute",
    "ParameterObject",
    "ParameterValue",
    "PausedError",
    "PipelineBusyError",
    "PipelineDefinition",
    "PipelineEngine",
    "PipelineInvalidError",
    "PipelineNotFoundError",
    "PipelineObject",
    "PipelineRunResult",
    "PipelineRunner",
    "PlainFiles",
    "ResumePoint",
    "RetryPolicy",
    "RunEvent",
    "RunnerConfig",
    "StateStore",
    "StaticCredentials",
    "StopFlag",
    "Store",
    "StoreConfig",
    "SystemClock",
    "TableOutcome",
    "TaskOffers",
    "ValidationResult",
    "__version__",
    "convert_backup",
    "export_table",
    "export_tables",
    "import_table",
    "inspect_backup",
    "load_definition",
    "open_backup",
    "open_chain",
    "open_store",
    "resume_export",
    "resume_pipeline",
    "run_pipeline",
    "validate_definition",
]


# Where each public name lives: the modules named in the imports above.
_MODULES = {
    "Backup": "ddbpipe.backups",
    "BackupChain": "ddbpipe.backups",
    "BackupFile": "ddbpipe.backups",
    "PlainFiles": "ddbpipe.backups",
    "open_backup": "ddbpipe.backups",
    "open_chain": "ddbpipe.backups",
    "DynamoConfig": "ddbpipe.dynamo.client",
    "DdbpipeError": "ddbpipe.errors",
    "PausedError": "ddbpipe.errors",
    "PipelineBusyError": "ddbpipe.errors",
    "PipelineInvalidError": "ddbpipe.errors",
    "PipelineNotFoundError": "ddbpipe.errors",
    "ResumePoint": "ddbpipe.errors",
    "TableOutcome": "ddbpipe.errors",
    "CsvOptions": "ddbpipe.formats.csv",
    "Manifest": "ddbpipe.formats.datapipeline",
    "ManifestSummary": "ddbpipe.formats.ddbjson",
    "Clock": "ddbpipe.pipeline.clock",
    "SystemClock": "ddbpipe.pipeline.clock",
    "Field": "ddbpipe.pipeline.definition",
    "ParameterAttribute": "ddbpipe.pipeline.definition",
    "ParameterObject": "ddbpipe.pipeline.definition",
    "ParameterValue": "ddbpipe.pipeline.definition",
    "PipelineDefinition": "ddbpipe.pipeline.definition",
    "PipelineObject": "ddbpipe.pipeline.definition",
    "load_definition": "ddbpipe.pipeline.definition",
    "PipelineEngine": "ddbpipe.pipeline.engine",
    "JobAccess": "ddbpipe.pipeline.jobs",
    "InstanceResult": "ddbpipe.pipeline.run",
    "PipelineRunResult": "ddbpipe.pipeline.run",
    "resume_pipeline": "ddbpipe.pipeline.run",
    "run_pipeline": "ddbpipe.pipeline.run",
    "PipelineRunner": "ddbpipe.pipeline.runner",
    "RunEvent": "ddbpipe.pipeline.runner",
    "TaskOffers": "ddbpipe.pipeline.runner",
    "RunnerConfig": "ddbpipe.pipeline.settings",
    "StateStore": "ddbpipe.pipeline.state",
    "ValidationResult": "ddbpipe.pipeline.validation",
    "validate_definition": "ddbpipe.pipeline.validation",
    "RetryPolicy": "ddbpipe.retry",
    "StaticCredentials": "ddbpipe.sessions",
    "Store": "ddbpipe.stores",
    "StoreConfig": "ddbpipe.stores",
    "open_store": "ddbpipe.stores",
    "CancelToken": "ddbpipe.transfer.cancel",
    "StopFlag": "ddbpipe.transfer.cancel",
    "ConvertResult": "ddbpipe.transfer.convert",
    "convert_backup": "ddbpipe.transfer.convert",
    "ExportConfig": "ddbpipe.transfer.export",
    "ExportResult": "ddbpipe.transfer.export",
    "export_table": "ddbpipe.transfer.export",
    "export_tables": "ddbpipe.transfer.export",
    "resume_export": "ddbpipe.transfer.export",
    "ImportConfig": "ddbpipe.transfer.imports",
    "ImportResult": "ddbpipe.transfer.imports",
    "import_table": "ddbpipe.transfer.imports",
    "BackupReport": "ddbpipe.transfer.inspect",
    "FileReport": "ddbpipe.transfer.inspect",
    "inspect_backup": "ddbpipe.transfer.inspect",
    "JobProgress": "ddbpipe.transfer.progress",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'ddbpipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
