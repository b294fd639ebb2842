"""What a backup is: the layout of each format, opening a folder or prefix, chains of
exports, reading data files, writing parts and finishing a folder."""

from ddbpipe.backups.chain import BackupChain, open_chain
from ddbpipe.backups.opener import Backup, PlainFiles, open_backup, require_complete
from ddbpipe.backups.output import (
    FolderIdentity,
    ensure_new_folder,
    finish_folder,
    manifest_url,
    start_folder,
    table_arn_of,
)
from ddbpipe.backups.parts import Part, PartSink
from ddbpipe.backups.reader import BackupFile, FileReader, RecordFormat

__all__ = [
    "Backup",
    "BackupChain",
    "BackupFile",
    "FileReader",
    "FolderIdentity",
    "Part",
    "PartSink",
    "PlainFiles",
    "RecordFormat",
    "ensure_new_folder",
    "finish_folder",
    "manifest_url",
    "open_backup",
    "open_chain",
    "require_complete",
    "start_folder",
    "table_arn_of",
]
