"""ddbpipe: move DynamoDB tables to and from S3, in the Data Pipeline backup format and
DynamoDB's native formats."""

from ddbpipe._version import __version__
from ddbpipe.backups.chain import BackupChain, open_chain
from ddbpipe.backups.opener import Backup, BackupFile, PlainFiles, open_backup
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import DdbpipeError
from ddbpipe.formats.csv import CsvOptions
from ddbpipe.stores import Store, StoreConfig, open_store
from ddbpipe.transfer.convert import ConvertResult, convert_backup
from ddbpipe.transfer.export import (
    ExportConfig,
    ExportProgress,
    ExportResult,
    export_table,
    export_tables,
    resume_export,
)
from ddbpipe.transfer.imports import ImportConfig, ImportProgress, ImportResult, import_table
from ddbpipe.transfer.inspect import BackupReport, FileReport, inspect_backup

__all__ = [
    "Backup",
    "BackupChain",
    "BackupFile",
    "BackupReport",
    "ConvertResult",
    "CsvOptions",
    "DdbpipeError",
    "DynamoConfig",
    "ExportConfig",
    "ExportProgress",
    "ExportResult",
    "FileReport",
    "ImportConfig",
    "ImportProgress",
    "ImportResult",
    "PlainFiles",
    "Store",
    "StoreConfig",
    "__version__",
    "convert_backup",
    "export_table",
    "export_tables",
    "import_table",
    "inspect_backup",
    "open_backup",
    "open_chain",
    "open_store",
    "resume_export",
]
