"""Who makes a request: the principal behind an access key, with the policies that
decide what it may do, and the names and ARNs of IAM users, groups and roles.

Names follow IAM's rules: letters, digits and ``_+=,.@-``; up to 64 characters for
users and roles, 128 for groups and policy names; unique regardless of case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ddbpipe.errors import ConfigError
from ddbpipe.server.policy import Policy

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "Kind",
    "Principal",
    "check_account_id",
    "check_name",
    "iam_arn",
]

DEFAULT_ACCOUNT_ID = "123456789012"

Kind = Literal["user", "group", "role"]
_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_MAX_LENGTH: dict[str, int] = {"user": 64, "group": 128, "role": 64, "policy": 128}
_ACCOUNT = re.compile(r"\d{12}")


def check_name(kind: Kind | Literal["policy"], name: str) -> None:
    """Refuse a user, group, role or policy name IAM would refuse."""
    limit = _MAX_LENGTH[kind]
    if not (1 <= len(name) <= limit and _NAME.fullmatch(name)):
        raise ConfigError(
            f"{kind} name {name!r} must be 1 to {limit} letters, digits or _+=,.@- characters"
        )


def check_account_id(account_id: str) -> None:
    """Refuse an account ID that is not 12 digits."""
    if not _ACCOUNT.fullmatch(account_id):
        raise ConfigError(f"account ID {account_id!r} must be 12 digits")


def iam_arn(account_id: str, kind: Kind, name: str) -> str:
    """``arn:aws:iam::<account>:<kind>/<name>``."""
    return f"arn:aws:iam::{account_id}:{kind}/{name}"


@dataclass(frozen=True)
class Principal:
    """An IAM user or role as a request's signer.

    ``unique_id`` is IAM's ID (``AIDA...`` for users, ``AROA...`` for roles), the value of
    ``aws:userid``; ``policies`` are every identity-based policy that applies: the
    principal's own inline and managed policies and, for a user, those of its groups.
    """

    kind: Literal["user", "role"]
    name: str
    unique_id: str
    account_id: str
    policies: tuple[Policy, ...] = field(repr=False, default=())
    groups: tuple[str, ...] = ()

    @property
    def arn(self) -> str:
        """The principal's ARN."""
        return iam_arn(self.account_id, self.kind, self.name)
