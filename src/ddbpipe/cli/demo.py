"""``ddbpipe demo``: the whole job on an embedded DynamoDB + S3, no AWS account needed.

With ``--console``, ``ddbpipe serve`` and its web console instead, on the same embedded
DynamoDB + S3: sample tables, one backup to restore, and a demo user whose access key and
console password are printed; Ctrl-C stops it and removes its state folder.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ddbpipe.backups.opener import open_backup
from ddbpipe.cli.errors import handle_errors
from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.ops import MAX_BATCH_ITEMS, scan_page, write_batch
from ddbpipe.dynamo.table import create_table
from ddbpipe.errors import ConfigError, FatalError
from ddbpipe.items import Item, KeyAttribute, KeySchema, key_of, validate_item
from ddbpipe.retry import DEFAULT_RETRY_POLICY, Backoff, call_with_retries
from ddbpipe.sessions import make_client, new_session
from ddbpipe.stores import Store, StoreConfig, open_store
from ddbpipe.transfer.export import ExportConfig, export_table
from ddbpipe.transfer.imports import ImportConfig, import_table

__all__ = ["demo_command", "sample_items"]

DEMO_TABLE = "ddbpipe-demo"
DEMO_RESTORED = "ddbpipe-demo-restored"
DEMO_BUCKET = "ddbpipe-demo"
DEMO_REGION = "us-east-1"
DEMO_KEYS = KeySchema(KeyAttribute("pk", "S"), KeyAttribute("sk", "N"))
DEFAULT_ITEMS = 1000


def sample_items(count: int) -> Iterator[Item]:
    """``count`` items that between them hold every DynamoDB type and its edge cases."""
    every_byte = base64.b64encode(bytes(range(256))).decode()
    for n in range(count):
        yield {
            "pk": {"S": f"customer#{n % 97:03d}"},
            "sk": {"N": str(n)},
            "name": {"S": ["Zoë", "山田 太郎", 'O\'Brien "Bob"', "line\u2028break", ""][n % 5]},
            "balance": {
                "N": "12345678901234567890.123456789012345678" if n % 7 == 0 else f"-{n}.5"
            },
            "avatar": {
                "B": every_byte if n % 11 == 0 else base64.b64encode(n.to_bytes(4, "big")).decode()
            },
            "active": {"BOOL": n % 2 == 0},
            "deleted_at": {"NULL": True},
            "tags": {"SS": ["new", f"tier-{n % 3}", ""]},
            "scores": {"NS": [str(n), "0.000001", "1E+10"]},
            "keys": {"BS": ["AA==", base64.b64encode(bytes([n % 256, 255])).decode()]},
            "address": {
                "M": {
                    "street": {"S": f"{n} Main St"},
                    "geo": {"L": [{"N": "47.6"}, {"N": "-122.3"}]},
                    "empty": {"M": {"map": {"M": {}}, "list": {"L": []}}},
                }
            },
            "history": {
                "L": [{"S": "created"}, {"N": str(n * 3)}, {"BOOL": False}, {"NULL": True}]
            },
        }


@contextmanager
def embedded_aws() -> Iterator[str]:
    """Run moto's DynamoDB + S3 in this process on a free loopback port; yield its URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ConfigError(
            "the demo needs its embedded emulator: pip install 'ddbpipe[demo]'"
        ) from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # The emulator takes any credentials; these keep the user's own out of the demo.
    fake = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}
    saved = {name: os.environ.get(name) for name in (*fake, "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    os.environ.update(fake)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _put_all(client: DynamoClient, items: list[Item], table: str = DEMO_TABLE) -> int:
    for start in range(0, len(items), MAX_BATCH_ITEMS):
        pending = items[start : start + MAX_BATCH_ITEMS]
        backoff = Backoff(DEFAULT_RETRY_POLICY, f"writing demo items to {table}")
        while pending:
            pending = _write_batch(client, pending, table)
            if pending:
                backoff.failed(f"{len(pending)} items left unprocessed")
    return len(items)


def _write_batch(client: DynamoClient, batch: list[Item], table: str = DEMO_TABLE) -> list[Item]:
    """Write ``batch``; return what DynamoDB left unprocessed."""
    return call_with_retries(
        lambda: write_batch(client, table, batch).unprocessed,
        DEFAULT_RETRY_POLICY,
        what=f"BatchWriteItem to {table}",
    )


def _scan_all(client: DynamoClient, table: str) -> list[Item]:
    items: list[Item] = []
    start: Item | None = None
    while True:
        page = scan_page(client, table, start_key=start)
        items.extend(page.items)
        start = page.last_key
        if not start:
            return items


def _read_back(store: Store) -> list[Item]:
    backup = open_backup(store)
    return [item for file in backup.files for _, item in backup.iter_items(file)]


def _same_items(expected: list[Item], got: list[Item]) -> bool:
    by_key = {key_of(item, DEMO_KEYS): item for item in expected}
    return len(got) == len(expected) and all(by_key.get(key_of(i, DEMO_KEYS)) == i for i in got)


DEMO_USER = "demo"
DEMO_PASSWORD = "demo-console"
DEMO_CONSOLE_TABLES = ("Forum", "Thread", "Reply")
# The inline policy the DynamoDB guide suggests for the EMR calls of its templates: they
# must carry the tag dynamodbdatapipeline.
EMR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "elasticmapreduce:DescribeStep",
                "elasticmapreduce:DescribeCluster",
                "elasticmapreduce:RunJobFlow",
                "elasticmapreduce:TerminateJobFlows",
            ],
            "Resource": "*",
            "Condition": {"Null": {"elasticmapreduce:RequestTag/dynamodbdatapipeline": "false"}},
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _console_demo(count: int, port: int) -> None:
    """``ddbpipe serve`` with its console on the embedded DynamoDB + S3 until Ctrl-C."""
    from ddbpipe.cli.serve import run_server, server_config
    from ddbpipe.server.access_keys import new_access_key
    from ddbpipe.server.identities import IdentityStore

    console = Console(highlight=False)
    state = Path(tempfile.mkdtemp(prefix="ddbpipe-demo-console-"))
    try:
        with embedded_aws() as endpoint:
            session = new_session()
            client = DynamoClient(session, region=DEMO_REGION, endpoint_url=endpoint)
            for name in (DEMO_TABLE, *DEMO_CONSOLE_TABLES):
                create_table(client, name, DEMO_KEYS)
            items = list(sample_items(count))
            _put_all(client, items)
            for name in DEMO_CONSOLE_TABLES:
                _put_all(client, items[: max(1, count // 10)], table=name)
            s3_client = make_client(session, "s3", region_name=DEMO_REGION, endpoint_url=endpoint)
            s3_client.create_bucket(Bucket=DEMO_BUCKET)
            dynamo = DynamoConfig(region=DEMO_REGION, endpoint_url=endpoint)
            s3 = StoreConfig(region=DEMO_REGION, endpoint_url=endpoint)
            prefix = f"s3://{DEMO_BUCKET}/backups"
            export_table(
                DEMO_TABLE,
                f"{prefix}/{DEMO_TABLE}",
                ExportConfig(workers=1, dynamo=dynamo, store=s3),
            )
            key = new_access_key()
            store = IdentityStore(state)
            try:
                store.add_user(
                    DEMO_USER,
                    access_key=key,
                    managed=(
                        "AWSDataPipeline_FullAccess",
                        "AmazonDynamoDBFullAccess",
                        "AmazonS3FullAccess",
                    ),
                    policies={"EMRforDynamoDBDataPipeline": json.dumps(EMR_POLICY)},
                    password=DEMO_PASSWORD,
                )
            finally:
                store.close()
            config = server_config(
                state=state,
                region=DEMO_REGION,
                endpoint_url=endpoint,
                s3_endpoint_url=endpoint,
                port=port or _free_port(),
                backup_prefixes=(prefix,),
                workers=1,
            )

            def announce(url: str) -> None:
                console.print(f"embedded DynamoDB + S3 emulator at {endpoint}", soft_wrap=True)
                tables = ", ".join((DEMO_TABLE, *DEMO_CONSOLE_TABLES))
                console.print(f"tables {tables}; a backup under {prefix}", soft_wrap=True)
                console.print(f"\n[bold]The console:[/] {url}")
                console.print(f"  Access key ID:     {key.access_key_id}")
                console.print(f"  Secret access key: {key.secret_access_key}")
                console.print(f"  (or user name {DEMO_USER}, password {DEMO_PASSWORD})")
                console.print("Ctrl-C stops it.\n")

            run_server(config, announce=announce)
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        shutil.rmtree(state, ignore_errors=True)


@click.command("demo")
@click.option("--items", "count", default=DEFAULT_ITEMS, show_default=True, help="Items to create.")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Local folder that receives a copy of the backup.",
)
@click.option(
    "--console",
    "with_console",
    is_flag=True,
    help="Run ddbpipe serve and its web console on the embedded DynamoDB + S3 instead, with "
    "sample tables and a demo user; prints the URL and the sign-in keys. Ctrl-C stops it.",
)
@click.option(
    "--port",
    type=int,
    default=0,
    help="The console's port with --console (default: a free one).",
)
@handle_errors
def demo_command(count: int, output: Path, with_console: bool, port: int) -> None:
    """Export a sample table from an embedded DynamoDB to S3 and a folder, then restore it.

    With --console, serve the web console on the embedded DynamoDB + S3 instead.
    """
    if with_console:
        _console_demo(count, port)
        return
    console = Console(highlight=False)
    started = time.monotonic()
    with embedded_aws() as endpoint:
        console.print(f"embedded DynamoDB + S3 emulator at {endpoint}", soft_wrap=True)
        session = new_session()
        client = DynamoClient(session, region=DEMO_REGION, endpoint_url=endpoint)
        create_table(client, DEMO_TABLE, DEMO_KEYS)
        items = list(sample_items(count))
        for item in items:
            validate_item(item, DEMO_KEYS)
        written = _put_all(client, items)
        console.print(f"created table {DEMO_TABLE!r} with {written:,} items of every DynamoDB type")
        s3_client = make_client(session, "s3", region_name=DEMO_REGION, endpoint_url=endpoint)
        s3_client.create_bucket(Bucket=DEMO_BUCKET)
        dynamo = DynamoConfig(region=DEMO_REGION, endpoint_url=endpoint)
        s3 = StoreConfig(region=DEMO_REGION, endpoint_url=endpoint)
        table = Table(title="Data Pipeline backups: exported, then restored into a new table")
        table.add_column("step")
        table.add_column("where", overflow="fold")
        table.add_column("items", justify="right")
        table.add_column("check")
        source_items = _scan_all(client, DEMO_TABLE)
        backups = []
        for destination, store in (
            (f"s3://{DEMO_BUCKET}/backups/{DEMO_TABLE}", s3),
            (str(output.resolve()), StoreConfig()),
        ):
            result = export_table(
                DEMO_TABLE, destination, ExportConfig(workers=1, dynamo=dynamo, store=store)
            )
            same = _same_items(source_items, _read_back(open_store(result.folder, store)))
            table.add_row("export", result.folder, f"{result.items:,}", _verdict(same))
            backups.append((result.folder, store))
        folder, store = backups[0]
        restored = import_table(
            folder,
            DEMO_RESTORED,
            ImportConfig(workers=1, create_table=True, dynamo=dynamo, store=store),
        )
        same = _same_items(source_items, _scan_all(client, DEMO_RESTORED))
        table.add_row("import", f"table {DEMO_RESTORED}", f"{restored.written:,}", _verdict(same))
        console.print(table)
        if not same:
            raise FatalError(f"table {DEMO_RESTORED!r} does not hold the items of {DEMO_TABLE!r}")
    console.print(f"done in {time.monotonic() - started:.1f} s; look inside with:")
    console.print(f"  ddbpipe inspect --verify {backups[1][0]}", soft_wrap=True)


def _verdict(same: bool) -> str:
    return "[green]identical[/]" if same else "[red]DIFFERENT[/]"
