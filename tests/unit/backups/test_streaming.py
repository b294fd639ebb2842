"""Reading a backup holds one chunk and one page of items at a time, whatever the file size."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from ddbpipe.backups.opener import open_backup
from ddbpipe.formats.datapipeline import encode_item
from ddbpipe.stores.local import LocalStore

LINES = 60_000


def test_memory_stays_flat_while_reading_a_large_file(tmp_path: Path) -> None:
    line = encode_item(
        {"pk": {"S": "x" * 200}, "n": {"N": "123.45"}, "l": {"L": [{"S": "y" * 100}]}}
    )
    with (tmp_path / "part").open("wb") as out:
        for _ in range(LINES):
            out.write(line)
    size = (tmp_path / "part").stat().st_size
    assert size > 20_000_000
    backup = open_backup(LocalStore(tmp_path))
    tracemalloc.start()
    try:
        count = sum(1 for _ in backup.iter_items(backup.files[0]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == LINES
    # A 1 MiB chunk, its split lines and one item: a few MB, not the 21 MB file.
    assert peak < 8_000_000, f"peak {peak:,} bytes while reading {size:,}"
