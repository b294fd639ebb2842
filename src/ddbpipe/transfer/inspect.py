"""Count and check what a backup holds, file by file.

Verifying parses every line, and finds what an import would refuse that can be known
without a table: items over DynamoDB's 400 KB, and — with the backup's ``_table.json`` —
key attributes missing or of the wrong type, and index key attributes of the wrong type
or empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ddbpipe.backups.opener import Backup
from ddbpipe.backups.reader import BackupFile, FileReader
from ddbpipe.dynamo.table import table_info
from ddbpipe.errors import DataError, DdbpipeError, ItemError
from ddbpipe.formats.lines import LineStats
from ddbpipe.items import MAX_ITEM_SIZE, Item, KeySchema, check_index_keys, check_key, item_size
from ddbpipe.wording import plural

__all__ = ["MAX_PROBLEMS_PER_FILE", "BackupReport", "FileReport", "inspect_backup"]

MAX_PROBLEMS_PER_FILE = 20


@dataclass
class FileReport:
    """One data file: items found, blank lines skipped, and what was wrong."""

    file: BackupFile
    items: int = 0
    blank_lines: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0


@dataclass
class BackupReport:
    """A whole backup: per-file reports, plus problems and warnings of the folder."""

    backup: Backup
    verified: bool
    files: list[FileReport]
    problems: list[str]
    warnings: list[str]

    @property
    def items(self) -> int:
        """Items in every data file."""
        return sum(f.items for f in self.files)

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong with the backup."""
        return not self.problems and not any(f.problems for f in self.files)


def inspect_backup(
    backup: Backup, *, verify: bool = False, on_file: Callable[[FileReport], None] | None = None
) -> BackupReport:
    """Count every file's items; with ``verify``, also parse every line and check it.

    Bad lines are reported (up to 20 per file, then counted) rather than raised, so one
    run shows every damaged file.
    """
    reports: list[FileReport] = []
    checks = _ItemChecks.of(backup) if verify else None
    for file in backup.files:
        report = _inspect_file(backup, file, checks)
        reports.append(report)
        if on_file is not None:
            on_file(report)
    return BackupReport(
        backup=backup,
        verified=verify,
        files=reports,
        problems=backup.problems(),
        warnings=backup.warnings(),
    )


@dataclass(frozen=True)
class _ItemChecks:
    """What DynamoDB would refuse in an item, as far as the backup says of its table."""

    schema: KeySchema | None
    index_types: dict[str, str]

    @classmethod
    def of(cls, backup: Backup) -> _ItemChecks:
        description = backup.table_description()
        if description is None:
            return cls(None, {})
        info = table_info({**description, "TableName": description.get("TableName", "?")})
        return cls(info.key_schema, info.index_key_types())

    def check(self, item: Item, record: bytes) -> None:
        if len(record) > MAX_ITEM_SIZE and (size := item_size(item)) > MAX_ITEM_SIZE:
            raise ItemError(f"item is {size} bytes; DynamoDB's limit is {MAX_ITEM_SIZE}")
        if self.schema is not None:
            check_key(item, self.schema)
        check_index_keys(item, self.index_types)


def _inspect_file(backup: Backup, file: BackupFile, checks: _ItemChecks | None) -> FileReport:
    report = FileReport(file)
    stats = LineStats()
    try:
        reader = backup.reader(file, stats)
        for number, line in reader:
            report.items += 1
            if checks is None:
                continue
            try:
                _verify(reader, line, number, checks, backup.changes)
            except DataError as exc:
                report.items -= 1
                if len(report.problems) < MAX_PROBLEMS_PER_FILE:
                    report.problems.append(str(exc.located(file.url, number)))
                else:
                    report.more_problems += 1
    except DataError as exc:
        report.problems.append(str(exc))
    except DdbpipeError as exc:
        report.problems.append(f"{file.url}: cannot be read: {exc}")
    report.blank_lines = stats.blank_lines
    if checks is not None and stats.blank_lines:
        shown = ", ".join(str(n) for n in stats.blank_line_numbers[:5])
        report.problems.append(
            f"{file.url}: {plural(stats.blank_lines, 'blank line')} (line {shown}); Data "
            "Pipeline's importer fails on blank lines, ddbpipe skips them"
        )
    return report


def _verify(
    reader: FileReader, record: bytes, number: int, checks: _ItemChecks, changes: bool
) -> None:
    if not changes:
        checks.check(reader.item(record, number), record)
        return
    change = reader.change(record, number)
    if checks.schema is not None:
        check_key(change.keys, checks.schema)
    if change.new_image is not None:
        checks.check(change.new_image, record)
