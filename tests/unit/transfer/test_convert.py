"""convert: between the Data Pipeline format and DYNAMODB_JSON, items and bytes kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.transfer.backup import open_backup
from ddbpipe.transfer.convert import convert_backup
from tests.support.samples import V1_DATA_FILES, V1_EXPORT


def data_lines(folder: str) -> list[bytes]:
    backup = open_backup(folder)
    return sorted(line for f in backup.files for _, line in backup.lines(f))


def test_datapipeline_to_native_and_back_keeps_every_line(tmp_path: Path) -> None:
    native = convert_backup(
        str(V1_EXPORT), str(tmp_path / "native"), "dynamodb-json", max_items_per_file=2
    )
    assert native.items == 5
    assert Path(native.folder).parent.name == "AWSDynamoDB"
    assert len(native.files) == 3  # 2 + 2 + 1 items
    assert open_backup(native.folder).format == "dynamodb-json"
    back = convert_backup(str(tmp_path / "native"), str(tmp_path / "back"), "datapipeline")
    assert back.items == 5
    original = sorted(line for path in V1_DATA_FILES for line in path.read_bytes().splitlines())
    assert data_lines(back.folder) == original  # byte for byte, item by item
    assert (Path(back.folder) / "_SUCCESS").exists()


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format must be one of"):
        convert_backup(str(V1_EXPORT), str(tmp_path), "csv")
