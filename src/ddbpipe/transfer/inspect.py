"""Count and check what a backup holds, file by file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ddbpipe.backups.opener import Backup
from ddbpipe.backups.reader import BackupFile
from ddbpipe.errors import DataError, DdbpipeError
from ddbpipe.formats.lines import LineStats

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
    for file in backup.files:
        report = _inspect_file(backup, file, verify)
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


def _inspect_file(backup: Backup, file: BackupFile, verify: bool) -> FileReport:
    report = FileReport(file)
    stats = LineStats()
    try:
        reader = backup.reader(file, stats)
        decode = reader.change if backup.changes else reader.item
        for number, line in reader:
            report.items += 1
            if not verify:
                continue
            try:
                decode(line, number)
            except DataError as exc:
                report.items -= 1
                if len(report.problems) < MAX_PROBLEMS_PER_FILE:
                    report.problems.append(str(exc))
                else:
                    report.more_problems += 1
    except DataError as exc:
        report.problems.append(str(exc))
    except DdbpipeError as exc:
        report.problems.append(f"{file.url}: cannot be read: {exc}")
    report.blank_lines = stats.blank_lines
    if verify and stats.blank_lines:
        shown = ", ".join(str(n) for n in stats.blank_line_numbers[:5])
        report.problems.append(
            f"{file.url}: {stats.blank_lines} blank line(s) (line {shown}); Data Pipeline's "
            "importer fails on blank lines, ddbpipe skips them"
        )
    return report
