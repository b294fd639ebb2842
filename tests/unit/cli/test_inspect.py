"""``ddbpipe inspect``: reports, and bad input as one clear line with no traceback."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddbpipe.cli import cli
from tests.support.native import write_native_export
from tests.support.samples import V1_EXPORT
from tests.support.tables import every_type_item

GOOD = b'{"id":{"s":"1"}}\n'


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def backup_with_line(tmp_path: Path, line: bytes) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "part-a").write_bytes(GOOD + line + b"\n" + GOOD)
    return folder


def test_inspect_reports_files_and_counts() -> None:
    code, out, _ = run("inspect", str(V1_EXPORT))
    assert code == 0
    assert "version 3, 2 entries" in out
    assert "2 data files, 5 items" in out
    assert "5d0b2e6c-1f0c-4e8a-9c1e-3b1c7d2f9a10" in out


def test_verify_passes_a_sound_backup() -> None:
    code, out, _ = run("inspect", "--verify", str(V1_EXPORT))
    assert code == 0
    assert "every line is valid" in out


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"id":{"s":"trunc', "malformed JSON"),
        (b'{"id":{"s":"x","n":"1"}}', "has 2 types"),
        (b'{"id":{"s":"2"},"tags":{"sS":[]}}', "empty SS set"),
    ],
)
def test_verify_names_file_line_and_reason(tmp_path: Path, line: bytes, reason: str) -> None:
    folder = backup_with_line(tmp_path, line)
    code, out, err = run("inspect", "--verify", str(folder))
    assert code == 4
    assert f"{folder / 'part-a'}, line 2: " in out
    assert reason in out
    assert "Traceback" not in out + err


def test_verify_reports_missing_listed_files_and_blank_lines(tmp_path: Path) -> None:
    shutil.copytree(V1_EXPORT, tmp_path / "run")
    (tmp_path / "run" / "5d0b2e6c-1f0c-4e8a-9c1e-3b1c7d2f9a10").unlink()
    other = tmp_path / "run" / "c41e8f3a-7b22-4d0e-8a55-90d1e6f2b7c4"
    other.write_bytes(other.read_bytes() + b"\n")
    code, out, _ = run("inspect", "--verify", str(tmp_path / "run"))
    assert code == 4
    assert "manifest lists '5d0b2e6c-1f0c-4e8a-9c1e-3b1c7d2f9a10'" in out
    assert "1 blank line (line 3)" in out


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        ("missing", 6, "not found"),
        ("version2", 4, "manifest version 2 is not supported"),
        ("parent", 5, "point at one run"),
        ("file", 5, "is a file; point at the folder"),
    ],
)
def test_bad_locations_get_one_line(tmp_path: Path, setup: str, code: int, message: str) -> None:
    target = tmp_path / "target"
    if setup == "version2":
        target.mkdir()
        (target / "manifest").write_bytes(
            b'{"name":"DynamoDB-export","version":2,\n"entries": [\n\n]}'
        )
    elif setup == "parent":
        shutil.copytree(V1_EXPORT, target / "2019-06-01-00-00-00")
    elif setup == "file":
        target.mkdir()
        (target / "data").write_bytes(GOOD)
        target = target / "data"
    got, out, err = run("inspect", str(target))
    assert got == code
    assert message in err
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_verify_native_export_and_name_a_damaged_file(tmp_path: Path) -> None:
    folder = write_native_export(tmp_path, [[every_type_item(n) for n in range(4)]])
    code, out, _ = run("inspect", "--verify", str(tmp_path))
    assert code == 0, out
    assert "DynamoDB native export (DYNAMODB_JSON)" in out
    assert "1 data file, 4 items" in out
    [data] = list((folder / "data").iterdir())
    data.write_bytes(gzip.compress(b'{"Item":{"pk":{"S":"other"}}}\n'))
    code, out, _ = run("inspect", "--verify", str(folder))
    assert code == 4
    assert f"problem: {data}: MD5 is" in out.replace("\n", "")
