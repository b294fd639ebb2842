"""ddbpipe: move DynamoDB tables to and from S3, in the Data Pipeline backup format and
DynamoDB's native formats."""

from ddbpipe._version import __version__
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
from ddbpipe.pipeline.run import InstanceResult, PipelineRunResult, resume_pipeline, run_pipeline
from ddbpipe.pipeline.runner import PipelineRunner, RunEvent
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
