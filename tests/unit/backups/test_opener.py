"""Opening backup folders: manifests, copies, folders without manifests, wrong places."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from ddbpipe.backups.opener import open_backup, require_complete
from ddbpipe.errors import DataError, InterruptedExportError, NotABackupError, NotFoundError
from ddbpipe.formats.datapipeline import encode_manifest
from ddbpipe.formats.ddbjson import encode_item as encode_ddbjson
from ddbpipe.stores.local import LocalStore
from tests.support.native import write_native_export
from tests.support.samples import DATAPIPELINE, NATIVE, V1_EMPTY, V1_EXPORT
from tests.support.tables import every_type_item


def all_items(store: LocalStore) -> list[dict[str, object]]:
    backup = open_backup(store)
    return [item for f in backup.files for _, item in backup.iter_items(f)]


def test_sample_export_reads_the_listed_files() -> None:
    backup = open_backup(LocalStore(V1_EXPORT))
    assert backup.manifest is not None
    assert backup.succeeded
    assert [f.key for f in backup.files] == [
        "5d0b2e6c-1f0c-4e8a-9c1e-3b1c7d2f9a10",
        "c41e8f3a-7b22-4d0e-8a55-90d1e6f2b7c4",
    ]
    items = all_items(LocalStore(V1_EXPORT))
    assert [i["Id"] for i in items] == [
        {"N": "101"},
        {"N": "102"},
        {"N": "103"},
        {"N": "201"},
        {"N": "202"},
    ]
    assert backup.problems() == []
    assert backup.warnings() == []


def test_empty_table_export_has_no_files() -> None:
    backup = open_backup(LocalStore(V1_EMPTY))
    assert backup.files == ()
    assert backup.succeeded


def test_copied_backup_reads_from_where_it_now_lies(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "restore-me"
    shutil.copytree(V1_EXPORT, copy)
    backup = open_backup(LocalStore(copy))
    assert all(f.url.startswith(str(copy)) for f in backup.files)
    assert len(all_items(LocalStore(copy))) == 5


def test_manifest_limits_what_is_read_and_reports_the_rest(tmp_path: Path) -> None:
    shutil.copytree(V1_EXPORT, tmp_path / "run")
    (tmp_path / "run" / "orphan-from-failed-attempt").write_bytes(b'{"Id":{"n":"999"}}\n')
    (tmp_path / "run" / "_SUCCESS").unlink()
    backup = open_backup(LocalStore(tmp_path / "run"))
    assert len(backup.files) == 2
    assert any("orphan-from-failed-attempt" in w for w in backup.warnings())
    assert any("_SUCCESS" in w for w in backup.warnings())


def test_missing_listed_file_is_a_problem(tmp_path: Path) -> None:
    shutil.copytree(V1_EXPORT, tmp_path / "run")
    (tmp_path / "run" / "c41e8f3a-7b22-4d0e-8a55-90d1e6f2b7c4").unlink()
    backup = open_backup(LocalStore(tmp_path / "run"))
    assert backup.missing == ("c41e8f3a-7b22-4d0e-8a55-90d1e6f2b7c4",)
    with pytest.raises(DataError, match="c41e8f3a") as caught:
        require_complete(backup)
    assert caught.value.source is not None
    assert caught.value.source.endswith("manifest")


def test_folder_without_manifest_reads_every_visible_file(tmp_path: Path) -> None:
    for name in [
        "synthetic-legacy-hive-format.txt",
        "public-blog-2016-import-lines.jsonl",
        "connector-test-legacy-line.txt",
    ]:
        shutil.copy(DATAPIPELINE / name, tmp_path / name)
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / ".hidden").write_bytes(b"not data")
    backup = open_backup(LocalStore(tmp_path))
    assert backup.manifest is None
    assert [f.key for f in backup.files] == [
        "connector-test-legacy-line.txt",
        "public-blog-2016-import-lines.jsonl",
        "synthetic-legacy-hive-format.txt",
    ]
    assert len(all_items(LocalStore(tmp_path))) == 1 + 2 + 3


def test_parent_of_runs_says_which_folder_to_point_at(tmp_path: Path) -> None:
    shutil.copytree(V1_EXPORT, tmp_path / "2019-06-01-00-00-00")
    shutil.copytree(V1_EMPTY, tmp_path / "2019-06-02-00-00-00")
    with pytest.raises(NotABackupError, match="folder of 2 backup runs") as caught:
        open_backup(LocalStore(tmp_path))
    assert str(tmp_path / "2019-06-02-00-00-00") in str(caught.value)


def test_folder_with_plain_subfolders_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "data").write_bytes(b'{"a":{"s":"x"}}\n')
    with pytest.raises(NotABackupError, match="holds subfolders"):
        open_backup(LocalStore(tmp_path))


def test_real_native_manifests_open_and_report_the_missing_data(tmp_path: Path) -> None:
    shutil.copytree(NATIVE / "sabuat-db-dynamo-aws", tmp_path / "export")
    backup = open_backup(LocalStore(tmp_path / "export"))
    assert backup.format == "dynamodb-json"
    assert backup.summary is not None
    assert backup.summary.item_count == 6
    assert backup.files == ()
    assert len(backup.missing) == 1
    # Reported against the file that lists it, not a Data Pipeline manifest.
    [problem] = backup.problems()
    assert problem.startswith("manifest-files.json lists 'data/")
    with pytest.raises(DataError) as caught:
        require_complete(backup)
    assert caught.value.source == str(tmp_path / "export" / "manifest-files.json")
    assert caught.value.reason.startswith("manifest-files.json lists 1 file that is not in the")


def test_native_export_reads_from_its_folder_or_its_prefix(tmp_path: Path) -> None:
    items = [every_type_item(n) for n in range(7)]
    folder = write_native_export(tmp_path, [items[:4], items[4:], []])
    for where in (folder, tmp_path):
        backup = open_backup(LocalStore(where))
        assert backup.format == "dynamodb-json"
        assert [i for f in backup.files for _, i in backup.iter_items(f)] == items
    write_native_export(tmp_path, [items], export_id="01668227450999-aaaaaaaa")
    with pytest.raises(NotABackupError, match=r"holds 2 native exports.*point at one"):
        open_backup(LocalStore(tmp_path))


def test_a_manifest_stands_for_its_folder(tmp_path: Path) -> None:
    folder = write_native_export(tmp_path, [[every_type_item(0)]])
    native = open_backup(str(folder / "manifest-summary.json"))
    assert (native.url, native.format, native.summary is not None) == (
        str(folder),
        "dynamodb-json",
        True,
    )
    assert open_backup(str(V1_EXPORT / "manifest")).url == str(V1_EXPORT)


def test_native_export_checks_md5_and_counts_as_it_reads(tmp_path: Path) -> None:
    items = [every_type_item(n) for n in range(5)]
    folder = write_native_export(tmp_path / "a", [items])
    [data] = list((folder / "data").iterdir())
    data.write_bytes(gzip.compress(encode_ddbjson(every_type_item(9))))  # valid, but not it
    backup = open_backup(LocalStore(folder))
    with pytest.raises(DataError, match=r"MD5 is .* the manifest says") as caught:
        list(backup.iter_items(backup.files[0]))
    assert caught.value.source == str(data)

    counted = write_native_export(tmp_path / "b", [items], claimed_counts=[6])
    backup = open_backup(LocalStore(counted))
    with pytest.raises(DataError, match="holds 5 items, the manifest says 6") as caught:
        list(backup.iter_items(backup.files[0]))
    assert caught.value.source == backup.files[0].url

    flipped = write_native_export(tmp_path / "c", [items])
    [data] = list((flipped / "data").iterdir())
    damaged = bytearray(data.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    data.write_bytes(bytes(damaged))
    backup = open_backup(LocalStore(flipped))
    with pytest.raises(DataError) as caught:
        list(backup.iter_items(backup.files[0]))
    assert caught.value.source == str(data)


def test_native_export_with_a_damaged_summary(tmp_path: Path) -> None:
    folder = write_native_export(tmp_path, [[every_type_item(0)]])
    (folder / "manifest-summary.json").write_bytes(b"{}")
    with pytest.raises(DataError, match=r"manifest-summary\.json"):
        open_backup(LocalStore(folder))


def test_native_export_data_folder_reads_as_plain_files(tmp_path: Path) -> None:
    """As DynamoDB's Import from S3 takes a data/ prefix: read, but nothing verifies it."""
    (tmp_path / "abcd1234.json.gz").write_bytes(gzip.compress(encode_ddbjson(every_type_item(1))))
    backup = open_backup(LocalStore(tmp_path))
    assert (backup.format, backup.plain) == ("dynamodb-json", True)
    assert any("no manifest" in w for w in backup.warnings())
    assert all_items(LocalStore(tmp_path)) == [every_type_item(1)]


def test_native_markers_without_a_summary_are_refused(tmp_path: Path) -> None:
    (tmp_path / "_started").write_bytes(b"")
    (tmp_path / "data").mkdir()
    with pytest.raises(
        InterruptedExportError, match=r"native export that did not finish \(it has _started"
    ):
        open_backup(LocalStore(tmp_path))


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does-not-exist"):
        open_backup(LocalStore(tmp_path / "does-not-exist"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="empty"):
        open_backup(LocalStore(tmp_path / "empty"))


def test_manifest_of_wrong_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest").write_bytes(encode_manifest([]).replace(b'"version":3', b'"version":2'))
    with pytest.raises(DataError, match="version 2"):
        open_backup(LocalStore(tmp_path))
