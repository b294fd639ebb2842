"""Resume resumes: the printed command works as printed from any folder, keeps every
option that shapes the output, never records a rejected line twice, and an unfinished
folder is named as what it is."""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path

import orjson

from ddbpipe.backups.opener import open_backup
from tests.support.compare import canonical_set
from tests.support.jobs import (
    endpoint_flags,
    parts_in_checkpoint,
    run_ddbpipe,
    start_ddbpipe,
    table_size,
    wait_for,
    write_backup,
)
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all


def resume_command(stderr: str) -> list[str]:
    """The printed resume command, as arguments after ``ddbpipe``."""
    [line] = [line for line in stderr.splitlines() if "resume with: " in line]
    words = shlex.split(line.partition("resume with: ")[2])
    assert words[0] == "ddbpipe"
    return words[1:]


def test_an_import_from_a_relative_path_resumes_by_the_printed_command(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"rel-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(2000)]
    write_backup(tmp_path / "b", items, per_file=500)
    process = start_ddbpipe(
        "import", "b", table, *endpoint_flags(dynalite), "--max-wcu", "150", "--write-ratio",
        "1", "--workers", "2", cwd=tmp_path,
    )  # fmt: skip
    wait_for(lambda: table_size(dynalite, table) >= 300, "items written")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    command = resume_command(err)
    assert command[:4] == ["import", "--resume", str(tmp_path / "b"), table]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = run_ddbpipe(*command, "--max-wcu", "100000", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)


def test_export_resume_keeps_the_items_per_file_it_started_with(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"ipf-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(3000)])
    process = start_ddbpipe(
        "export", table, str(tmp_path), *endpoint_flags(dynalite), "--max-rcu", "40",
        "--read-ratio", "1", "--segments", "2", "--workers", "2", "--items-per-file", "300",
    )  # fmt: skip
    wait_for(lambda: parts_in_checkpoint(tmp_path) >= 1, "a finished data file")
    os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    [folder] = [p.parent for p in tmp_path.rglob("_checkpoint.json")]
    # The paused message counts what is in checkpointed data files, nothing more.
    kept = orjson.loads((folder / "_checkpoint.json").read_bytes())
    done = sum(p[1] for s in kept["segments"].values() for p in s["parts"])
    assert f"stopped; {done:,} items are in finished data files" in err
    resumed = run_ddbpipe(*resume_command(err), "--max-rcu", "100000")
    assert resumed.returncode == 0, resumed.stderr
    backup = open_backup(str(folder))
    counts = [sum(1 for _ in backup.iter_items(f)) for f in backup.files]
    assert sum(counts) == 3000
    assert max(counts) == 300


def test_a_native_export_resumed_from_its_json_keeps_every_option_that_shapes_it(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"nat-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(3000)])
    process = start_ddbpipe(
        "export", table, str(tmp_path), *endpoint_flags(dynalite), "--max-rcu", "40",
        "--read-ratio", "0.9", "--segments", "3", "--workers", "2", "--items-per-file", "250",
        "--format", "dynamodb-json", "--consistent-read", "--json",
    )  # fmt: skip
    wait_for(lambda: parts_in_checkpoint(tmp_path) >= 1, "a finished data file")
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    error = orjson.loads(out)["error"]
    assert error["code"] == 143
    [checkpoint] = tmp_path.rglob("_checkpoint.json")
    kept = orjson.loads(checkpoint.read_bytes())
    assert error["items_done"] == sum(p[1] for s in kept["segments"].values() for p in s["parts"])
    shape = {k: kept[k] for k in ("format", "total_segments", "consistent_read", "items_per_file")}
    assert shape == {
        "format": "dynamodb-json",
        "total_segments": 3,
        "consistent_read": True,
        "items_per_file": 250,
    }
    assert kept["read_ratio"] == 0.9
    words = shlex.split(error["resume_command"])
    assert words[:3] == ["ddbpipe", "export", "--resume"]
    # Nothing but the folder (and the connection) is needed: the shape comes from the
    # checkpoint, not from options given again.
    assert not {"--format", "--segments", "--items-per-file", "--consistent-read"} & set(words)
    resumed = run_ddbpipe(*words[1:], "--max-rcu", "100000", "--json")
    assert resumed.returncode == 0, resumed.stderr
    [result] = orjson.loads(resumed.stdout)["results"]
    assert result["items"] == 3000
    assert result["segments"] == 3
    backup = open_backup(result["folder"])
    assert backup.format == "dynamodb-json"
    counts = [sum(1 for _ in backup.iter_items(f)) for f in backup.files]
    assert sum(counts) == 3000
    assert max(counts) <= 250


def test_a_rejected_line_is_recorded_once_however_often_the_import_resumes(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"rej-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(1500)]
    folder = write_backup(tmp_path / "b", items, per_file=1500)
    data = (folder / "part-000000").read_bytes().splitlines(keepends=True)
    bad_lines = [100, 700, 1200]
    for line in bad_lines:
        data[line - 1] = b'{"pk":{"s":"bad"},"n":{"n":"not a number"}}\n'
    (folder / "part-000000").write_bytes(b"".join(data))
    rejects = tmp_path / "rejects.jsonl"
    options = [*endpoint_flags(dynalite), "--on-error", "skip", "--rejects", str(rejects)]
    # Killed (its last progress unsaved: lines are read again), then stopped after a resume.
    for resume, signum in (([], signal.SIGKILL), (["--resume"], signal.SIGINT)):
        before = table_size(dynalite, table)
        process = start_ddbpipe(
            "import", str(folder), table, *options, *resume, "--max-wcu", "200",
            "--write-ratio", "1", "--workers", "1",
        )  # fmt: skip
        wait_for(lambda n=before: table_size(dynalite, table) >= n + 150, "items written")
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        assert process.returncode in (130, -signal.SIGKILL), err
    finished = run_ddbpipe("import", str(folder), table, *options, "--resume")
    assert finished.returncode == 0, finished.stderr
    lines = sorted(orjson.loads(r)["line"] for r in rejects.read_bytes().splitlines())
    assert lines == bad_lines
    good = [item for n, item in enumerate(items, 1) if n not in bad_lines]
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(good)


def test_an_unfinished_export_is_named_and_how_to_finish_it(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"unf-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(3000)])
    for export_format in ("datapipeline", "dynamodb-json"):
        dest = tmp_path / export_format
        process = start_ddbpipe(
            "export", table, str(dest), *endpoint_flags(dynalite), "--max-rcu", "40",
            "--read-ratio", "1", "--workers", "1", "--items-per-file", "100",
            "--format", export_format,
        )  # fmt: skip
        wait_for(lambda d=dest: parts_in_checkpoint(d) >= 1, "a finished data file")
        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)
        [folder] = [p.parent for p in dest.rglob("_checkpoint.json")]
        result = run_ddbpipe(
            "import", str(folder), f"other-{unique_name}", *endpoint_flags(dynalite)
        )
        assert result.returncode == 5, result.stderr
        assert result.stderr.splitlines() == [
            f"error: {folder} is an export that did not finish (it has _checkpoint.json and "
            "no manifest); resume it to finish it",
            f"finish it with: ddbpipe export --resume {folder} --region {dynalite.region} "
            f"--endpoint-url {dynalite.url}",
        ]


def test_a_failed_conversion_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = write_backup(tmp_path / "b", [every_type_item(n) for n in range(3000)], 1000)
    with (folder / "part-002000").open("ab") as data:
        data.write(b'{"pk":{"s":"bad"},"n":{"n":"not a number"}}\n')
    out = tmp_path / "out"
    result = run_ddbpipe("convert", str(folder), str(out), "--to", "ion", "--items-per-file", "500")
    assert result.returncode == 4, result.stderr
    assert "part-002000, line 1001" in result.stderr
    assert "nothing was kept: what was written to" in result.stderr
    assert not any(p.is_file() for p in out.rglob("*"))
