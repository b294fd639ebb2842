"""Items DynamoDB refuses are handled like bad lines: found by splitting their batch, then
the import fails naming file and line, or with --on-error skip records them with
DynamoDB's reason and writes every other item. inspect --verify finds them without a
table when the backup's _table.json says the keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ddbpipe.dynamo.table import create_table_like
from ddbpipe.formats.datapipeline import encode_item
from ddbpipe.transfer.export import ExportConfig, export_table
from tests.support.compare import canonical_set
from tests.support.jobs import endpoint_flags, run_ddbpipe, write_backup
from tests.support.servers import Endpoint
from tests.support.tables import client_for, dynamo_config, every_type_item, scan_all

BAD_LINES = (7, 33, 34, 60)


def table_with_index(endpoint: Endpoint, name: str) -> None:
    """A table keyed by ``pk`` with a global index on the string attribute ``g``."""
    create_table_like(
        client_for(endpoint),
        name,
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )


def items_with_wrong_index_type() -> list[dict[str, Any]]:
    """80 items; those on BAD_LINES have ``g`` as a number where the index wants a string."""
    items = []
    for line in range(1, 81):
        item = every_type_item(line)
        item["g"] = {"N": str(line)} if line in BAD_LINES else {"S": f"g{line % 7}"}
        items.append(item)
    return items


def test_an_index_key_of_the_wrong_type_fails_naming_file_and_line(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"gsi-{unique_name}"
    table_with_index(dynalite, table)
    folder = write_backup(tmp_path / "b", items_with_wrong_index_type(), per_file=80)
    result = run_ddbpipe("import", str(folder), table, *endpoint_flags(dynalite), "--workers", "2")
    assert result.returncode == 4, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {folder}/part-000000, line 7: DynamoDB refused the item: ")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_with_skip_every_other_item_is_written_and_the_refused_are_recorded(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, workers: str
) -> None:
    table = f"gsi-{unique_name}"
    table_with_index(dynalite, table)
    items = items_with_wrong_index_type()
    folder = write_backup(tmp_path / "b", items, per_file=40)
    rejects = tmp_path / "rejects.jsonl"
    result = run_ddbpipe(
        "import", str(folder), table, *endpoint_flags(dynalite), "--workers", workers,
        "--on-error", "skip", "--rejects", str(rejects),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "4 bad lines skipped" in result.stdout
    good = [item for line, item in enumerate(items, 1) if line not in BAD_LINES]
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(good)
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    where = sorted((r["file"].rpartition("/")[2], r["line"]) for r in records)
    assert where == [
        ("part-000000", 7),
        ("part-000000", 33),
        ("part-000000", 34),
        ("part-000040", 20),
    ]
    assert all(r["reason"].startswith("DynamoDB refused the item: ") for r in records)


def test_inspect_verify_finds_what_an_import_would_refuse(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"gsiv-{unique_name}"
    table_with_index(dynalite, table)
    export = export_table(
        table, str(tmp_path / "out"), ExportConfig(dynamo=dynamo_config(dynalite))
    )
    folder = Path(export.folder)
    bad = every_type_item(1)
    bad["g"] = {"N": "1"}
    big = every_type_item(2)
    big["pad"] = {"S": "x" * 410_000}
    nokey = {"other": {"S": "no pk"}}
    numeric_key = every_type_item(4)
    numeric_key["pk"] = {"N": "4"}
    lines = (_line(bad), _line(big), _line(nokey), _line(numeric_key), _line(every_type_item(3)))
    (folder / "extra").write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    manifest = orjson.loads((folder / "manifest").read_bytes())
    manifest["entries"].append({"url": (folder / "extra").as_uri(), "mandatory": True})
    (folder / "manifest").write_bytes(orjson.dumps(manifest))
    result = run_ddbpipe("inspect", "--verify", str(folder))
    assert result.returncode == 4, result.stdout
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem:")]
    assert len(problems) == 4
    assert problems[0] == (
        f"problem: {folder}/extra, line 1: index key attribute 'g' is of type N; the table "
        "defines it as S"
    )
    assert problems[1].startswith(f"problem: {folder}/extra, line 2: item is ")
    assert problems[2] == f"problem: {folder}/extra, line 3: key attribute 'pk' is missing"
    assert problems[3] == (
        f"problem: {folder}/extra, line 4: key attribute 'pk' is of type N; the table wants S"
    )
    assert "bytes; DynamoDB's limit is 409600" in problems[1]


def _line(item: dict[str, Any]) -> dict[str, Any]:
    """The Data Pipeline line of an item (type keys as the exporter wrote them)."""
    parsed: dict[str, Any] = orjson.loads(encode_item(item))
    return parsed
