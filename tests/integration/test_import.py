"""Import against real servers: round trips, replacement, samples, copies, wrong targets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from ddbpipe.cli import cli
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.table import create_table
from ddbpipe.errors import DataError, KeySchemaMismatchError, TableNotFoundError
from ddbpipe.formats.datapipeline import encode_items
from ddbpipe.items import KeyAttribute, KeySchema
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.export import ExportConfig, export_table
from ddbpipe.transfer.imports import ImportConfig, import_table
from tests.support.compare import canonical, canonical_set
from tests.support.native import write_native_export
from tests.support.samples import DATAPIPELINE, V1_EXPORT
from tests.support.servers import Endpoint
from tests.support.tables import (
    client_for,
    dynamo_config,
    every_type_item,
    make_table,
    scan_all,
)


def import_config(endpoint: Endpoint, **changes: Any) -> ImportConfig:
    return ImportConfig(dynamo=dynamo_config(endpoint), write_ratio=1, max_wcu=100_000, **changes)


def backup_of(items: list[dict[str, Any]], folder: Path, lines: bytes = b"") -> Path:
    """A hand-written folder without manifest: one data file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0").write_bytes(encode_items(items) + lines)
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_export_then_import_gives_identical_items(
    dynamodb_endpoint: Endpoint, unique_name: str, tmp_path: Path, workers: int
) -> None:
    source, target = f"src-{unique_name}", f"dst-{unique_name}"
    make_table(dynamodb_endpoint, source, [every_type_item(n) for n in range(120)])
    exported = export_table(
        source,
        str(tmp_path),
        ExportConfig(dynamo=dynamo_config(dynamodb_endpoint), max_items_per_file=40, segments=2),
    )
    make_table(dynamodb_endpoint, target, [])
    result = import_table(
        exported.folder, target, import_config(dynamodb_endpoint, workers=workers)
    )
    assert (result.items_read, result.written, result.files) == (120, 120, len(exported.files))
    assert canonical_set(scan_all(dynamodb_endpoint, target)) == canonical_set(
        scan_all(dynamodb_endpoint, source)
    )


def test_same_keys_are_replaced_and_others_left_alone(
    dynamodb_endpoint: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"replace-{unique_name}"
    make_table(
        dynamodb_endpoint,
        table,
        [
            {"pk": {"S": "a"}, "old": {"S": "gone after import"}},
            {"pk": {"S": "z"}, "kept": {"N": "1"}},
        ],
    )
    folder = backup_of(
        [{"pk": {"S": "a"}, "new": {"BOOL": True}}, {"pk": {"S": "b"}}], tmp_path / "backup"
    )
    import_table(str(folder), table, import_config(dynamodb_endpoint))
    by_key = {i["pk"]["S"]: i for i in scan_all(dynamodb_endpoint, table)}
    assert by_key == {
        "a": {"pk": {"S": "a"}, "new": {"BOOL": True}},
        "b": {"pk": {"S": "b"}},
        "z": {"pk": {"S": "z"}, "kept": {"N": "1"}},
    }


def test_sample_backups_import(dynalite: Endpoint, unique_name: str, tmp_path: Path) -> None:
    numeric = KeySchema(KeyAttribute("Id", "N"))
    make_table(dynalite, f"v1-{unique_name}", [], numeric)
    result = import_table(str(V1_EXPORT), f"v1-{unique_name}", import_config(dynalite))
    assert result.written == 5
    items = {i["Id"]["N"]: i for i in scan_all(dynalite, f"v1-{unique_name}")}
    assert sorted(items) == ["101", "102", "103", "201", "202"]
    assert items["103"]["Thumbnail"] == {"B": "AAEC/v8="}
    assert items["202"]["Unicode"] == {"S": "café 青 😀 \u2028"}
    assert items["201"]["Address"]["M"]["empty"] == {
        "M": {"emptyMap": {"M": {}}, "emptyList": {"L": []}}
    }

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(DATAPIPELINE / "synthetic-legacy-hive-format.txt", legacy / "data")
    make_table(dynalite, f"legacy-{unique_name}", [], numeric)
    import_table(str(legacy), f"legacy-{unique_name}", import_config(dynalite))
    assert canonical_set(scan_all(dynalite, f"legacy-{unique_name}"), "Id") == {
        k: v
        for k, v in canonical_set(list(items.values()), "Id").items()
        if k[1][1] in ("101", "102", "103")
    }

    blog = tmp_path / "blog"
    blog.mkdir()
    shutil.copy(DATAPIPELINE / "public-blog-2016-import-lines.jsonl", blog / "lines")
    make_table(dynalite, f"blog-{unique_name}", [], KeySchema(KeyAttribute("Brand", "S")))
    import_table(str(blog), f"blog-{unique_name}", import_config(dynalite))
    assert {i["BicycleType"]["S"] for i in scan_all(dynalite, f"blog-{unique_name}")} == {
        "Hybrid",
        "Road",
    }

    connector = tmp_path / "connector"
    connector.mkdir()
    shutil.copy(DATAPIPELINE / "connector-test-legacy-line.txt", connector / "line")
    make_table(dynalite, f"conn-{unique_name}", [], KeySchema(KeyAttribute("attr1", "S")))
    import_table(str(connector), f"conn-{unique_name}", import_config(dynalite))
    assert scan_all(dynalite, f"conn-{unique_name}") == [
        {"attr1": {"S": "seattle"}, "attr2": {"NS": ["123", "456", "789"]}}
    ]


def test_backup_copied_to_another_bucket_imports(moto: Endpoint, unique_name: str) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="restore-copy")
    for path in V1_EXPORT.iterdir():  # manifest URLs still name example-bucket
        s3.put_object(Bucket="restore-copy", Key=f"moved/here/{path.name}", Body=path.read_bytes())
    make_table(moto, f"copy-{unique_name}", [], KeySchema(KeyAttribute("Id", "N")))
    config = import_config(moto, store=StoreConfig(endpoint_url=moto.url, region=moto.region))
    result = import_table("s3://restore-copy/moved/here", f"copy-{unique_name}", config)
    assert result.written == 5
    assert len(scan_all(moto, f"copy-{unique_name}")) == 5


def test_missing_table_wrong_key_and_wrong_region_fail_before_writing(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    folder = backup_of([every_type_item(n) for n in range(30)], tmp_path / "b")
    with pytest.raises(
        TableNotFoundError, match=f"'none-{unique_name}' not found in region us-east-1"
    ):
        import_table(str(folder), f"none-{unique_name}", import_config(dynalite))
    other_name = f"name-{unique_name}"
    make_table(
        dynalite, other_name, [{"id": {"S": "untouched"}}], KeySchema(KeyAttribute("id", "S"))
    )
    with pytest.raises(KeySchemaMismatchError, match="key attribute 'id' is missing"):
        import_table(str(folder), other_name, import_config(dynalite))
    assert scan_all(dynalite, other_name) == [{"id": {"S": "untouched"}}]
    other_type = f"type-{unique_name}"
    make_table(dynalite, other_type, [], KeySchema(KeyAttribute("pk", "N")))
    with pytest.raises(KeySchemaMismatchError, match="of type S; the table wants N"):
        import_table(str(folder), other_type, import_config(dynalite))
    assert scan_all(dynalite, other_type) == []


def test_wrong_region_fails_naming_the_region(
    moto: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"region-{unique_name}"
    make_table(moto, table, [])  # in us-east-1
    folder = backup_of([every_type_item(n) for n in range(3)], tmp_path / "b")
    elsewhere = ImportConfig(dynamo=DynamoConfig(region="eu-west-1", endpoint_url=moto.url))
    with pytest.raises(TableNotFoundError, match=f"'{table}' not found in region eu-west-1"):
        import_table(str(folder), table, elsewhere)
    assert scan_all(moto, table) == []


def test_key_schema_compared_with_table_json(
    moto: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    make_table(moto, f"src-{unique_name}", [every_type_item(n) for n in range(5)])
    exported = export_table(
        f"src-{unique_name}", str(tmp_path), ExportConfig(dynamo=dynamo_config(moto))
    )
    create_table(
        client_for(moto),
        f"dst-{unique_name}",
        KeySchema(KeyAttribute("pk", "S"), KeyAttribute("n", "N")),
    )
    with pytest.raises(KeySchemaMismatchError, match=r"has key pk \(S\), n \(N\), but the backup"):
        import_table(exported.folder, f"dst-{unique_name}", import_config(moto))
    assert scan_all(moto, f"dst-{unique_name}") == []


def test_create_table_from_table_json_and_dry_run(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    make_table(dynalite, f"orig-{unique_name}", [every_type_item(n) for n in range(12)])
    exported = export_table(
        f"orig-{unique_name}", str(tmp_path), ExportConfig(dynamo=dynamo_config(dynalite))
    )
    dry = import_table(
        exported.folder,
        f"new-{unique_name}",
        import_config(dynalite, create_table=True, dry_run=True),
    )
    assert (dry.items_read, dry.written, dry.dry_run) == (12, 0, True)
    with pytest.raises(TableNotFoundError):
        scan_all(dynalite, f"new-{unique_name}")
    result = import_table(
        exported.folder, f"new-{unique_name}", import_config(dynalite, create_table=True)
    )
    assert result.written == 12
    assert canonical_set(scan_all(dynalite, f"new-{unique_name}")) == canonical_set(
        scan_all(dynalite, f"orig-{unique_name}")
    )


BAD_LINES = [
    (b'{"pk":{"s":"trunc', "malformed JSON"),
    (b'{"pk":{"s":"x1"},"big":{"s":"' + b"x" * 410_000 + b'"}}', "DynamoDB's limit is 409600"),
    (b'{"pk":{"s":"x2"},"tags":{"sS":[]}}', "empty SS set"),
    (b'{"pk":{"s":"x3"},"n":{"n":"1e200"}}', "too large"),
    (b'{"other":{"s":"x4"}}', "key attribute 'pk' is missing"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_bad_lines_fail_the_import_naming_file_and_line(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, line: bytes, reason: str
) -> None:
    table = f"bad-{unique_name}"
    make_table(dynalite, table, [])
    folder = backup_of([every_type_item(n) for n in range(3)], tmp_path / "b", line + b"\n")
    with pytest.raises(DataError, match=reason) as caught:
        import_table(str(folder), table, import_config(dynalite, workers=1))
    assert caught.value.source == str(folder / "part-0")
    assert caught.value.line == 4


def test_bad_lines_skipped_go_to_the_rejects_file(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"skip-{unique_name}"
    make_table(dynalite, table, [])
    bad = b"\n".join(line for line, _ in BAD_LINES) + b"\n"
    folder = backup_of([every_type_item(n) for n in range(40)], tmp_path / "b", bad)
    rejects = tmp_path / "rejects.jsonl"
    result = import_table(
        str(folder), table, import_config(dynalite, on_error="skip", rejects_path=str(rejects))
    )
    assert (result.written, result.skipped) == (40, 5)
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [r["line"] for r in records] == [41, 42, 43, 44, 45]
    for record, (_, reason) in zip(records, BAD_LINES, strict=True):
        assert reason in record["reason"]
        assert record["file"] == str(folder / "part-0")
    assert len(scan_all(dynalite, table)) == 40


def test_repeated_keys_in_a_batch_later_line_wins(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"dups-{unique_name}"
    make_table(dynalite, table, [])
    items = [{"pk": {"S": f"k{n % 5}"}, "v": {"N": str(n)}} for n in range(20)]
    result = import_table(str(backup_of(items, tmp_path / "b")), table, import_config(dynalite))
    assert result.duplicates == 15
    assert {canonical(i)["pk"]: i["v"]["N"] for i in scan_all(dynalite, table)} == {
        ("S", f"k{k}"): str(15 + k) for k in range(5)
    }


def test_cli_import_summary_and_exit_codes(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"cli-{unique_name}"
    make_table(dynalite, table, [])
    folder = backup_of([every_type_item(n) for n in range(30)], tmp_path / "b")
    base = ["--endpoint-url", dynalite.url, "--region", dynalite.region]
    ok = CliRunner().invoke(cli, ["import", str(folder), table, *base])
    assert ok.exit_code == 0, ok.output
    assert "30 items read, 30 written from 1 file;" in ok.stdout
    missing = CliRunner().invoke(cli, ["import", str(folder), "nope-table", *base])
    assert missing.exit_code == 6
    assert "table 'nope-table' not found in region us-east-1" in missing.stderr
    not_backup = CliRunner().invoke(cli, ["import", str(tmp_path), table, *base])
    assert not_backup.exit_code == 5
    assert "holds subfolders" in not_backup.stderr


def test_native_dynamodb_json_export_imports(
    dynamodb_endpoint: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"native-{unique_name}"
    make_table(dynamodb_endpoint, table, [])
    items = [every_type_item(n) for n in range(60)]
    write_native_export(tmp_path, [items[:25], items[25:], []])
    result = import_table(str(tmp_path), table, import_config(dynamodb_endpoint))
    assert (result.items_read, result.written, result.files) == (60, 60, 3)
    assert canonical_set(scan_all(dynamodb_endpoint, table)) == canonical_set(items)
