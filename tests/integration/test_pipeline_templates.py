"""Both generations of the console's export and import templates, run unchanged with
only their parameter values, on moto (DynamoDB and S3) and on dynalite with rclone's S3:
the export is the backup `ddbpipe export` makes, the import restores it, and every
attempt leaves its Activity.log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ddbpipe.backups.opener import open_backup
from ddbpipe.formats.datapipeline import decode_manifest
from ddbpipe.stores import StoreConfig, open_store
from ddbpipe.transfer.export import ExportConfig, export_table
from tests.support.compare import canonical, canonical_set
from tests.support.pipelines import PIPELINES, connection_args, run_cli, run_instances
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table, scan_all

GENERATIONS = {
    "current": ("export-ondemand", "import-ondemand"),
    "2017": ("export-2017", "import-2017"),
}


@pytest.fixture(params=["moto", "dynalite+rclone"])
def servers(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[Endpoint, Endpoint]:
    if request.param == "moto":
        moto: Endpoint = request.getfixturevalue("moto")
        return moto, moto
    dynalite: Endpoint = request.getfixturevalue("dynalite")
    rclone: Endpoint = request.getfixturevalue("rclone")
    # One set of credentials reaches both: dynalite takes any, rclone checks them.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", rclone.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rclone.secret_key)
    return dynalite, rclone


def items_of(folder: str, store: StoreConfig) -> list[dict[str, Any]]:
    backup = open_backup(folder, store)
    return [item for f in backup.files for _, item in backup.iter_items(f)]


def listed(store: StoreConfig, url: str) -> list[str]:
    """Every key under ``url``, recursively."""
    root = open_store(url, store)
    keys, folders = [], [""]
    while folders:
        prefix = folders.pop()
        listing = root.list_dir(prefix)
        keys += [info.key for info in listing.files]
        folders += [f"{prefix}/{name}".lstrip("/") for name in listing.folders]
    return sorted(keys)


@pytest.mark.parametrize("generation", ["current", "2017"])
def test_templates_export_and_import_unchanged(
    servers: tuple[Endpoint, Endpoint],
    generation: str,
    unique_name: str,
    tmp_path: Path,
) -> None:
    dynamodb, s3 = servers
    source, target = f"src-{unique_name}", f"dst-{unique_name}"
    make_table(dynamodb, source, [every_type_item(n) for n in range(120)])
    # The target already holds items: some with the backup's keys, some not.
    stale = [{"pk": {"S": f"item-{n:05d}"}, "old": {"S": "stale"}} for n in range(0, 120, 10)]
    others = [{"pk": {"S": f"other-{n}"}, "keep": {"N": str(n)}} for n in range(7)]
    make_table(dynamodb, target, stale + others)
    bucket = f"bucket-{unique_name}"
    s3.client("s3").create_bucket(Bucket=bucket)
    store = StoreConfig(region=s3.region, endpoint_url=s3.url)
    state = tmp_path / "state"
    export_name, import_name = GENERATIONS[generation]
    connection = [*connection_args(dynamodb, s3), "--state", str(state), "--workers", "1"]
    logs = (
        []
        if generation == "2017"
        else ["--parameter-values", f"myPipelineLogUri=s3://{bucket}/logs"]
    )
    once = ["--once"] if generation == "2017" else []  # the 2017 export runs daily

    code, document, stderr = run_cli(
        "pipeline",
        "run",
        str(PIPELINES / f"{export_name}.json"),
        "--parameter-values",
        f"myDDBTableName={source}",
        "--parameter-values",
        f"myOutputS3Loc=s3://{bucket}/exports",
        *logs,
        *once,
        *connection,
    )
    assert code == 0, stderr
    exported = run_instances(document)
    assert {item["status"] for item in exported.values()} == {"FINISHED"}
    activity = exported["TableBackupActivity"]
    stamp = activity["scheduled_start"].replace("T", "-").replace(":", "-")
    folder = f"s3://{bucket}/exports/{stamp}"
    assert activity["summary"] == f"exported 120 items of {source} to {folder}"

    # The same backup as `ddbpipe export` of the same table.
    reference = export_table(
        source,
        f"s3://{bucket}/reference",
        ExportConfig(dynamo=dynamo_config(dynamodb), store=store, workers=1),
    )
    ours = items_of(folder, store)
    assert canonical_set(ours) == canonical_set(items_of(reference.folder, store))
    assert canonical_set(ours) == canonical_set(scan_all(dynamodb, source))
    root = open_store(folder, store)
    theirs = open_store(reference.folder, store)
    for marker in ("_SUCCESS", "manifest", "_table.json"):
        assert root.exists(marker)
    assert not root.exists("_checkpoint.json")
    our_urls = decode_manifest(root.read_bytes("manifest")).urls
    their_urls = decode_manifest(theirs.read_bytes("manifest")).urls
    assert len(our_urls) == len(their_urls) >= 1
    assert all(url.startswith(folder + "/") for url in our_urls)
    assert root.read_bytes("_SUCCESS") == theirs.read_bytes("_SUCCESS")
    ours_table = orjson.loads(root.read_bytes("_table.json"))["table"]
    assert (
        ours_table["KeySchema"]
        == orjson.loads(theirs.read_bytes("_table.json"))["table"]["KeySchema"]
    )

    code, document, stderr = run_cli(
        "pipeline",
        "run",
        str(PIPELINES / f"{import_name}.json"),
        "--parameter-values",
        f"myDDBTableName={target}",
        "--parameter-values",
        f"myInputS3Loc={folder}",
        *logs,
        *connection,
    )
    assert code == 0, stderr
    imported = run_instances(document)
    assert imported["TableLoadActivity"]["status"] == "FINISHED"
    restored = canonical_set(scan_all(dynamodb, target))
    assert len(restored) == 120 + len(others)
    for item in scan_all(dynamodb, source):  # same-key items replaced whole
        assert restored[("S", item["pk"]["S"])] == canonical(item)
    for item in others:  # the rest untouched
        assert restored[("S", item["pk"]["S"])] == canonical(item)

    # Each attempt's Activity.log, under pipelineLogUri or (2017: none) the state folder.
    for document_instances, component in (
        (exported, "TableBackupActivity"),
        (imported, "TableLoadActivity"),
    ):
        log = document_instances[component]["log"]
        assert log.endswith(
            f"/{component}/{document_instances[component]['instance_id']}/"
            f"{document_instances[component]['instance_id']}_Attempt=1/Activity.log"
        )
        if generation == "2017":
            assert log.startswith(str(state / "logs"))
            text = Path(log).read_text()
        else:
            assert log.startswith(f"s3://{bucket}/logs/")
            folder_url, _, name = log.rpartition("/")
            text = open_store(folder_url, store).read_bytes(name).decode()
        assert "finished:" in text
    if generation == "current":
        logged = listed(store, f"s3://{bucket}/logs")
        assert len([key for key in logged if key.endswith("/Activity.log")]) == 2
