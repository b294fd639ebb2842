"""What the server can reach, for the Tables and Backups pages and the restore check:
the DynamoDB tables at its endpoint, and the backups under the administrator's backup
prefixes.

Table descriptions are kept for ``TABLE_CACHE_SECONDS`` so that the pages stay fast with
many tables; backups are found by walking each prefix a few folders deep for folders
that hold a manifest (a Data Pipeline export) or a manifest summary (a native export).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ddbpipe.backups.layout import TABLE_SIDECAR_NAME
from ddbpipe.backups.opener import open_backup
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.table import TableInfo, describe_table, table_info
from ddbpipe.errors import DdbpipeError
from ddbpipe.formats.datapipeline import MANIFEST_NAME, SUCCESS_NAME
from ddbpipe.formats.ddbjson import MANIFEST_SUMMARY_NAME
from ddbpipe.stores import Store, StoreConfig, open_store

__all__ = [
    "BACKUP_DEPTH",
    "TABLE_CACHE_SECONDS",
    "BackupEntry",
    "KeyCheck",
    "TableCatalog",
    "find_backups",
    "key_schema_check",
]

TABLE_CACHE_SECONDS = 10.0
BACKUP_DEPTH = 4
MAX_BACKUPS = 500


class TableCatalog:
    """The tables at the server's DynamoDB endpoint, described, cached a few seconds."""

    def __init__(
        self, config: DynamoConfig, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._client: DynamoClient | None = None
        self._tables: tuple[float, list[TableInfo]] | None = None

    def _dynamo(self) -> DynamoClient:
        with self._lock:
            if self._client is None:
                self._client = DynamoClient.from_config(self.config)
            return self._client

    @property
    def region(self) -> str:
        """The region the tables are in."""
        return self._dynamo().region

    def tables(self) -> list[TableInfo]:
        """Every table, described, by name."""
        with self._lock:
            cached = self._tables
        if cached is not None and self.monotonic() - cached[0] < TABLE_CACHE_SECONDS:
            return cached[1]
        client = self._dynamo()
        names: list[str] = []
        start: str | None = None
        while True:
            params: dict[str, Any] = {"Limit": 100}
            if start:
                params["ExclusiveStartTableName"] = start
            page = client.call("ListTables", params)
            names += page.get("TableNames", [])
            start = page.get("LastEvaluatedTableName")
            if not start:
                break
        found = []
        for name in sorted(names):
            try:
                found.append(describe_table(client, name))
            except DdbpipeError:
                continue  # deleted meanwhile
        with self._lock:
            self._tables = (self.monotonic(), found)
        return found

    def table(self, name: str) -> TableInfo:
        """One table, described now; ``TableNotFoundError`` when it does not exist."""
        return describe_table(self._dynamo(), name)


@dataclass(frozen=True)
class BackupEntry:
    """A backup folder under a backup prefix, as its markers and ``_table.json`` say."""

    url: str
    prefix: str
    table: str | None
    items: int | None
    format: str
    date: str | None
    complete: bool


def _sidecar(store: Store) -> dict[str, Any] | None:
    try:
        data = orjson.loads(store.read_bytes(TABLE_SIDECAR_NAME))
    except (DdbpipeError, orjson.JSONDecodeError, OSError):
        return None
    return data if isinstance(data, dict) else None


def _entry(store: Store, prefix: str, names: set[str], config: StoreConfig) -> BackupEntry:
    sidecar = _sidecar(store) if TABLE_SIDECAR_NAME in names else None
    table = (sidecar or {}).get("table", {}).get("TableName")
    export = (sidecar or {}).get("export", {})
    items = export.get("items") if isinstance(export.get("items"), int) else None
    date = export.get("ended") or export.get("started")
    fmt = str(export.get("format") or "")
    if not fmt:
        try:
            fmt = open_backup(store, config).format
        except DdbpipeError:
            fmt = "unknown"
    if not date:
        date = store.url.rstrip("/").rpartition("/")[2]
    return BackupEntry(
        url=store.url,
        prefix=prefix,
        table=table if isinstance(table, str) else None,
        items=items,
        format=fmt,
        date=str(date),
        complete=SUCCESS_NAME in names or MANIFEST_SUMMARY_NAME in names,
    )


def find_backups(
    prefix: str, config: StoreConfig, *, depth: int = BACKUP_DEPTH
) -> list[BackupEntry]:
    """The backups under ``prefix`` (a URL or a resolved local folder), newest first."""
    found: list[BackupEntry] = []

    def walk(store: Store, level: int) -> None:
        if len(found) >= MAX_BACKUPS:
            return
        try:
            listing = store.list_dir()
        except DdbpipeError:
            return
        names = {info.key for info in listing.files}
        if MANIFEST_NAME in names or MANIFEST_SUMMARY_NAME in names:
            found.append(_entry(store, prefix, names, config))
            return
        if level >= depth:
            return
        for folder in sorted(listing.folders):
            walk(store.child(folder), level + 1)

    walk(open_store(prefix, config), 0)
    found.sort(key=lambda entry: entry.date or "", reverse=True)
    return found


@dataclass(frozen=True)
class KeyCheck:
    """The backup's key schema against a table's: ``matches`` None when it cannot be
    told (no ``_table.json``, no such table)."""

    matches: bool | None
    message: str


def key_schema_check(backup_url: str, table: TableInfo | None, config: StoreConfig) -> KeyCheck:
    """Compare the key schema of the backup at ``backup_url`` with ``table``'s."""
    try:
        description = open_backup(backup_url, config).table_description()
    except DdbpipeError as error:
        return KeyCheck(None, f"The backup cannot be read: {error}")
    if description is None:
        return KeyCheck(None, "The backup has no _table.json: its key schema is not known.")
    theirs = table_info({**description, "TableName": description.get("TableName", "?")})
    if table is None:
        return KeyCheck(
            None, f"The backup's key is {theirs.key_schema.describe()}; choose a target table."
        )
    if theirs.key_schema == table.key_schema:
        return KeyCheck(
            True, f"Key schema matches: {table.name} has key {table.key_schema.describe()}."
        )
    return KeyCheck(
        False,
        f"Key schema does not match: the backup has key {theirs.key_schema.describe()}, "
        f"table {table.name} has key {table.key_schema.describe()}.",
    )
