"""The README's first command, and inspect over real S3 servers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ddbpipe.cli import cli
from tests.support.samples import V1_EXPORT
from tests.support.servers import Endpoint


def test_demo_writes_and_reads_back_both_backups(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ddbpipe", "demo", "--items", "120", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("identical") == 3
    assert "s3://ddbpipe-demo/backups/" in result.stdout
    [run] = list(tmp_path.iterdir())
    names = {p.name for p in run.iterdir()}
    assert {"_SUCCESS", "manifest", "_table.json"} < names
    assert len(names) == 4  # and one data file
    assert "table ddbpipe-demo-restored" in result.stdout
    verify = CliRunner().invoke(cli, ["inspect", "--verify", str(run)])
    assert verify.exit_code == 0, verify.output
    assert "120 items" in verify.stdout


def upload_sample(endpoint: Endpoint, bucket: str, prefix: str) -> None:
    client = endpoint.client("s3")
    for path in V1_EXPORT.iterdir():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{path.name}", Body=path.read_bytes())


def test_inspect_verify_over_s3(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    upload_sample(endpoint, bucket, "copied/elsewhere/2019-06-01-00-00-00")
    result = CliRunner().invoke(
        cli,
        [
            "inspect",
            "--verify",
            f"s3://{bucket}/copied/elsewhere/2019-06-01-00-00-00",
            "--s3-endpoint-url",
            endpoint.url,
            "--region",
            endpoint.region,
        ],
        env={
            "AWS_ACCESS_KEY_ID": endpoint.access_key,
            "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
        },
    )
    assert result.exit_code == 0, result.output
    assert "2 data files, 5 items" in result.stdout
    assert "every line is valid" in result.stdout


def test_inspect_missing_bucket_is_one_clear_line(moto: Endpoint) -> None:
    result = CliRunner().invoke(
        cli, ["inspect", "s3://no-such-bucket/backups/run", "--s3-endpoint-url", moto.url]
    )
    assert result.exit_code == 6
    assert result.stderr.strip() == "error: bucket 'no-such-bucket' does not exist"


def test_inspect_parent_of_runs_over_s3(moto: Endpoint) -> None:
    moto.client("s3").create_bucket(Bucket="runs")
    upload_sample(moto, "runs", "backups/2019-06-01-00-00-00")
    result = CliRunner().invoke(
        cli, ["inspect", "s3://runs/backups", "--s3-endpoint-url", moto.url]
    )
    assert result.exit_code == 5
    assert "point at one run, for example s3://runs/backups/2019-06-01-00-00-00" in result.stderr
