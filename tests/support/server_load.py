"""A load on ``ddbpipe serve``: many signed clients at once mixing DescribePipelines,
QueryObjects, DescribeObjects and PutPipelineDefinition over many pipelines, with the
latency of every request, and a check that no acknowledged write was lost.

Used by the suite's load test (short) and by ``bench/server_bench.py`` (the full figure).
Pipelines are made straight in the state folder before the server starts
(``seed_pipelines``). The clients are split among ``processes`` client processes, as
real clients are separate programs: 50 threads in one interpreter would wait for its
lock with a response already arrived, and count that wait as the server's latency.
Each client thread connects before the load starts and keeps its connection; it signs
every request with botocore's SigV4 signer (the bodies are serialised up front) and
times only the exchange: from sending the request to having read the whole response.
A client writes definitions only to its own share of the pipelines, so the last
definition each client wrote must be the one the server gives back (``verify_writes``).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
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
_MARK = "LOADMARK"
_PIPELINE_ID = "LOADPIPELINEID"
_START_TIMEOUT = 120.0


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
    """What a load run measured: latencies by operation, and for each answer when it
    arrived (monotonic seconds) and how long it took; ``client_cpu`` is the CPU
    seconds the clients used."""

    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    timeline: list[tuple[float, float]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_write: dict[str, str] = field(default_factory=dict)
    client_cpu: float = 0.0

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

    def merge(self, other: LoadResult) -> None:
        """Add what another set of clients measured (the seconds stay this run's)."""
        for name, values in other.latencies.items():
            self.latencies.setdefault(name, []).extend(values)
        self.timeline.extend(other.timeline)
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.last_write.update(other.last_write)
        self.client_cpu += other.client_cpu

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
        self.signer = SigV4Auth(Credentials(*keys), "datapipeline", region)

    def send(self, operation: str, data: bytes) -> tuple[int, bytes, float]:
        """Sign and send ``data``; the status, the body and the seconds from sending
        to having read the answer."""
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"DataPipeline.{operation}",
        }
        request = AWSRequest(method="POST", url=self.url, data=data, headers=headers)
        self.signer.add_auth(request)
        signed = dict(request.headers.items())
        began = time.perf_counter()
        self.connection.request("POST", "/", body=data, headers=signed)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, payload, time.perf_counter() - began

    def call(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Send ``body``; the status and the decoded answer."""
        status, payload, _ = self.send(operation, json.dumps(body).encode())
        return status, json.loads(payload) if payload else {}


class _Bodies:
    """The requests' bodies, serialised once: a client only picks pipelines and fills
    in its write's mark."""

    def __init__(self, pipeline_ids: Sequence[str]) -> None:
        self.pipeline_ids = list(pipeline_ids)
        self.put = json.dumps({"pipelineId": _PIPELINE_ID, **definition(_MARK)})

    def body(self, operation: str, rng: random.Random, own: Sequence[str], mark: str) -> bytes:
        ids = self.pipeline_ids
        if operation == "PutPipelineDefinition":
            text = self.put.replace(_PIPELINE_ID, rng.choice(own)).replace(_MARK, mark)
        elif operation == "DescribePipelines":
            text = json.dumps({"pipelineIds": rng.sample(ids, 3)})
        elif operation == "QueryObjects":
            text = json.dumps(
                {
                    "pipelineId": rng.choice(ids),
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
            )
        else:
            text = json.dumps(
                {
                    "pipelineId": rng.choice(ids),
                    "objectIds": ["Default", "TableBackupActivity", "DDBSourceTable"],
                    "evaluateExpressions": True,
                }
            )
        return text.encode()


def _run_clients(
    url: str,
    keys: tuple[str, str],
    region: str,
    pipeline_ids: Sequence[str],
    numbers: Sequence[int],
    clients: int,
    seconds: float,
    seed: int,
    started: Callable[[], None],
) -> LoadResult:
    """Clients ``numbers`` (of ``clients``) in threads of this process, from when
    ``started`` returns for ``seconds``."""
    result = LoadResult(seconds)
    lock = threading.Lock()
    bodies = _Bodies(pipeline_ids)
    gate = threading.Barrier(len(numbers) + 1)
    deadline: list[float] = []
    operations = [name for name, weight in MIX for _ in range(weight)]

    def worker(number: int) -> None:
        rng = random.Random(seed + number)
        own = list(pipeline_ids[number::clients])
        client = _Client(url, keys, region)
        client.connection.connect()
        part = LoadResult(seconds)
        count = 0
        gate.wait()
        while time.monotonic() < deadline[0]:
            operation = rng.choice(operations)
            if operation == "PutPipelineDefinition" and not own:
                operation = "DescribeObjects"
            mark = f"{number}-{count}"
            count += 1
            data = bodies.body(operation, rng, own, mark)
            try:
                status, payload, latency = client.send(operation, data)
            except (OSError, http.client.HTTPException) as exc:
                part.errors[f"{operation}: {type(exc).__name__}"] += 1
                client = _Client(url, keys, region)
                continue
            part.latencies.setdefault(operation, []).append(latency)
            part.timeline.append((time.monotonic(), latency))
            part.statuses[status] += 1
            if status != 200:
                try:
                    code = json.loads(payload).get("__type", status)
                except ValueError:
                    code = status
                part.errors[f"{operation}: {code}"] += 1
            elif operation == "PutPipelineDefinition":
                part.last_write[json.loads(data)["pipelineId"]] = mark
        with lock:
            result.merge(part)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in numbers]
    for thread in threads:
        thread.start()
    cpu = time.process_time()
    started()
    deadline.append(time.monotonic() + seconds)
    gate.wait()
    for thread in threads:
        thread.join()
    result.client_cpu = time.process_time() - cpu
    return result


def _client_process(
    url: str,
    keys: tuple[str, str],
    region: str,
    pipeline_ids: Sequence[str],
    numbers: Sequence[int],
    clients: int,
    seconds: float,
    seed: int,
    ready: Any,
    results: Any,
) -> None:
    """One client process: its clients' result goes on the ``results`` queue."""

    def started() -> None:
        ready.wait(_START_TIMEOUT)

    results.put(
        _run_clients(url, keys, region, pipeline_ids, numbers, clients, seconds, seed, started)
    )


def run_load(
    url: str,
    keys: tuple[str, str],
    region: str,
    pipeline_ids: Sequence[str],
    *,
    clients: int = 50,
    seconds: float = 30.0,
    processes: int = 4,
    seed: int = 7,
) -> LoadResult:
    """``clients`` clients split among ``processes`` processes calling the server at
    ``url`` for ``seconds`` (see the module doc); ``processes=1`` runs them in this one."""
    if processes <= 1:
        began: list[float] = []
        result = _run_clients(
            url,
            keys,
            region,
            pipeline_ids,
            range(clients),
            clients,
            seconds,
            seed,
            lambda: began.append(time.monotonic()),
        )
        return _timed(result, began[0])
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(
            target=_client_process,
            args=(
                url,
                keys,
                region,
                list(pipeline_ids),
                range(p, clients, processes),
                clients,
                seconds,
                seed,
                ready,
                results,
            ),
            daemon=True,
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        ready.wait(_START_TIMEOUT)
        began_at = time.monotonic()
        result = LoadResult(seconds)
        for _ in workers:
            result.merge(results.get(timeout=seconds + _START_TIMEOUT))
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    return _timed(result, began_at)


def _timed(result: LoadResult, began_at: float) -> LoadResult:
    """``result`` with its seconds from ``began_at`` to the last answer."""
    if result.timeline:
        result.seconds = max(arrived for arrived, _ in result.timeline) - began_at
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
