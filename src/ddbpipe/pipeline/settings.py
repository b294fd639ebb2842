"""How a runner reaches DynamoDB, S3 and SNS, and how it runs jobs: one frozen config,
built at the edge (the command line, a server's settings) and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ConfigError
from ddbpipe.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.options import count_problems, positive_problems

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_LEASE_TTL",
    "DEFAULT_LOG_FLUSH_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PROGRESS_INTERVAL",
    "RunnerConfig",
]

DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_LEASE_TTL = 60.0
DEFAULT_HEARTBEAT_INTERVAL = 10.0
DEFAULT_LOG_FLUSH_INTERVAL = 30.0
DEFAULT_PROGRESS_INTERVAL = 10.0


@dataclass(frozen=True)
class RunnerConfig:
    """Where a pipeline's jobs reach their services, and how they run.

    ``dynamo`` and ``store`` are the command's connection settings; a DynamoDB data
    node's ``region`` (else its EmrCluster's) takes the place of ``dynamo.region``.
    ``sns_endpoint_url`` overrides SNS's endpoint for ``SnsAlarm`` (its region is the
    topic's). ``workers`` is the worker processes of each job (one per core by
    default); ``retry`` each job's retry policy for throttling and server errors;
    ``max_rcu`` / ``max_wcu`` the capacity ratios are taken of, instead of the table's.
    ``dask`` is the address of a Dask scheduler: the jobs of activities that run on an
    ``EmrCluster`` run their tasks on that cluster instead of this machine's processes.
    The runner looks at the state at least every ``poll_interval`` seconds, renews its
    lease every ``heartbeat_interval``; another runner may take a pipeline over after
    ``lease_ttl`` seconds without a heartbeat. An attempt's progress is logged and
    saved every ``progress_interval`` seconds, and a log kept in S3 is rewritten at
    least every ``log_flush_interval``. ``hostname`` names this runner in attempts.
    """

    dynamo: DynamoConfig = field(default_factory=DynamoConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    sns_endpoint_url: str | None = None
    workers: int | None = None
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    max_rcu: float | None = None
    max_wcu: float | None = None
    dask: str | None = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    lease_ttl: float = DEFAULT_LEASE_TTL
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL
    log_flush_interval: float = DEFAULT_LOG_FLUSH_INTERVAL
    hostname: str | None = None

    def check(self) -> None:
        """Raise ``ConfigError`` listing every invalid setting."""
        problems = self.dynamo.problems() + self.store.problems()
        problems += count_problems("workers", self.workers, 1, 256)
        problems += positive_problems("max RCU", self.max_rcu)
        problems += positive_problems("max WCU", self.max_wcu)
        for name in (
            "poll_interval",
            "heartbeat_interval",
            "lease_ttl",
            "progress_interval",
            "log_flush_interval",
        ):
            problems += positive_problems(name.replace("_", " "), getattr(self, name))
        if self.heartbeat_interval >= self.lease_ttl:
            problems.append("the heartbeat interval must be shorter than the lease time")
        if problems:
            raise ConfigError(problems)
