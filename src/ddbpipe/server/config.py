"""What ``ddbpipe serve`` is told: built by the command line, passed down unchanged.

Regions: Data Pipeline requests must be signed for the server's ``region``. STS requests
may be signed for that region or for ``us-east-1``, the region clients sign for when they
use STS's global endpoint, as older AWS CLI settings do. Any other region is refused
with "Credential should be scoped to a valid region", which points at a client set up
for another server.

Request bodies are capped at ``max_body_bytes``. The default, 8 MiB, holds the largest
definition the service accepts — 100 objects of 15,360 UTF-8 bytes and 50 parameters,
with the three-fold growth of JSON escaping that SDKs apply to non-ASCII text — with room
to spare; only an ``EvaluateExpression`` near the model's 20 MiB limit is refused for
it.

``dynamo`` and ``s3`` say where the pipelines' tables and files live (a local DynamoDB,
an S3-compatible store): the pipeline engine gets them from here, with how its jobs run
(``dask``, ``workers``, ``max_rcu``, ``max_wcu``, ``sns_endpoint_url``; see
``RunnerConfig``). A PollForTask waits up to ``poll_wait`` seconds for a task (the
service waits up to 90; SDK clients give up on a read after 60 by default).

Requests are served by at most ``threads`` worker threads at once (a long PollForTask
takes none while it waits); the others wait their turn in arrival order. The work is
CPU-bound under one interpreter lock, so a few threads give the same throughput as many
with far shorter waits at the tail.

The console lists the backups under ``backup_prefixes`` (S3 URLs, or local folders that
must lie under ``local_root``); it trusts ``X-Forwarded-Proto`` and ``X-Forwarded-For``
only from the addresses in ``trusted_proxies``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.server.principals import check_account_id
from ddbpipe.server.rate_limits import DEFAULT_RATE_LIMITS, RateLimits
from ddbpipe.sessions import region_problems
from ddbpipe.stores import StoreConfig

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_POLL_WAIT",
    "DEFAULT_PORT",
    "DEFAULT_REGION",
    "DEFAULT_THREADS",
    "STS_GLOBAL_REGION",
    "ServerConfig",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_REGION = "us-east-1"
STS_GLOBAL_REGION = "us-east-1"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_POLL_WAIT = 20.0
DEFAULT_THREADS = 4


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server runs with; see the module doc.

    ``account_id`` renames the account in the state folder's ARNs when given;
    ``local_root`` is the only folder pipelines may use on this machine (none when
    ``None``); ``signature_hints`` puts the canonical request and string to sign the
    server expected in signature errors, as AWS does.
    """

    state_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION
    account_id: str | None = None
    local_root: Path | None = None
    rate_limits: RateLimits = DEFAULT_RATE_LIMITS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    dynamo: DynamoConfig = field(default_factory=DynamoConfig)
    s3: StoreConfig = field(default_factory=StoreConfig)
    signature_hints: bool = True
    dask: str | None = None
    workers: int | None = None
    max_rcu: float | None = None
    max_wcu: float | None = None
    sns_endpoint_url: str | None = None
    poll_wait: float = DEFAULT_POLL_WAIT
    threads: int = DEFAULT_THREADS
    backup_prefixes: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """Every invalid setting, in the words of the command line."""
        problems = region_problems("the server's", self.region)
        if not self.region:
            problems.append("--region must name a region")
        if not 0 <= self.port <= 65535:
            problems.append(f"--port must be 0 to 65535, not {self.port}")
        if self.max_body_bytes < 1024:
            problems.append("the request body limit must be at least 1024 bytes")
        if self.account_id is not None:
            try:
                check_account_id(self.account_id)
            except ConfigError as error:
                problems.extend(error.problems)
        if self.local_root is not None and not self.local_root.is_dir():
            problems.append(f"--local-root {self.local_root} is not a folder")
        if not 1 <= self.threads <= 256:
            problems.append(f"the server's threads must be 1 to 256, not {self.threads}")
        if not 0 <= self.poll_wait <= 90:
            problems.append(f"the PollForTask wait must be 0 to 90 seconds, not {self.poll_wait}")
        problems += self._backup_prefix_problems()
        try:
            self.runner_config().check()
        except ConfigError as error:
            problems += [p for p in error.problems if p not in problems]
        return problems

    def _backup_prefix_problems(self) -> list[str]:
        found = []
        for prefix in self.backup_prefixes:
            if prefix.startswith("s3://"):
                continue
            if "://" in prefix and not prefix.startswith("file://"):
                found.append(f"--backup-prefix {prefix}: give an s3:// URL or a local folder")
                continue
            path = Path(prefix.removeprefix("file://")).resolve()
            root = self.local_root.resolve() if self.local_root is not None else None
            if root is None or not path.is_relative_to(root):
                found.append(
                    f"--backup-prefix {prefix}: a local folder must lie under --local-root"
                )
        return found

    def runner_config(self) -> RunnerConfig:
        """How the server's scheduler runs pipelines: where their jobs reach DynamoDB,
        S3 and SNS, and how the jobs run."""
        return RunnerConfig(
            dynamo=self.dynamo,
            store=self.s3,
            sns_endpoint_url=self.sns_endpoint_url,
            workers=self.workers,
            max_rcu=self.max_rcu,
            max_wcu=self.max_wcu,
            dask=self.dask,
        )

    @property
    def api_regions(self) -> frozenset[str]:
        """The regions Data Pipeline requests may be signed for."""
        return frozenset({self.region})

    @property
    def sts_regions(self) -> frozenset[str]:
        """The regions STS requests may be signed for."""
        return frozenset({self.region, STS_GLOBAL_REGION})
