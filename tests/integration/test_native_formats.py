"""DynamoDB's native formats against real servers: ION exports, incremental exports
applied in order, and plain CSV / DYNAMODB_JSON files as Import from S3 takes them."""

from __future__ import annotations

import gzip
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from click.testing import CliRunner

from ddbpipe.backups.opener import PlainFiles, open_backup
from ddbpipe.cli import cli
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.ops import write_requests
from ddbpipe.errors import DataError, DdbpipeError, RetriesExhaustedError
from ddbpipe.formats.csv import CsvOptions
from ddbpipe.formats.ddbjson import md5_text
from ddbpipe.items import KeyAttribute, KeySchema
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.checkpoints import import_checkpoint_path
from ddbpipe.transfer.export import ExportConfig, export_table
from ddbpipe.transfer.imports import ImportConfig, import_table
from tests.support.compare import canonical_set
from tests.support.fault_proxy import ExactRule, FaultProxyFactory, Throttle
from tests.support.native import changes_between, write_native_export
from tests.support.servers import Endpoint
from tests.support.tables import client_for, dynamo_config, every_type_item, make_table, scan_all

NUMERIC_KEY = KeySchema(KeyAttribute("id", "N"), KeyAttribute("sk", "S"))


def import_config(endpoint: Endpoint, **changes: Any) -> ImportConfig:
    settings: dict[str, Any] = {"dynamo": dynamo_config(endpoint), **changes}
    return ImportConfig(write_ratio=1, max_wcu=100_000, **settings)


def endpoint_flags(endpoint: Endpoint) -> list[str]:
    return ["--endpoint-url", endpoint.url, "--region", endpoint.region]


@pytest.mark.parametrize("export_format", ["dynamodb-json", "ion"])
def test_native_export_then_import_gives_identical_items(
    dynamodb_endpoint: Endpoint, unique_name: str, tmp_path: Path, export_format: str
) -> None:
    source, target = f"fsrc-{unique_name}", f"fdst-{unique_name}"
    make_table(dynamodb_endpoint, source, [every_type_item(n) for n in range(90)])
    config = ExportConfig(
        dynamo=dynamo_config(dynamodb_endpoint),
        format=export_format,
        workers=2,
        segments=3,
        max_items_per_file=40,
    )
    result = export_table(source, str(tmp_path), config)
    suffix = "ion" if export_format == "ion" else "json"
    names = [p.name for p in (Path(result.folder) / "data").iterdir()]
    assert names
    assert all(re.fullmatch(rf"[a-z2-7]{{26}}\.{suffix}\.gz", name) for name in names)
    backup = open_backup(result.folder)
    assert backup.summary is not None
    assert backup.summary.output_format == export_format.upper().replace("-", "_")
    verify = CliRunner().invoke(cli, ["inspect", "--verify", result.folder])
    assert verify.exit_code == 0, verify.output
    make_table(dynamodb_endpoint, target, [])
    imported = import_table(str(tmp_path), target, import_config(dynamodb_endpoint, workers=2))
    assert imported.written == 90
    assert canonical_set(scan_all(dynamodb_endpoint, target)) == canonical_set(
        scan_all(dynamodb_endpoint, source)
    )


def _flip_a_byte(folder: Path, data_file: Path) -> str:
    damaged = bytearray(data_file.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    data_file.write_bytes(bytes(damaged))
    return data_file.name


def _change_a_count(folder: Path, data_file: Path) -> str:
    manifest = folder / "manifest-files.json"
    lines = manifest.read_bytes().splitlines(keepends=True)
    index = next(n for n, line in enumerate(lines) if data_file.name.encode() in line)
    lines[index] = re.sub(rb'"itemCount":(\d+)', rb'"itemCount":1\1', lines[index])
    manifest.write_bytes(b"".join(lines))
    # The manifest's checksum is brought up to date, so only the count is wrong.
    (folder / "manifest-files.md5").write_bytes(md5_text(manifest.read_bytes()).encode())
    summary = folder / "manifest-summary.json"
    total = sum(orjson.loads(line)["itemCount"] for line in lines)
    summary.write_bytes(
        re.sub(rb'"itemCount":\d+', b'"itemCount":%d' % total, summary.read_bytes())
    )
    (folder / "manifest-summary.md5").write_bytes(md5_text(summary.read_bytes()).encode())
    return data_file.name


def _remove_a_file(folder: Path, data_file: Path) -> str:
    data_file.unlink()
    return data_file.name


@pytest.mark.parametrize("damage", [_flip_a_byte, _change_a_count, _remove_a_file])
@pytest.mark.parametrize("export_format", ["dynamodb-json", "ion"])
def test_a_damaged_export_fails_inspect_and_import_naming_the_file(
    dynalite: Endpoint,
    unique_name: str,
    tmp_path: Path,
    export_format: str,
    damage: Callable[[Path, Path], str],
) -> None:
    source, target = f"dsrc-{unique_name}", f"ddst-{unique_name}"
    make_table(dynalite, source, [every_type_item(n) for n in range(30)])
    config = ExportConfig(
        dynamo=dynamo_config(dynalite), format=export_format, workers=1, max_items_per_file=10
    )
    folder = Path(export_table(source, str(tmp_path), config).folder)
    name = damage(folder, sorted((folder / "data").iterdir())[1])
    verify = CliRunner().invoke(cli, ["inspect", "--verify", str(folder)])
    assert verify.exit_code == 4, verify.output
    assert name in verify.output
    make_table(dynalite, target, [])
    with pytest.raises(DdbpipeError, match=re.escape(name)):
        import_table(str(folder), target, import_config(dynalite))


def _change_table(endpoint: Endpoint, table: str, puts: list[Any], deletes: list[str]) -> None:
    requests = [{"PutRequest": {"Item": item}} for item in puts] + [
        {"DeleteRequest": {"Key": {"pk": {"S": pk}}}} for pk in deletes
    ]
    client = client_for(endpoint)
    for start in range(0, len(requests), 25):
        pending = requests[start : start + 25]
        while pending:
            pending = write_requests(client, table, pending).unprocessed


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize("output_format", ["DYNAMODB_JSON", "ION"])
def test_full_export_and_two_incrementals_restore_the_final_state(
    dynamodb_endpoint: Endpoint, unique_name: str, tmp_path: Path, output_format: str
) -> None:
    source, target = f"isrc-{unique_name}", f"idst-{unique_name}"
    make_table(dynamodb_endpoint, source, [every_type_item(n) for n in range(40)])
    export_format = "ion" if output_format == "ION" else "dynamodb-json"
    config = ExportConfig(dynamo=dynamo_config(dynamodb_endpoint), format=export_format)
    full = open_backup(export_table(source, str(tmp_path), config).folder)
    assert full.summary is not None
    assert full.summary.export_time is not None
    t0 = datetime.strptime(full.summary.export_time, "%Y-%m-%dT%H:%M:%S.%fZ")
    windows = [(_iso(t0), _iso(t0 + timedelta(hours=1))), (_iso(t0 + timedelta(hours=1)), "")]
    windows[1] = (windows[1][0], _iso(t0 + timedelta(hours=2)))
    before = scan_all(dynamodb_endpoint, source)

    # First window: updates, deletes, inserts.
    updated = [{**every_type_item(n), "s": {"S": f"updated {n}"}} for n in range(5)]
    inserted = [{"pk": {"S": f"new-{n}"}, "v": {"N": str(n)}} for n in range(6)]
    _change_table(
        dynamodb_endpoint, source, updated + inserted, [f"item-{n:05d}" for n in (10, 11)]
    )
    middle = scan_all(dynamodb_endpoint, source)
    # Second window: an inserted item deleted, a deleted one back, an update again, and
    # an item inserted then deleted within the window (which leaves no record).
    again = [{"pk": {"S": "item-00000"}, "only": {"BOOL": True}}, every_type_item(10)]
    _change_table(dynamodb_endpoint, source, [*again, {"pk": {"S": "brief"}}], [])
    _change_table(dynamodb_endpoint, source, [], ["new-0", "new-1", "brief", "item-00039"])
    after = scan_all(dynamodb_endpoint, source)

    for number, (old, new) in enumerate(((before, middle), (middle, after))):
        records = changes_between(old, new, ["pk"])
        assert any(r.new_image is None for r in records)  # deletes included
        export_id = f"{int(t0.timestamp() * 1000) + number + 1:014d}-{secrets.token_hex(4)}"
        write_native_export(
            tmp_path,
            [records[::2], records[1::2]],
            export_id,
            output_format=output_format,
            window=windows[number],
            table_arn=full.summary.table_arn,  # incremental exports of the same table
        )
    others = [every_type_item(n) for n in range(40, 45)]  # not in the exports: left alone
    make_table(dynamodb_endpoint, target, others)
    result = import_table(str(tmp_path), target, import_config(dynamodb_endpoint, workers=2))
    assert result.exports == 3
    assert result.left_out == ()
    assert result.deleted == 5  # 2 in the first window, 3 in the second
    assert canonical_set(scan_all(dynamodb_endpoint, target)) == canonical_set(after + others)


CSV_ROWS = (
    b"id,sk,note,count\r\n"
    b'1,"a,b","first line\r\nsecond line",10\r\n'
    b'2,plain,"say ""hi""",\r\n'
    b"3,third,x,7\r\n"
)


def test_csv_import_types_keys_from_the_table(
    dynamodb_endpoint: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"csv-{unique_name}"
    make_table(dynamodb_endpoint, table, [], NUMERIC_KEY)
    (tmp_path / "rows.csv").write_bytes(CSV_ROWS)
    result = import_table(str(tmp_path / "rows.csv"), table, import_config(dynamodb_endpoint))
    assert result.written == 3
    items = {int(i["id"]["N"]): i for i in scan_all(dynamodb_endpoint, table)}
    assert items[1] == {
        "id": {"N": "1"},
        "sk": {"S": "a,b"},
        "note": {"S": "first line\r\nsecond line"},
        "count": {"S": "10"},
    }
    assert items[2] == {"id": {"N": "2"}, "sk": {"S": "plain"}, "note": {"S": 'say "hi"'}}
    assert items[3]["count"] == {"S": "7"}


def test_a_bad_csv_row_is_reported_with_its_line(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"csvbad-{unique_name}"
    make_table(dynalite, table, [], NUMERIC_KEY)
    rows = CSV_ROWS + b"4,too,many,fields,here\r\nx,notanumber,a,b\r\n5,fine,a,b\r\n"
    (tmp_path / "rows.csv").write_bytes(rows)
    with pytest.raises(DataError, match=r"rows\.csv, line 6: .*5 fields.*4"):
        import_table(str(tmp_path), table, import_config(dynalite))
    rejects = tmp_path / "rejects.jsonl"
    cli_result = CliRunner().invoke(
        cli,
        [
            "import",
            str(tmp_path / "rows.csv"),
            table,
            "--on-error",
            "skip",
            "--rejects",
            str(rejects),
            *endpoint_flags(dynalite),
        ],
    )
    assert cli_result.exit_code == 0, cli_result.output
    assert "2 bad lines skipped" in cli_result.stdout
    assert [line.count(b'"line":') for line in rejects.read_bytes().splitlines()] == [1, 1]
    assert b'"line":7' in rejects.read_bytes()
    assert len(scan_all(dynalite, table)) == 4


def test_plain_files_on_s3_compressed_with_a_given_header(moto: Endpoint, unique_name: str) -> None:
    table = f"s3csv-{unique_name}"
    make_table(moto, table, [], NUMERIC_KEY)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="plain-sources")
    body = b"1;one\n2;two\n"
    s3.put_object(Bucket="plain-sources", Key="in/a.csv.zst", Body=zstandard.compress(body))
    s3.put_object(Bucket="plain-sources", Key="in/b.csv.gz", Body=gzip.compress(b"3;three\n"))
    config = import_config(
        moto,
        store=StoreConfig(region=moto.region, endpoint_url=moto.url),
        plain=PlainFiles(format="csv", csv=CsvOptions(delimiter=";", header=("id", "sk"))),
    )
    result = import_table("s3://plain-sources/in", table, config)
    assert (result.files, result.written) == (2, 3)
    assert sorted(int(i["id"]["N"]) for i in scan_all(moto, table)) == [1, 2, 3]


def test_cli_reads_plain_files_as_told(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"clicsv-{unique_name}"
    make_table(dynalite, table, [], NUMERIC_KEY)
    (tmp_path / "rows.txt").write_bytes(b"1;one\n2;two\n")
    told = ["--input-format", "csv", "--csv-header", "id,sk", "--csv-delimiter", ";"]
    args = ["import", str(tmp_path / "rows.txt"), table, *told, *endpoint_flags(dynalite)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 written from 1 file;" in result.stdout
    assert sorted(i["sk"]["S"] for i in scan_all(dynalite, table)) == ["one", "two"]
    inspect = CliRunner().invoke(cli, ["inspect", "--verify", str(tmp_path / "rows.txt"), *told])
    assert inspect.exit_code == 0, inspect.output
    assert "plain csv files" in inspect.stdout
    assert "2 items" in inspect.stdout
    bad = CliRunner().invoke(cli, [*args, "--csv-delimiter", "#", "--compression", "gzip"])
    assert bad.exit_code == 3
    assert "delimiter" in bad.stderr
    unknown = CliRunner().invoke(cli, ["import", str(tmp_path / "rows.txt"), table])
    assert unknown.exit_code == 5
    assert "--input-format" in unknown.stderr


def test_cli_inspect_lists_a_chain_in_order(tmp_path: Path) -> None:
    write_native_export(tmp_path, [[every_type_item(0)]], "01668227450456-aaaaaaaa")
    change = changes_between([every_type_item(0)], [], ["pk"])
    write_native_export(
        tmp_path,
        [change],
        "01668227450457-bbbbbbbb",
        window=("2022-11-12T04:30:50.456Z", "2022-11-12T05:30:50.456Z"),
    )
    result = CliRunner().invoke(cli, ["inspect", "--verify", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 exports, applied in this order" in result.stdout
    assert result.stdout.index("aaaaaaaa") < result.stdout.index("bbbbbbbb")
    assert "incremental export of [2022-11-12T04:30:50.456Z" in result.stdout


def test_an_interrupted_chain_resumes_where_it_stopped(
    dynalite: Endpoint, fault_proxy: FaultProxyFactory, unique_name: str, tmp_path: Path
) -> None:
    table = f"ichain-{unique_name}"
    make_table(dynalite, table, [])
    before = [every_type_item(n) for n in range(300)]
    after = [{**i, "s": {"S": "changed"}} for i in before[:100]] + before[150:]
    write_native_export(tmp_path, [before[:150], before[150:]], "01668227450456-aaaaaaaa")
    records = changes_between(before, after, ["pk"])
    write_native_export(
        tmp_path,
        [records],
        "01668227450457-bbbbbbbb",
        window=("2022-11-12T04:30:50.456Z", "2022-11-12T05:30:50.456Z"),
    )
    # The full export takes 12 batches; 2 of the changes follow, then every batch is throttled.
    throttle = ExactRule(Throttle(), "BatchWriteItem", after=14)
    proxy = fault_proxy(dynalite, exact_rules=[throttle])
    config = import_config(
        dynalite,
        dynamo=DynamoConfig(region=dynalite.region, endpoint_url=proxy.url),
        workers=1,
        state_dir=str(tmp_path / "state"),
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002),
    )
    checkpoint = import_checkpoint_path(tmp_path / "state", str(tmp_path), table)
    with pytest.raises(RetriesExhaustedError):
        import_table(str(tmp_path), table, config)
    files = orjson.loads(checkpoint.read_bytes())["files"]
    assert [done for url, (_, done, _) in files.items() if "-aaaaaaaa/" in url] == [True, True]
    assert proxy.rule_stats(throttle).fired == 3
    proxy.exact_rules = []
    resumed = import_table(str(tmp_path), table, replace(config, resume=True))
    assert resumed.written < len(records)  # neither the full export nor all changes again
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(after)


def test_cli_import_says_which_exports_it_left_out(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"newest-{unique_name}"
    make_table(dynalite, table, [])
    write_native_export(tmp_path, [[{"pk": {"S": "old"}}]], "01668227450456-aaaaaaaa")
    newer = write_native_export(tmp_path, [[{"pk": {"S": "new"}}]], "01668227450999-bbbbbbbb")
    summary = newer / "manifest-summary.json"  # the newer export was taken an hour later
    summary.write_bytes(summary.read_bytes().replace(b"T04:30:50", b"T05:30:50"))
    (newer / "manifest-summary.md5").write_bytes(md5_text(summary.read_bytes()).encode())
    result = CliRunner().invoke(cli, ["import", str(tmp_path), table, *endpoint_flags(dynalite)])
    assert result.exit_code == 0, result.output
    assert "left out:" in result.stdout
    assert "01668227450456-aaaaaaaa (an older full export)" in result.stdout
    assert [i["pk"]["S"] for i in scan_all(dynalite, table)] == ["new"]
