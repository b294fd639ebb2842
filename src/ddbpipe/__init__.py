"""ddbpipe: move DynamoDB tables to and from S3, in the Data Pipeline backup format."""

from ddbpipe._version import __version__
from ddbpipe.errors import DdbpipeError
from ddbpipe.stores import Store, StoreConfig, open_store
from ddbpipe.transfer.backup import Backup, BackupFile, open_backup
from ddbpipe.transfer.inspect import BackupReport, FileReport, inspect_backup

__all__ = [
    "Backup",
    "BackupFile",
    "BackupReport",
    "DdbpipeError",
    "FileReport",
    "Store",
    "StoreConfig",
    "__version__",
    "inspect_backup",
    "open_backup",
    "open_store",
]
