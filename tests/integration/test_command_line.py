"""What users read: bad options and environments get one line and exit 3 before anything
is written; an endpoint that does not answer says so; usage errors exit 2 alike; several
tables fail at once when one is missing; --json prints one object; nothing is wrapped."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.support.fault_proxy import ErrorReply, ExactRule, FaultProxyFactory
from tests.support.jobs import endpoint_flags, run_ddbpipe, table_size, write_backup
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table

BAD_EXPORT_OPTIONS = [
    ["--max-rcu", "nan"],
    ["--max-rcu", "inf"],
    ["--max-rcu", "0"],
    ["--max-rcu", "-1"],
    ["--read-ratio", "nan"],
    ["--read-ratio", "-inf"],
    ["--read-ratio", "0"],
    ["--segments", "0"],
    ["--segments", "-3"],
    ["--workers", "0"],
    ["--items-per-file", "0"],
    ["--items-per-file", "100001"],
    ["--region", "bad region!"],
]
BAD_CONVERT_OPTIONS = [
    ["--items-per-file", "0"],
    ["--items-per-file", "-5"],
    ["--items-per-file", "nan"],
    ["--workers", "0"],
    ["--workers", "-2"],
]
BAD_IMPORT_OPTIONS = [
    ["--max-wcu", "nan"],
    ["--max-wcu", "inf"],
    ["--max-wcu", "0"],
    ["--write-ratio", "nan"],
    ["--write-ratio", "2"],
    ["--workers", "-1"],
    ["--region", "bad region!"],
]


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("options", BAD_EXPORT_OPTIONS, ids=" ".join)
@pytest.mark.parametrize("with_endpoint", [True, False])
def test_a_bad_export_option_is_one_line_and_exit_3_before_anything_is_written(
    dynalite: Endpoint, tmp_path: Path, options: list[str], with_endpoint: bool
) -> None:
    flags = endpoint_flags(dynalite) if with_endpoint else ["--region", "us-east-1"]
    if "--region" in options:
        flags = [f for f in flags if f not in ("--region", "us-east-1")]
    result = run_ddbpipe("export", "any-table", str(tmp_path / "out"), *flags, *options)
    assert result.returncode == 3, result.stderr
    one_error_line(result.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options", BAD_IMPORT_OPTIONS, ids=" ".join)
def test_a_bad_import_option_is_one_line_and_exit_3(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, options: list[str]
) -> None:
    folder = write_backup(tmp_path / "b", [every_type_item(1)], 1)
    flags = endpoint_flags(dynalite)
    if "--region" in options:
        flags = ["--endpoint-url", dynalite.url]
    result = run_ddbpipe("import", str(folder), f"t-{unique_name}", *flags, *options)
    assert result.returncode == 3, result.stderr
    one_error_line(result.stderr)


@pytest.mark.parametrize("options", BAD_CONVERT_OPTIONS, ids=" ".join)
def test_a_bad_convert_option_is_one_line_and_exit_3_before_anything_is_written(
    options: list[str], tmp_path: Path
) -> None:
    folder = write_backup(tmp_path / "b", [every_type_item(n) for n in range(10)], 10)
    out = tmp_path / "out"
    result = run_ddbpipe("convert", str(folder), str(out), "--to", "ion", *options)
    assert result.returncode in (2, 3), result.stderr
    if result.returncode == 3:
        assert options[1] in one_error_line(result.stderr)  # the value refused
    else:  # click refuses what is not a number at all, as a usage error
        assert "Traceback" not in result.stderr
        assert options[0] in result.stderr
    assert not out.exists()


def test_counts_of_one_read_in_the_singular(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"one-{unique_name}"
    make_table(dynalite, table, [every_type_item(1)])
    flags = [*endpoint_flags(dynalite), "--workers", "1", "--segments", "1"]
    exported = run_ddbpipe("export", table, str(tmp_path / "out"), *flags)
    assert exported.returncode == 0, exported.stderr
    assert "1 item in 1 file" in exported.stdout
    assert "1 segment, 1 worker," in exported.stdout
    [folder] = [p.parent for p in (tmp_path / "out").rglob("manifest")]
    imported = run_ddbpipe("import", str(folder), table, *flags[:-2])
    assert imported.returncode == 0, imported.stderr
    assert "1 item read" in imported.stdout
    assert "1 worker," in imported.stdout
    assert "1 workers" not in exported.stdout + imported.stdout


def test_a_bad_region_names_itself(dynalite: Endpoint, tmp_path: Path) -> None:
    result = run_ddbpipe(
        "export", "t1", str(tmp_path), "--region", "bad region!", "--endpoint-url", dynalite.url
    )
    assert result.returncode == 3
    assert one_error_line(result.stderr) == (
        "error: DynamoDB region 'bad region!' is not a region name (like us-east-1)"
    )


def test_rejects_in_a_missing_folder_or_inside_the_source_is_refused(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"rj-{unique_name}"
    make_table(dynalite, table, [])
    folder = write_backup(tmp_path / "b", [every_type_item(1)], 1)
    flags = [*endpoint_flags(dynalite), "--on-error", "skip"]
    missing = run_ddbpipe(
        "import", str(folder), table, *flags, "--rejects", str(tmp_path / "no" / "r.jsonl")
    )
    assert missing.returncode == 3
    assert "the folder of the rejects file" in one_error_line(missing.stderr)
    inside = run_ddbpipe("import", str(folder), table, *flags, "--rejects", str(folder / "r.jsonl"))
    assert inside.returncode == 3
    assert "lies inside the source" in one_error_line(inside.stderr)
    assert not (folder / "r.jsonl").exists()


@pytest.mark.parametrize("through", ["XDG_STATE_HOME", "HOME"])
def test_an_unwritable_state_folder_is_refused_before_anything_is_written(
    through: str, dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"st-{unique_name}"
    make_table(dynalite, table, [])
    folder = write_backup(tmp_path / "b", [every_type_item(n) for n in range(10)], 10)
    if through == "XDG_STATE_HOME":
        not_a_folder = tmp_path / "state"
        env = {"XDG_STATE_HOME": str(not_a_folder)}
    else:  # no XDG_STATE_HOME: ~/.local/state, where ~/.local is a file
        home = tmp_path / "home"
        home.mkdir()
        not_a_folder = home / ".local"
        env = {"XDG_STATE_HOME": "", "HOME": str(home)}
    not_a_folder.write_text("a file where the state folder should be")
    result = run_ddbpipe("import", str(folder), table, *endpoint_flags(dynalite), env=env)
    assert result.returncode == 3, result.stderr
    assert "state folder" in one_error_line(result.stderr)
    assert table_size(dynalite, table) == 0


def test_a_destination_that_is_a_file_is_refused(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"df-{unique_name}"
    make_table(dynalite, table, [every_type_item(1)])
    dest = tmp_path / "file"
    dest.write_text("not a folder")
    result = run_ddbpipe("export", table, str(dest), *endpoint_flags(dynalite))
    assert result.returncode == 3
    assert (
        one_error_line(result.stderr)
        == f"error: {dest} is a file; the destination must be a folder"
    )


@pytest.mark.parametrize("command", ["export", "import"])
def test_export_and_import_without_arguments_are_usage_errors(command: str) -> None:
    result = run_ddbpipe(command)
    assert result.returncode == 2
    assert "Usage: ddbpipe" in result.stderr


def test_an_endpoint_that_does_not_answer_says_so(tmp_path: Path) -> None:
    dynamo = run_ddbpipe(
        "export", "t1", str(tmp_path), "--region", "us-east-1", "--endpoint-url",
        "http://127.0.0.1:9",
    )  # fmt: skip
    assert dynamo.returncode == 3
    assert one_error_line(dynamo.stderr) == (
        "error: cannot connect to DynamoDB at http://127.0.0.1:9/: connection refused"
    )
    s3 = run_ddbpipe(
        "inspect", "s3://bucket/backup", "--region", "us-east-1", "--s3-endpoint-url",
        "http://127.0.0.1:9",
    )  # fmt: skip
    assert s3.returncode == 3
    assert one_error_line(s3.stderr).startswith("error: cannot connect to S3 at http://127.0.0.1:9")


def test_endpoint_url_alone_is_not_taken_for_s3() -> None:
    result = run_ddbpipe("inspect", "s3://bucket/backup", "--endpoint-url", "http://127.0.0.1:9")
    assert result.returncode == 3
    assert "--s3-endpoint-url" in one_error_line(result.stderr)


def test_several_tables_with_one_missing_write_nothing(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    first, second = f"a-{unique_name}", f"b-{unique_name}"
    for table in (first, second):
        make_table(dynalite, table, [every_type_item(n) for n in range(20)])
    missing = f"missing-{unique_name}"
    result = run_ddbpipe(
        "export", first, missing, second, str(tmp_path / "out"), *endpoint_flags(dynalite)
    )
    assert result.returncode == 6
    assert (
        one_error_line(result.stderr) == f"error: table {missing!r} not found in region us-east-1"
    )
    assert not (tmp_path / "out").exists()


def test_a_prefix_of_exports_of_different_tables_imports_nothing_and_names_them(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    tables = [f"amb{n}-{unique_name}" for n in range(2)]
    for n, table in enumerate(tables):
        make_table(dynalite, table, [every_type_item(n * 100 + i) for i in range(20)])
        done = run_ddbpipe(
            "export", table, str(tmp_path), "--format", "dynamodb-json", *endpoint_flags(dynalite)
        )
        assert done.returncode == 0, done.stderr
    target = f"tgt-{unique_name}"
    make_table(dynalite, target, [])
    result = run_ddbpipe("import", str(tmp_path), target, *endpoint_flags(dynalite))
    assert result.returncode == 5, result.stderr  # not a backup: which one is for the user
    line = one_error_line(result.stderr)
    assert "holds exports of 2 tables" in line
    exports = sorted(p.parent for p in tmp_path.rglob("manifest-summary.json"))
    assert len(exports) == 2
    for table, export in zip(tables, exports, strict=True):
        assert table in line
        assert export.name in line
    assert table_size(dynalite, target) == 0


def test_a_failed_table_of_several_is_reported_with_the_others(
    dynalite: Endpoint, fault_proxy: FaultProxyFactory, unique_name: str, tmp_path: Path
) -> None:
    tables = [f"{letter}-{unique_name}" for letter in "abc"]
    for table in tables:
        make_table(dynalite, table, [every_type_item(n) for n in range(20)])
    refused = ExactRule(
        ErrorReply(400, "AccessDeniedException"), "Scan", when=lambda r: tables[1] in r.tables
    )
    proxy = fault_proxy(dynalite, exact_rules=[refused])
    out = tmp_path / "out"
    result = run_ddbpipe(
        "export", *tables, str(out), *endpoint_flags(proxy.via(dynalite)), "--json"
    )
    assert result.returncode == 7, result.stderr
    document = orjson.loads(result.stdout)
    assert document["ok"] is False
    outcomes = [(t["table"], t["status"]) for t in document["error"]["tables"]]
    assert outcomes == [(tables[0], "finished"), (tables[1], "failed"), (tables[2], "not started")]
    assert f"  {tables[0]}: finished ({out / tables[0]}/" in result.stderr
    assert f"  {tables[1]}: failed (access denied: dynamodb:Scan on {tables[1]}" in result.stderr
    assert f"  {tables[2]}: not started" in result.stderr
    assert not (out / tables[2]).exists()


def test_json_output_is_one_object_for_success_and_for_failure(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"js-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(30)])
    done = run_ddbpipe("export", table, str(tmp_path), *endpoint_flags(dynalite), "--json")
    assert done.returncode == 0, done.stderr
    exported = orjson.loads(done.stdout)
    assert exported["ok"] is True
    [result] = exported["results"]
    assert result["items"] == 30
    assert result["table"] == table
    assert Path(result["folder"]).is_dir()
    assert "exported" in done.stderr  # the text for people goes to stderr
    inspected = orjson.loads(run_ddbpipe("inspect", result["folder"], "--json").stdout)
    assert inspected["results"][0]["items"] == 30
    missing = run_ddbpipe("inspect", str(tmp_path / "nothing"), "--json")
    assert missing.returncode == 6
    answer = orjson.loads(missing.stdout)
    assert (answer["ok"], answer["exit_code"]) == (False, 6)
    assert answer["error"]["type"] == "NotFoundError"
    assert str(tmp_path / "nothing") in answer["error"]["message"]
    restored = run_ddbpipe("import", result["folder"], table, *endpoint_flags(dynalite), "--json")
    assert restored.returncode == 0, restored.stderr
    [imported] = orjson.loads(restored.stdout)["results"]
    assert (imported["table"], imported["items_read"], imported["written"]) == (table, 30, 30)
    assert imported["consumed_capacity"] > 0
    failed = run_ddbpipe(
        "import", result["folder"], f"no-{unique_name}", *endpoint_flags(dynalite), "--json"
    )
    assert failed.returncode == 6
    error = orjson.loads(failed.stdout)["error"]
    assert error["type"] == "TableNotFoundError"
    assert error["code"] == 6
    converted = run_ddbpipe(
        "convert", result["folder"], str(tmp_path / "ion"), "--to", "ion", "--json"
    )
    assert converted.returncode == 0, converted.stderr
    [conversion] = orjson.loads(converted.stdout)["results"]
    assert conversion["items"] == 30
    assert conversion["format"] == "ion"
    refused = run_ddbpipe(
        "convert", str(tmp_path / "nothing"), str(tmp_path / "x"), "--to", "ion", "--json"
    )
    assert refused.returncode == 6
    assert orjson.loads(refused.stdout)["error"]["type"] == "NotFoundError"


def test_output_off_a_terminal_is_never_wrapped(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"long-{unique_name}-" + "x" * 150
    make_table(dynalite, table, [every_type_item(1)])
    deep = tmp_path / ("folder-" * 20)
    result = run_ddbpipe("export", table, str(deep), *endpoint_flags(dynalite))
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert str(deep) in line
    assert table in line
