"""A full native export and the incremental exports that follow it, in the order to apply.

DynamoDB writes every export of a table under one ``AWSDynamoDB/`` prefix. Restoring
the table as of the last export means the newest full export, then each incremental
export whose window continues from there: an incremental export of ``[from, to)``
applies to a table as of any time ``t`` with ``from <= t < to``, and leaves it as of
``to``. A gap between windows is an error; incremental exports that end before the full
export's time are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddbpipe.backups.opener import Backup, PlainFiles, open_backup
from ddbpipe.errors import NotABackupError, SeveralExportsError
from ddbpipe.sessions import AnySession
from ddbpipe.stores import StoreConfig, open_store

__all__ = ["BackupChain", "open_chain"]


@dataclass(frozen=True)
class BackupChain:
    """Backups to apply one after the other, and the exports left out (with why)."""

    url: str
    backups: tuple[Backup, ...]
    left_out: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Bytes of data in every backup's data files."""
        return sum(b.size for b in self.backups)


def open_chain(
    location: str,
    config: StoreConfig | None = None,
    *,
    session: AnySession | None = None,
    plain: PlainFiles | None = None,
) -> BackupChain:
    """The backup at ``location``; for a prefix holding several native exports, the
    newest full export and the incremental exports that continue it, in order."""
    try:
        backup = open_backup(location, config, session=session, plain=plain)
    except SeveralExportsError as several:
        root = open_store(several.root_url, config, session=session)
        url = open_store(location, config, session=session).url
        return _chain(url, [open_backup(root.child(e)) for e in several.exports])
    return BackupChain(backup.url, (backup,))


def _time(backup: Backup) -> str:
    assert backup.summary is not None
    return backup.summary.export_time or backup.summary.start_time


def _window(backup: Backup) -> tuple[str, str]:
    summary = backup.summary
    assert summary is not None
    if summary.export_from_time is None or summary.export_to_time is None:
        raise NotABackupError(
            f"{backup.url} is an incremental export without exportFromTime/exportToTime"
        )
    return summary.export_from_time, summary.export_to_time


def _refuse_several_tables(url: str, backups: list[Backup]) -> None:
    """Exports of several tables under one prefix: which to apply is for the user to say."""
    folders: dict[str, list[str]] = {}
    for backup in backups:
        assert backup.summary is not None
        folders.setdefault(backup.summary.table_arn, []).append(backup.url)
    if len(folders) > 1:
        shown = "; ".join(
            f"{arn.rpartition('/')[2] or arn}: {', '.join(urls)}"
            for arn, urls in sorted(folders.items())
        )
        raise NotABackupError(
            f"{url} holds exports of {len(folders)} tables ({shown}); point at the export "
            "folder of the one to read"
        )


def _chain(url: str, backups: list[Backup]) -> BackupChain:
    _refuse_several_tables(url, backups)
    fulls = sorted((b for b in backups if not b.changes), key=_time)
    incrementals = sorted((b for b in backups if b.changes), key=_window)
    chain: list[Backup] = []
    left_out: list[str] = []
    if fulls:
        chain.append(fulls[-1])
        reached = _time(fulls[-1])
        left_out.extend(f"{b.url} (an older full export)" for b in fulls[:-1])
    else:
        reached = _window(incrementals[0])[0]
    for backup in incrementals:
        start, end = _window(backup)
        if end <= reached:
            left_out.append(f"{backup.url} (its window ends at {end}, before {reached})")
        elif start <= reached:
            chain.append(backup)
            reached = end
        else:
            raise NotABackupError(
                f"{url}: the exports there reach {reached}, but the next incremental export "
                f"({backup.url}) starts at {start}; the changes in between are missing"
            )
    return BackupChain(url, tuple(chain), tuple(left_out))
