"""The AWS managed policies that the server knows by name.

Each document is AWS's published text of the policy's default version (the AWS
Managed Policy Reference, ``docs.aws.amazon.com/aws-managed-policy/latest/reference/
<Name>.html``; the version is recorded below), kept as a JSON file in
``ddbpipe/server/policies/`` and read when first asked for. A policy is
found by its name (case-insensitively, as IAM names are) or by its ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from ddbpipe.errors import ConfigError
from ddbpipe.server.policy import Policy, parse_policy

__all__ = [
    "ManagedPolicy",
    "UnknownManagedPolicyError",
    "get_managed_policy",
    "managed_policy_names",
]


@dataclass(frozen=True)
class _Entry:
    path: str
    version_id: str


# Name -> IAM path and the default version the document was taken from.
_CATALOGUE: dict[str, _Entry] = {
    "AdministratorAccess": _Entry("/", "v1"),
    "AmazonDynamoDBFullAccess": _Entry("/", "v15"),
    "AmazonDynamoDBReadOnlyAccess": _Entry("/", "v15"),
    "AmazonEC2RoleforDataPipelineRole": _Entry("/service-role/", "v3"),
    "AmazonS3FullAccess": _Entry("/", "v2"),
    "AmazonS3ReadOnlyAccess": _Entry("/", "v3"),
    "AWSDataPipeline_FullAccess": _Entry("/", "v2"),
    "AWSDataPipeline_PowerUser": _Entry("/", "v2"),
    "AWSDataPipelineRole": _Entry("/service-role/", "v6"),
}


class UnknownManagedPolicyError(ConfigError):
    """No managed policy has that name; the message lists the known names."""

    def __init__(self, name: str) -> None:
        self.name = name
        known = ", ".join(managed_policy_names())
        super().__init__(f"unknown managed policy {name!r}; known policies: {known}")

    def __reduce__(self) -> tuple[type[UnknownManagedPolicyError], tuple[str]]:
        return type(self), (self.name,)


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy: its name, ARN, default version id and parsed document."""

    name: str
    arn: str
    version_id: str
    policy: Policy


def managed_policy_names() -> tuple[str, ...]:
    """The names of every managed policy, sorted case-insensitively."""
    return tuple(sorted(_CATALOGUE, key=str.lower))


def get_managed_policy(name: str) -> ManagedPolicy:
    """The managed policy called ``name`` or with ARN ``name``.

    Raises ``UnknownManagedPolicyError`` (listing the known names) for any other name.
    """
    canonical = _canonical_name(name)
    if canonical is None:
        raise UnknownManagedPolicyError(name)
    return _load(canonical)


def _canonical_name(name: str) -> str | None:
    folded = name.lower()
    for known, entry in _CATALOGUE.items():
        if folded in (known.lower(), _arn(known, entry).lower()):
            return known
    return None


def _arn(name: str, entry: _Entry) -> str:
    return f"arn:aws:iam::aws:policy{entry.path}{name}"


@cache
def _load(name: str) -> ManagedPolicy:
    entry = _CATALOGUE[name]
    text = (resources.files("ddbpipe.server") / "policies" / f"{name}.json").read_text("utf-8")
    return ManagedPolicy(name, _arn(name, entry), entry.version_id, parse_policy(text, name=name))
