"""An error raised inside a worker process reaches the command as itself: its own message
and exit code, with two workers as with one (not "a worker process died")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fault_proxy import ErrorReply, ExactRule, FaultProxyFactory
from tests.support.jobs import endpoint_flags, run_ddbpipe, write_backup
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table

# (DynamoDB error code, exit code, what the message says; {table} is filled in)
DYNAMODB_ERRORS = [
    ("ResourceNotFoundException", 6, "table '{table}' not found in region us-east-1"),
    ("AccessDeniedException", 7, "access denied: dynamodb:{operation} on {table}"),
    ("ValidationException", 1, "DynamoDB error ValidationException: {operation}: "),
]


@pytest.mark.parametrize(("code", "exit_code", "message"), DYNAMODB_ERRORS)
def test_an_export_worker_error_keeps_its_type(
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
    code: str,
    exit_code: int,
    message: str,
) -> None:
    table = f"werr-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(200)])
    proxy = fault_proxy(dynalite, exact_rules=[ExactRule(ErrorReply(400, code), "Scan")])
    result = run_ddbpipe(
        "export", table, str(tmp_path), *endpoint_flags(proxy.via(dynalite)),
        "--workers", "2", "--segments", "2",
    )  # fmt: skip
    assert result.returncode == exit_code, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: " + message.format(table=table, operation="Scan")), first
    assert "worker process died" not in result.stderr
    assert "resume with: ddbpipe export --resume" in result.stderr


@pytest.mark.parametrize(("code", "exit_code", "message"), DYNAMODB_ERRORS)
def test_an_import_worker_error_keeps_its_type(
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
    code: str,
    exit_code: int,
    message: str,
) -> None:
    table = f"werr-{unique_name}"
    make_table(dynalite, table, [])
    folder = write_backup(tmp_path / "b", [every_type_item(n) for n in range(100)], 50)
    proxy = fault_proxy(dynalite, exact_rules=[ExactRule(ErrorReply(400, code), "BatchWriteItem")])
    result = run_ddbpipe(
        "import", str(folder), table, *endpoint_flags(proxy.via(dynalite)), "--workers", "2"
    )
    first = result.stderr.splitlines()[0]
    if code == "ValidationException":  # refused whatever the item: the item is named
        assert result.returncode == 4, result.stderr
        assert first.startswith(f"error: {folder}/part-0000"), first
        assert ", line 1: DynamoDB refused the item: " in first
    else:
        assert result.returncode == exit_code, result.stderr
        assert first.startswith("error: " + message.format(table=table, operation="BatchWriteItem"))
    assert "worker process died" not in result.stderr


def test_a_bad_line_in_a_worker_names_file_and_line(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"wbad-{unique_name}"
    make_table(dynalite, table, [])
    folder = write_backup(tmp_path / "b", [every_type_item(n) for n in range(100)], 50)
    with (folder / "part-000050").open("ab") as data:
        data.write(b'{"pk":{"s":"bad"},"n":{"n":"not a number"}}\n')
    result = run_ddbpipe("import", str(folder), table, *endpoint_flags(dynalite), "--workers", "2")
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith(f"error: {folder}/part-000050, line 51: ")


def test_a_bucket_gone_mid_export_is_named_once(
    dynalite: Endpoint,
    moto: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
) -> None:
    table = f"wbkt-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(200)])
    bucket = f"bucket-{unique_name}"
    moto.client("s3").create_bucket(Bucket=bucket)
    # The bucket disappears once the export has started writing.
    s3 = fault_proxy(
        moto, exact_rules=[ExactRule(ErrorReply(404, "NoSuchBucket"), "PutObject", after=1)]
    )
    result = run_ddbpipe(
        "export", table, f"s3://{bucket}/backups", *endpoint_flags(dynalite),
        "--s3-endpoint-url", s3.url, "--workers", "2", "--segments", "2",
        "--items-per-file", "20",
    )  # fmt: skip
    assert result.returncode == 6, result.stderr
    assert result.stderr.splitlines()[0] == f"error: bucket '{bucket}' does not exist"
