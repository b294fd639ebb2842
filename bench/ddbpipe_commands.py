"""The ``ddbpipe`` command lines the benchmarks run against dynalite."""

from __future__ import annotations

from pathlib import Path

from processes import REGION, REPO

DDBPIPE = REPO / ".venv" / "bin" / "ddbpipe"


def export_cmd(url: str, table: str, dest: Path, *extra: str) -> list[str]:
    """``ddbpipe export`` of ``table`` into the folder ``dest``, all of the read rate allowed."""
    cmd = [str(DDBPIPE), "export", table, str(dest), "--endpoint-url", url]
    cmd += ["--region", REGION, "--read-ratio", "1", "--max-rcu", "1000000"]
    return [*cmd, *extra]


def import_cmd(url: str, folder: Path, table: str, *extra: str) -> list[str]:
    """``ddbpipe import`` of the backup in ``folder`` into ``table``, all of the write rate
    allowed."""
    cmd = [str(DDBPIPE), "import", str(folder), table]
    cmd += ["--endpoint-url", url, "--region", REGION]
    cmd += ["--write-ratio", "1", "--max-wcu", "1000000"]
    return [*cmd, *extra]
