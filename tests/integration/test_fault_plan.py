"""FaultPlan: each operation's requests get the planned faults in turn, one in two, and
what was not injected is reported."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.support.fault_plan import FaultPlan
from tests.support.fault_proxy import FaultProxyFactory
from tests.support.servers import Endpoint

NO_RETRIES = Config(retries={"total_max_attempts": 1})


def attempt(call: Any) -> str:
    """What one call got: "ok", an S3 error code, or "dropped"."""
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    except ConnectionClosedError:
        return "dropped"
    return "ok"


def test_requests_get_the_planned_faults_in_turn(
    moto: Endpoint, fault_proxy: FaultProxyFactory, unique_name: str
) -> None:
    bucket = f"bucket-{unique_name}"
    moto.client("s3").create_bucket(Bucket=bucket)
    plan = FaultPlan(
        {"PutObject": ["throttle", "error-after", "drop"], "GetObject": ["error", "cut"]}
    )
    proxy = fault_proxy(moto, exact_rules=plan.rules)
    client = proxy.via(moto).client("s3", config=NO_RETRIES)

    puts = [attempt(lambda: client.put_object(Bucket=bucket, Key="k", Body=b"x")) for _ in range(7)]
    get = attempt(lambda: client.get_object(Bucket=bucket, Key="k"))

    assert puts == ["SlowDown", "ok", "InternalError", "ok", "dropped", "ok", "ok"]
    assert get == "InternalError"
    assert plan.requests("PutObject") == 7
    assert plan.missed(proxy) == {"GetObject": ["cut"]}
    stats = proxy.stats
    assert (stats.throttled, stats.errors_after, stats.dropped_before) == (1, 1, 1)
    assert stats.errors_before == 1


def test_a_plan_is_of_one_service() -> None:
    with pytest.raises(ValueError, match="one service"):
        FaultPlan({"PutObject": ["throttle"], "Scan": ["throttle"]})
