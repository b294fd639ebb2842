"""How fast the web console's pages are with many pipelines.

A scratch state folder gets N pipelines (1,000 by default), each the console's export
template for one table, activated and run by hand through the engine (nine in ten
finish, one in ten fails with a stack trace), so that each has instances and attempts.
A moto server holds 20 tables for the Tables page. Then, signed in as a user with
``AWSDataPipeline_FullAccess`` and ``AmazonDynamoDBFullAccess`` (every pipeline and
table goes through the policy evaluation):

- server-side render: each page requested from the ASGI app in this process (no
  network, no HTTP server), median and 95th percentile;
- HTTP round trip: the same pages from a real ``ddbpipe serve`` over the same state
  folder, with urllib.

Pages: the pipeline list (the first 100 of all N, filtered and authorised), one
pipeline's page, and the Tables page (table descriptions cached for 10 s, as served).
The target is under 200 ms for each.

Run on demand (the test suite never runs it):

    .venv/bin/python bench/console_bench.py
    .venv/bin/python bench/console_bench.py --pipelines 5000 --repeat 30 --json /tmp/c.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from processes import bench_env, free_port, install_cleanup, spawn, stop_process

from ddbpipe.pipeline.attempts import AttemptOutcome
from ddbpipe.pipeline.definition import definition_from_file
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.state import StateStore
from ddbpipe.pipeline.templates import console_template
from ddbpipe.server.access_keys import new_access_key

TARGET_MS = 200.0
REGION = "us-east-1"
TABLES = 20
PAGES = ("list", "detail", "tables")


def fill_state(state: Path, count: int) -> str:
    """``count`` pipelines that ran; the id of one that failed."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    failed_id = ""
    with StateStore.in_folder(state) as store:
        engine = PipelineEngine(store)
        for n in range(count):
            document = console_template("export", [f"Table{n % TABLES}"])
            document["values"].update(
                {"myOutputS3Loc": f"s3://bench/exports/{n}", "myPipelineLogUri": "s3://bench/logs"}
            )
            moment = now + timedelta(seconds=n)
            pipeline_id = engine.create_pipeline(
                f"export-{n:04d}",
                f"u{n}",
                tags={"dynamodbdatapipeline": "true", "team": f"t{n % 7}"},
                creator="AIDABENCH",
                now=moment,
            )
            engine.put_definition(pipeline_id, definition_from_file(document), now=moment)
            engine.activate(pipeline_id, now=moment)
            tick = engine.tick(pipeline_id, now=moment)
            for ready in tick.ready:
                ticket, _ = engine.start_attempt(
                    pipeline_id, ready.instance_id, hostname="bench", now=moment
                )
                if ticket is None:
                    continue
                if n % 10 == 9:
                    failed_id = pipeline_id
                    outcome = AttemptOutcome(
                        "failed",
                        error_id="TableNotFoundError",
                        error_message=f"table 'Table{n % TABLES}' not found",
                        stack_trace="Traceback (most recent call last):\n" + "  frame\n" * 30,
                    )
                else:
                    outcome = AttemptOutcome(
                        "finished", summary=f"exported 1,000 items of Table{n % TABLES}"
                    )
                engine.finish_attempt(pipeline_id, ticket.attempt_id, outcome, now=moment)
            engine.tick(pipeline_id, now=moment + timedelta(seconds=1))
    return failed_id


def make_tables(endpoint: str) -> None:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    for n in range(TABLES):
        client.create_table(
            TableName=f"Table{n}",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def sign_in_token(page: str) -> str:
    """The CSRF token of the sign-in form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if found is None:
        raise SystemExit("the sign-in page has no CSRF token")
    return found.group(1)


def timings(fetch: Any, paths: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    """Median and p95 milliseconds of each page (one warm-up request first)."""
    found = {}
    for page, path in paths.items():
        fetch(path)
        samples = []
        for _ in range(repeat):
            began = time.perf_counter()
            fetch(path)
            samples.append((time.perf_counter() - began) * 1000)
        samples.sort()
        found[page] = {
            "median_ms": statistics.median(samples),
            "p95_ms": samples[max(0, round(0.95 * len(samples)) - 1)],
        }
    return found


def in_process(state: Path, endpoint: str, key: Any, paths: dict[str, str], repeat: int) -> Any:
    from starlette.testclient import TestClient

    from ddbpipe.cli.serve import server_config
    from ddbpipe.server.app import create_app
    from ddbpipe.server.identities import IdentityStore
    from ddbpipe.server.pipeline_service import PipelineService

    config = server_config(state=state, region=REGION, endpoint_url=endpoint)
    store = IdentityStore(state)
    service = PipelineService(config, store)
    operations = service.operations()
    app = create_app(config, store, operations, console=service.console(operations))
    client = TestClient(app, base_url="http://127.0.0.1")
    token = sign_in_token(client.get("/console/sign-in").text)
    signed = client.post(
        "/console/sign-in",
        data={
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text[:300]

    def fetch(path: str) -> None:
        answer = client.get(path, follow_redirects=False)
        if answer.status_code != 200 or "Sign out" not in answer.text:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")

    return timings(fetch, paths, repeat)


def over_http(state: Path, endpoint: str, key: Any, paths: dict[str, str], repeat: int) -> Any:
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "ddbpipe"),
        "serve",
        "--state",
        str(state),
        "--port",
        str(port),
        "--region",
        REGION,
        "--endpoint-url",
        endpoint,
        "--s3-endpoint-url",
        endpoint,
    ]
    server = spawn(command, state.parent / "serve.log", env=bench_env())
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/console/sign-in", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        with urllib.request.urlopen(base + "/console/sign-in", timeout=30) as form:
            token = sign_in_token(form.read().decode())
            nonce = form.headers["set-cookie"].split(";")[0]
        body = urllib.parse.urlencode(
            {
                "access_key_id": key.access_key_id,
                "secret_access_key": key.secret_access_key,
                "csrf_token": token,
            }
        ).encode()

        class Keep(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(Keep)
        try:
            opener.open(
                urllib.request.Request(
                    base + "/console/sign-in", data=body, headers={"Cookie": nonce}
                )
            )
            raise SystemExit("signing in did not redirect")
        except urllib.error.HTTPError as answer:
            cookie = answer.headers["set-cookie"].split(";")[0]

        def fetch(path: str) -> None:
            request = urllib.request.Request(base + path, headers={"Cookie": cookie})
            with opener.open(request, timeout=30) as answer:
                text = answer.read().decode()
            if answer.status != 200 or "Sign out" not in text:
                raise SystemExit(f"{path}: {answer.status} {text[:300]}")

        return timings(fetch, paths, repeat)
    finally:
        stop_process(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    args = parser.parse_args()
    install_cleanup()
    os.environ.update(bench_env())  # the in-process console reaches moto with fake keys
    with tempfile.TemporaryDirectory(prefix="ddbpipe-console-bench-") as folder:
        state = Path(folder) / "state"
        began = time.perf_counter()
        failed_id = fill_state(state, args.pipelines)
        print(f"{args.pipelines:,} pipelines run in {time.perf_counter() - began:.1f} s")
        from ddbpipe.server.identities import IdentityStore

        key = new_access_key()
        store = IdentityStore(state)
        store.add_user(
            "bench",
            access_key=key,
            managed=("AWSDataPipeline_FullAccess", "AmazonDynamoDBFullAccess"),
        )
        store.close()
        moto_port = free_port()
        moto = spawn(
            [str(Path(sys.executable).parent / "moto_server"), "-p", str(moto_port)],
            Path(folder) / "moto.log",
            env=bench_env(),
        )
        endpoint = f"http://127.0.0.1:{moto_port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            make_tables(endpoint)
            paths = {
                "list": "/console/pipelines",
                "detail": f"/console/pipelines/{failed_id}",
                "tables": "/console/tables",
            }
            results = {
                "server-side render": in_process(state, endpoint, key, paths, args.repeat),
                "HTTP round trip": over_http(state, endpoint, key, paths, args.repeat),
            }
        finally:
            stop_process(moto)
    print(f"console pages with {args.pipelines:,} pipelines ({args.repeat} requests each):")
    for how, pages in results.items():
        for page in PAGES:
            numbers = pages[page]
            verdict = "within" if numbers["p95_ms"] < TARGET_MS else "OVER"
            print(
                f"  {how:<20} {page:<7} median {numbers['median_ms']:7.1f} ms, "
                f"p95 {numbers['p95_ms']:7.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"pipelines": args.pipelines, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
