"""convert: between the Data Pipeline format, DYNAMODB_JSON and ION, items and bytes kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbpipe.backups.opener import open_backup
from ddbpipe.errors import ConfigError, NotABackupError
from ddbpipe.formats.datapipeline import encode_items
from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.transfer.convert import convert_backup
from tests.support.native import EXPORT_TIME, write_native_export
from tests.support.samples import V1_DATA_FILES, V1_EXPORT
from tests.support.tables import every_type_item


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


def test_datapipeline_to_dynamodb_json_to_ion_and_back_keeps_every_line(tmp_path: Path) -> None:
    json_export = convert_backup(str(V1_EXPORT), str(tmp_path / "json"), "dynamodb-json")
    ion_export = convert_backup(json_export.folder, str(tmp_path / "ion"), "ion")
    assert ion_export.items == 5
    ion_backup = open_backup(ion_export.folder)
    assert ion_backup.format == "ion"
    assert ion_backup.summary is not None
    assert ion_backup.summary.output_format == "ION"
    assert all(f.key.endswith(".ion.gz") for f in ion_backup.files)
    back = convert_backup(ion_export.folder, str(tmp_path / "back"), "datapipeline")
    original = sorted(line for path in V1_DATA_FILES for line in path.read_bytes().splitlines())
    assert data_lines(back.folder) == original  # byte for byte, item by item


def test_lines_ddbpipe_wrote_come_back_byte_for_byte(tmp_path: Path) -> None:
    items = [every_type_item(n) for n in range(25)]
    (tmp_path / "dp").mkdir()
    (tmp_path / "dp" / "part-0").write_bytes(encode_items(items))
    folder = str(tmp_path / "dp")
    for step, to_format in enumerate(("dynamodb-json", "ion", "datapipeline")):
        folder = convert_backup(folder, str(tmp_path / f"step{step}"), to_format).folder
    assert data_lines(folder) == sorted(encode_items(items).splitlines())


def test_every_type_survives_ion(tmp_path: Path) -> None:
    items = [every_type_item(n) for n in range(30)]
    write_native_export(tmp_path / "src", [items[:10], items[10:]])
    converted = convert_backup(str(tmp_path / "src"), str(tmp_path / "ion"), "ion")
    backup = open_backup(converted.folder)
    assert [i for f in backup.files for _, i in backup.iter_items(f)] == items


def test_an_incremental_export_is_not_converted(tmp_path: Path) -> None:
    change = ChangeRecord(keys={"pk": {"S": "a"}}, new_image=None, old_image=None)
    write_native_export(tmp_path, [[change]], window=(EXPORT_TIME, "2022-11-12T05:30:50.456Z"))
    with pytest.raises(NotABackupError, match="incremental export"):
        convert_backup(str(tmp_path), str(tmp_path / "out"), "ion")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format must be one of"):
        convert_backup(str(V1_EXPORT), str(tmp_path), "csv")


def test_csv_files_convert_with_every_column_a_string(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_bytes(b'id,note\n1,"a, b"\n2,\n')
    converted = convert_backup(str(tmp_path / "rows.csv"), str(tmp_path / "out"), "dynamodb-json")
    backup = open_backup(converted.folder)
    assert [i for f in backup.files for _, i in backup.iter_items(f)] == [
        {"id": {"S": "1"}, "note": {"S": "a, b"}},
        {"id": {"S": "2"}},
    ]
