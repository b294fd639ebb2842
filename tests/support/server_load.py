"""A load on ``ddbpipe serve``: many signed clients at once mixing DescribePipelines,
QueryObjects, DescribeObjects and PutPipelineDefinition over many pipelines, with the
latency of every request, and a check that no acknowledged write was lost.

Used by the suite's load test (short) and by ``bench/server_bench.py`` (the full figure).
Pipelines are made straight in the state folder before the server starts
(``seed_pipelines``). Each client thread keeps one HTTP connection, signs its requests
with botocore's SigV4 signer and reads the bodies itself; it writes definitions only to
its own share of the pipelines, so the last definition each client wrote must be the one
the server gives back (``verify_writes``).
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ddbpipe.pipeline.definition import definition_from_file, definition_to_api
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.state import StateStore

TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "pipelines" / "export-ondemand.json"
MIX = (
    ("DescribePipelines", 30),
    ("QueryObjects", 25),
    ("DescribeObjects", 25),
    ("PutPipelineDefinition", 20),
)


def definition(mark: str) -> dict[str, Any]:
    """The current export template in API form, its values naming ``mark``."""
    document = json.loads(TEMPLATE.read_text())
    document["values"] = {
        "myDDBTableName": f"Orders-{mark}",
        "myOutputS3Loc": "s3://load/exports",
        "myPipelineLogUri": "s3://load/logs",
    }
    return definition_to_api(definition_from_file(document))


def seed_pipelines(state_dir: Path, count: int, creator: str) -> list[str]:
    """``count`` pipelines made by ``creator`` in the state folder, each with the export
    template; their ids."""
    ids = []
    with StateStore.in_folder(state_dir) as store:
        engine = PipelineEngine(store)
        loaded = definition_from_file(
            {
                **json.loads(TEMPLATE.read_text()),
                "values": {
                    "myDDBTableName": "Orders-seed",
                    "myOutputS3Loc": "s3://load/x",
                    "myPipelineLogUri": "s3://load/l",
                },
            }
        )
        for n in range(count):
            pipeline_id = engine.create_pipeline(f"load-{n:04d}", f"load-{n:04d}", creator=creator)
            engine.put_definition(pipeline_id, loaded)
            ids.append(pipeline_id)
    return ids


@dataclass
class LoadResult:
    """What a load run measured."""

    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_write: dict[str, str] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Requests answered."""
        return sum(len(values) for values in self.latencies.values())

    @property
    def rate(self) -> float:
        """Requests answered a second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float, operation: str | None = None) -> float:
        """The latency (seconds) below which ``fraction`` of requests answered."""
        values = sorted(
            self.latencies.get(operation, [])
            if operation
            else [v for vs in self.latencies.values() for v in vs]
        )
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(fraction * len(values)))]

    def summary(self) -> str:
        """The figures as lines of text."""
        lines = [
            f"{self.requests} requests in {self.seconds:.1f} s: {self.rate:.0f} requests/s, "
            f"p50 {self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} ms",
            f"statuses {dict(self.statuses)}; errors {dict(self.errors) or 'none'}",
        ]
        for name, _ in MIX:
            values = self.latencies.get(name, [])
            if values:
                lines.append(
                    f"  {name:<22} {len(values):>7} requests, mean "
                    f"{statistics.fmean(values) * 1000:6.1f} ms, p50 "
                    f"{self.percentile(0.5, name) * 1000:6.1f} ms, p99 "
                    f"{self.percentile(0.99, name) * 1000:6.1f} ms"
                )
        return "\n".join(lines)


class _Client:
    """One signed client on one kept-alive connection."""

    def __init__(self, url: str, keys: tuple[str, str], region: str) -> None:
        self.url = url.rstrip("/") + "/"
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self.credentials = Credentials(*keys)
        self.region = region

    def call(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"DataPipeline.{operation}",
        }
        request = AWSRequest(method="POST", url=self.url, data=data, headers=headers)
        SigV4Auth(self.credentials, "datapipeline", self.region).add_auth(request)
        self.connection.request("POST", "/", body=data, headers=dict(request.headers.items()))
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else {}


def run_load(
    url: str,
    keys: tuple[str, str],
    region: str,
    pipeline_ids: Sequence[str],
    *,
    clients: int = 50,
    seconds: float = 30.0,
    seed: int = 7,
) -> LoadResult:
    """``clients`` threads calling the server at ``url`` for ``seconds`` (see the module
    doc)."""
    result = LoadResult(seconds)
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    deadline: list[float] = []
    operations = [name for name, weight in MIX for _ in range(weight)]

    def worker(number: int) -> None:
        rng = random.Random(seed + number)
        own = list(pipeline_ids[number::clients])
        client = _Client(url, keys, region)
        latencies: dict[str, list[float]] = {}
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        writes: dict[str, str] = {}
        count = 0
        start_gate.wait()
        while time.monotonic() < deadline[0]:
            operation = rng.choice(operations)
            if operation == "PutPipelineDefinition" and own:
                pipeline_id = rng.choice(own)
                mark = f"{number}-{count}"
                body: dict[str, Any] = {"pipelineId": pipeline_id, **definition(mark)}
            elif operation == "DescribePipelines":
                body = {"pipelineIds": rng.sample(list(pipeline_ids), 3)}
            elif operation == "QueryObjects":
                body = {
                    "pipelineId": rng.choice(pipeline_ids),
                    "sphere": "COMPONENT",
                    "query": {
                        "selectors": [
                            {
                                "fieldName": "name",
                                "operator": {"type": "EQ", "values": ["TableBackupActivity"]},
                            }
                        ]
                    },
                }
            else:
                operation = "DescribeObjects"
                body = {
                    "pipelineId": rng.choice(pipeline_ids),
                    "objectIds": ["Default", "TableBackupActivity", "DDBSourceTable"],
                    "evaluateExpressions": True,
                }
            count += 1
            began = time.perf_counter()
            try:
                status, answer = client.call(operation, body)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                errors[f"{operation}: {type(exc).__name__}"] += 1
                client = _Client(url, keys, region)
                continue
            latencies.setdefault(operation, []).append(time.perf_counter() - began)
            statuses[status] += 1
            if status != 200:
                errors[f"{operation}: {answer.get('__type', status)}"] += 1
            elif operation == "PutPipelineDefinition":
                writes[body["pipelineId"]] = mark
        with lock:
            for name, values in latencies.items():
                result.latencies.setdefault(name, []).extend(values)
            result.statuses.update(statuses)
            result.errors.update(errors)
            result.last_write.update(writes)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline.append(time.monotonic() + seconds)
    began = time.monotonic()
    start_gate.wait()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - began
    return result


def verify_writes(url: str, keys: tuple[str, str], region: str, result: LoadResult) -> list[str]:
    """The pipelines whose definition is not the last one written to them."""
    client = _Client(url, keys, region)
    lost = []
    for pipeline_id, mark in sorted(result.last_write.items()):
        status, answer = client.call("GetPipelineDefinition", {"pipelineId": pipeline_id})
        values = {v["id"]: v["stringValue"] for v in answer.get("parameterValues", [])}
        if status != 200 or values.get("myDDBTableName") != f"Orders-{mark}":
            lost.append(pipeline_id)
    return lost
