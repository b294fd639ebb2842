"""A task run again after its worker was lost goes on from its last checkpoint (``after``):
an export segment after its last finished data file, an import file after its last
checkpointed line, a converted file after its last finished output file — and its result
still counts the whole task, every item once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ddbpipe.backups.reader import BackupFile, FileReader, RecordFormat
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.throttle import BucketState
from ddbpipe.formats.datapipeline import encode_items
from ddbpipe.items import KeyAttribute, KeySchema
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores import LocalStore, StoreConfig
from ddbpipe.transfer.convert_task import ConvertedPart, ConvertTask, convert_file
from ddbpipe.transfer.export_task import PageRead, PartWritten, SegmentTask, run_segment
from ddbpipe.transfer.import_task import FileProgress, FileTask, run_file
from ddbpipe.transfer.worker import WorkerContext
from tests.support.tables import every_type_item

FAST = RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0)


class FakeDynamo:
    """Scan pages of 70 items from memory; BatchWriteItem into memory, 1 WCU an item."""

    def __init__(self, items: int = 0) -> None:
        self.items = [every_type_item(n) for n in range(items)]
        self.written: list[dict[str, Any]] = []

    def request(self, operation: str, body: bytes, *, resource: str = "") -> bytes:
        params = orjson.loads(body)
        if operation == "Scan":
            start = 0
            if "ExclusiveStartKey" in params:
                start = int(params["ExclusiveStartKey"]["pk"]["S"].split("-")[1]) + 1
            page = self.items[start : start + 70]
            response: dict[str, Any] = {"Items": page, "ConsumedCapacity": {"CapacityUnits": 4.5}}
            if start + 70 < len(self.items):
                response["LastEvaluatedKey"] = {"pk": page[-1]["pk"]}
            return orjson.dumps(response)
        assert operation == "BatchWriteItem"
        requests = params["RequestItems"]["t"]
        self.written += [r["PutRequest"]["Item"] for r in requests]
        return orjson.dumps(
            {"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": float(len(requests))}]}
        )


class Context(WorkerContext):
    def __init__(self, dynamo: FakeDynamo) -> None:
        self.events: list[object] = []
        super().__init__(BucketState(1e6, 1e6, local=True), self.events.append)
        self.fake = dynamo

    def dynamo_client(self, config: DynamoConfig) -> Any:
        return self.fake


def segment_task(folder: Path) -> SegmentTask:
    return SegmentTask(
        table="t",
        segment=0,
        total_segments=1,
        start_key=None,
        key_names=("pk",),
        consistent_read=False,
        dynamo=DynamoConfig(region="us-east-1"),
        folder_url=str(folder),
        store=StoreConfig(),
        max_items_per_file=100,
        average_item_bytes=400.0,
        retry=FAST,
    )


def test_an_export_segment_goes_on_after_its_last_finished_file(tmp_path: Path) -> None:
    whole = Context(FakeDynamo(350))
    full = run_segment(segment_task(tmp_path / "whole"), whole)
    assert [p.items for p in full.parts] == [100, 100, 100, 50]
    finished = [e for e in whole.events if isinstance(e, PartWritten)]
    # A first attempt finished two files; its worker was lost in the third.
    task = segment_task(tmp_path / "again")
    for event in [*whole.events[:1], finished[0], PageRead(0, 70, 1, 4.5), finished[1]]:
        task = task.after(event)
    assert task.after(PartWritten(1, finished[0].part, {"pk": {"S": "x"}})) is task  # not its own
    assert task.start_key == {"pk": {"S": "item-00199"}}
    again = Context(FakeDynamo(350))
    result = run_segment(task, again)
    assert result.parts[:2] == tuple(full.parts[:2])
    assert [p.items for p in result.parts] == [100, 100, 100, 50]
    read = [i for p in result.parts[2:] for i in _lines(tmp_path / "again" / p.key)]
    assert read == [every_type_item(n)["pk"]["S"] for n in range(200, 350)]


def _lines(path: Path) -> list[str]:
    return [orjson.loads(line)["pk"]["s"] for line in path.read_bytes().splitlines()]


def import_task(path: Path, format: RecordFormat) -> FileTask:
    return FileTask(
        table="t",
        file=BackupFile("part-0", str(path / "part-0"), path.stat().st_size),
        format=format,
        start_line=0,
        schema=KeySchema(KeyAttribute("pk", "S")),
        folder_url=str(path.parent),
        store=StoreConfig(),
        dynamo=DynamoConfig(region="us-east-1"),
        on_error="skip",
        dry_run=False,
        retry=FAST,
    )


def test_an_import_file_goes_on_from_its_checkpointed_line_counting_the_whole_file(
    tmp_path: Path,
) -> None:
    # Repeated keys, blank lines and bad lines on both sides of the checkpoint.
    items = [every_type_item(n if n % 10 else n + 1) for n in range(1300)]
    lines = encode_items(items).splitlines()
    lines[100:100] = [b"", b'{"pk":{"s":"trunc']
    lines[1000:1000] = [b"", b'{"other":{"s":"x"}}']
    (tmp_path / "part-0").write_bytes(b"\n".join(lines) + b"\n")
    task = import_task(tmp_path / "part-0", RecordFormat())
    context = Context(FakeDynamo())
    whole = run_file(task, context)
    assert (whole.items_read, whole.skipped, whole.blank_lines) == (1300, 2, 2)
    assert whole.duplicates > 0
    assert whole.written == 1300 - whole.duplicates
    progress = [e for e in context.events if isinstance(e, FileProgress) and e.counts]
    checkpoint = progress[0]  # the first periodic one: 500 requests in
    assert 500 <= checkpoint.line < 1000
    continued = task.after(checkpoint)
    assert continued.start_line == checkpoint.line
    again_dynamo = FakeDynamo()
    again = run_file(continued, Context(again_dynamo))
    assert again == whole  # every count of the whole file
    assert checkpoint.counts is not None
    assert len(again_dynamo.written) == whole.written - checkpoint.counts.written


def test_a_converted_file_goes_on_after_its_last_finished_output_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    items = [every_type_item(n) for n in range(250)]
    (source / "part-0").write_bytes(encode_items(items))
    out = tmp_path / "out"

    def task(into: str) -> ConvertTask:
        return ConvertTask(
            file=BackupFile("part-0", str(source / "part-0"), 0),
            format=RecordFormat(),
            folder_url=str(source),
            source_store=StoreConfig(),
            out_url=str(out / into),
            store=StoreConfig(),
            to_format="dynamodb-json",
            max_items_per_file=60,
        )

    whole = Context(FakeDynamo())
    full = convert_file(task("whole"), whole)
    assert (full.items, [p.items for p in full.parts]) == (250, [60, 60, 60, 60, 10])
    finished = [e for e in whole.events if isinstance(e, ConvertedPart)]
    assert [e.line for e in finished] == [60, 120, 180, 240, 250]
    continued = task("whole").after(finished[0]).after(finished[1])
    assert (continued.start_line, continued.earlier_parts) == (120, tuple(full.parts[:2]))
    again = convert_file(continued, Context(FakeDynamo()))
    assert again.items == 250
    assert [p.items for p in again.parts] == [60, 60, 60, 60, 10]
    store = LocalStore(out / "whole")
    native = RecordFormat("dynamodb-json")
    keys = [
        item["pk"]["S"]
        for part in again.parts
        for _, item in FileReader(
            store, BackupFile(part.key, store.url_for(part.key), 0, "gzip"), native
        ).items()
    ]
    assert keys == [i["pk"]["S"] for i in items]  # each once, in order
