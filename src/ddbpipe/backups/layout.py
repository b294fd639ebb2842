"""The layout of a backup folder: names of folders, markers and data files, per format.

The codecs own the names of what they encode (``manifest`` and ``_SUCCESS`` in
``formats.datapipeline``, ``manifest-summary.json`` and ``manifest-files.json`` in
``formats.ddbjson``); this module holds every other name: DynamoDB's native layout
(``AWSDynamoDB/<ExportId>/data/``, ``_started``, the ``.md5`` files) and the files ddbpipe
adds to a folder (``_table.json``, ``_checkpoint.json``). A Data Pipeline run folder is
named ``<YYYY-MM-dd-HH-mm-ss>``; a native export ``AWSDynamoDB/<ExportId>``.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime

from ddbpipe.formats.datapipeline import MANIFEST_NAME, SUCCESS_NAME
from ddbpipe.formats.ddbjson import MANIFEST_FILES_NAME, MANIFEST_SUMMARY_NAME
from ddbpipe.formats.detect import FORMAT_ION, NATIVE_FORMATS

__all__ = [
    "CHECKPOINT_NAME",
    "DATAPIPELINE_MARKERS",
    "NATIVE_DATA_FOLDER",
    "NATIVE_DATA_SUFFIXES",
    "NATIVE_MARKERS",
    "NATIVE_ROOT",
    "NATIVE_STARTED_NAME",
    "RUN_FORMAT",
    "TABLE_SIDECAR_NAME",
    "checksum_name",
    "data_file_name",
    "is_native_data_key",
    "native_export_id",
    "run_folder_name",
]

TABLE_SIDECAR_NAME = "_table.json"
"""ddbpipe's description of the exported table and the export's counts; files starting
with ``_`` are ignored by Data Pipeline's importer, so the folder stays importable."""
CHECKPOINT_NAME = "_checkpoint.json"
"""Progress of an unfinished export; gone once the folder is finished."""
RUN_FORMAT = "%Y-%m-%d-%H-%M-%S"
"""A Data Pipeline run folder's name: the template's ``YYYY-MM-dd-HH-mm-ss``."""

NATIVE_ROOT = "AWSDynamoDB"
NATIVE_DATA_FOLDER = "data"
NATIVE_STARTED_NAME = "_started"
NATIVE_DATA_SUFFIXES = (".json.gz", ".ion.gz")
NATIVE_MARKERS = (MANIFEST_SUMMARY_NAME, MANIFEST_FILES_NAME, NATIVE_STARTED_NAME)
"""Files whose presence says a folder is a native export, finished or not."""
DATAPIPELINE_MARKERS = (MANIFEST_NAME, SUCCESS_NAME)


def run_folder_name(started: datetime, format: str) -> str:
    """The folder a run started at ``started`` writes, relative to its destination."""
    if format in NATIVE_FORMATS:
        return f"{NATIVE_ROOT}/{native_export_id(started)}"
    return started.strftime(RUN_FORMAT)


def native_export_id(started: datetime) -> str:
    """``<14-digit epoch milliseconds>-<8 hex>``, the shape of DynamoDB's ExportId."""
    milliseconds = int(started.timestamp() * 1000)
    return f"{milliseconds:014d}-{secrets.token_hex(4)}"


def data_file_name(format: str) -> str:
    """A new data file's key: a UUID (Data Pipeline), or ``data/`` + 26 base32 characters
    + ``.json.gz`` or ``.ion.gz`` (DynamoDB's native export)."""
    if format in NATIVE_FORMATS:
        name = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()
        suffix = NATIVE_DATA_SUFFIXES[1] if format == FORMAT_ION else NATIVE_DATA_SUFFIXES[0]
        return f"{NATIVE_DATA_FOLDER}/{name}{suffix}"
    return str(uuid.uuid4())


def is_native_data_key(key: str) -> bool:
    """Whether ``key`` (relative to an export's folder) names a native data file."""
    folder, _, name = key.rpartition("/")
    return folder == NATIVE_DATA_FOLDER and name.endswith(NATIVE_DATA_SUFFIXES)


def checksum_name(manifest_name: str) -> str:
    """The ``.md5`` file beside a native manifest: ``manifest-files.json`` ->
    ``manifest-files.md5``."""
    return f"{manifest_name.removesuffix('.json')}.md5"
