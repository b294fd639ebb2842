"""Plain data files as DynamoDB's Import from S3 takes them: format, compression, CSV."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from ddbpipe.backups.opener import PlainFiles, open_backup
from ddbpipe.backups.reader import RecordFormat
from ddbpipe.errors import DataError, NotABackupError
from ddbpipe.formats import ddbjson, ion
from ddbpipe.formats.csv import CsvOptions
from ddbpipe.formats.detect import guess_compression, guess_format
from tests.support.tables import every_type_item

ITEMS = [every_type_item(n) for n in range(7)]


def items_of(location: str, plain: PlainFiles | None = None) -> list[dict[str, object]]:
    backup = open_backup(location, plain=plain)
    return [item for f in backup.files for _, item in backup.iter_items(f)]


@pytest.mark.parametrize(
    ("name", "format", "compression"),
    [
        ("a.json", "dynamodb-json", None),
        ("a.JSON.GZ", "dynamodb-json", "gzip"),
        ("x.ion.gz", "ion", "gzip"),
        ("x.ion.zst", "ion", "zstd"),
        ("rows.csv", "csv", None),
        ("rows.csv.zstd", "csv", "zstd"),
        ("5d0b2e6c-1f0c-4e8a-9c1e-3b1c7d2f9a10", None, None),
        ("data.gz", None, "gzip"),
    ],
)
def test_format_and_compression_from_names(
    name: str, format: str | None, compression: str | None
) -> None:
    assert (guess_format(name), guess_compression(name)) == (format, compression)


def test_one_file_in_each_format_and_compression(tmp_path: Path) -> None:
    json_lines = b"".join(map(ddbjson.encode_item, ITEMS))
    ion_lines = b"".join(map(ion.encode_item, ITEMS))
    (tmp_path / "items.json").write_bytes(json_lines)
    (tmp_path / "items.json.gz").write_bytes(gzip.compress(json_lines))
    (tmp_path / "items.ion.zst").write_bytes(zstandard.ZstdCompressor().compress(ion_lines))
    for name in ("items.json", "items.json.gz", "items.ion.zst"):
        assert items_of(str(tmp_path / name)) == ITEMS, name


def test_given_format_and_compression_beat_the_names(tmp_path: Path) -> None:
    (tmp_path / "export.bin").write_bytes(gzip.compress(b"".join(map(ion.encode_item, ITEMS))))
    with pytest.raises(NotABackupError, match="--input-format"):
        open_backup(str(tmp_path / "export.bin"))
    plain = PlainFiles(format="ion", compression="gzip")
    assert items_of(str(tmp_path / "export.bin"), plain) == ITEMS


def test_a_folder_is_read_below_every_level_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.json").write_bytes(b"".join(map(ddbjson.encode_item, ITEMS[:3])))
    (tmp_path / "b" / "c.json").write_bytes(b"".join(map(ddbjson.encode_item, ITEMS[3:])))
    (tmp_path / "_SUCCESS").write_bytes(b"")
    assert items_of(str(tmp_path), PlainFiles(format="dynamodb-json")) == ITEMS


def test_files_of_several_formats_need_one_given(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(ddbjson.encode_item(ITEMS[0]))
    (tmp_path / "b.ion").write_bytes(ion.encode_item(ITEMS[1]))
    with pytest.raises(NotABackupError, match="several or unknown formats"):
        open_backup(str(tmp_path), plain=PlainFiles())


def test_a_damaged_zstd_file_is_named(tmp_path: Path) -> None:
    data = zstandard.ZstdCompressor().compress(ddbjson.encode_item(ITEMS[0]) * 50)
    (tmp_path / "cut.json.zst").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.json\.zst: zstd file is cut short"):
        items_of(str(tmp_path / "cut.json.zst"))


def test_csv_rows_are_typed_by_the_table(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_bytes(b'id,name,when\r\n7,"a, b",2024\r\n8,"two\nlines",\r\n')
    backup = open_backup(str(tmp_path / "rows.csv"))
    format = backup.record_format((("id", "N"),), ("id",))
    reader = backup.reader(backup.files[0], format=format)
    assert list(reader.items()) == [
        (2, {"id": {"N": "7"}, "name": {"S": "a, b"}, "when": {"S": "2024"}}),
        (3, {"id": {"N": "8"}, "name": {"S": "two\nlines"}}),
    ]


def test_csv_header_and_delimiter_given(tmp_path: Path) -> None:
    (tmp_path / "rows.txt").write_bytes(b"7;x\n8;y\n")
    plain = PlainFiles(format="csv", csv=CsvOptions(delimiter=";", header=("id", "v")))
    backup = open_backup(str(tmp_path / "rows.txt"), plain=plain)
    format = RecordFormat("csv", csv=plain.csv, typed=(("id", "N"),), key_names=("id",))
    items = list(backup.reader(backup.files[0], format=format).items())
    assert [n for n, _ in items] == [1, 2]
    assert items[1][1] == {"id": {"N": "8"}, "v": {"S": "y"}}


def test_plain_file_settings_are_checked_together() -> None:
    plain = PlainFiles(format="parquet", compression="lz4", csv=CsvOptions(delimiter="#"))
    problems = plain.problems()
    assert len(problems) == 4, problems  # format, compression, CSV options, delimiter
