"""``ddbpipe serve`` under load, sized for the suite: 50 signed clients at once for a few
seconds, mixing DescribePipelines, QueryObjects, DescribeObjects and
PutPipelineDefinition over 1,000 pipelines. No request fails on the server's side and
no acknowledged write is lost. ``bench/server_bench.py`` measures the full figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbpipe.server.access_keys import new_access_key
from ddbpipe.server.identities import IdentityStore
from tests.support.pipeline_server import ACCOUNT_ID, NO_RATE_LIMIT, PipelineServer
from tests.support.server_load import MIX, run_load, seed_pipelines, verify_writes

pytestmark = [pytest.mark.integration, pytest.mark.load]

CLIENTS = 50
SECONDS = 12.0
PIPELINES = 1000
EVERYTHING = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
)


def test_fifty_clients_mixing_reads_and_writes_over_a_thousand_pipelines(
    tmp_path: Path,
) -> None:
    server = PipelineServer(tmp_path, "us-east-1", NO_RATE_LIMIT)
    key = new_access_key()
    store = IdentityStore(server.state, account_id=ACCOUNT_ID)
    store.add_user("load", access_key=key, policies={"all": EVERYTHING})
    creator = store.get("user", "load").unique_id
    store.close()
    ids = seed_pipelines(server.state, PIPELINES, creator)
    keys = (key.access_key_id, key.secret_access_key)
    server.start()
    try:
        result = run_load(server.url, keys, server.region, ids, clients=CLIENTS, seconds=SECONDS)
        lost = verify_writes(server.url, keys, server.region, result)
    finally:
        server.stop()
    print(result.summary())
    assert not [status for status in result.statuses if status >= 500], result.summary()
    assert set(result.statuses) == {200}, result.summary()
    assert not result.errors, result.summary()
    assert {name for name, _ in MIX} <= set(result.latencies)
    assert len(result.last_write) > 100  # many pipelines were written while others read
    assert lost == []
