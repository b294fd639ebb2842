"""Access keys of IAM users: making new ones and checking ones brought from elsewhere.

A new key looks like AWS's: the ID is ``AKIA`` and 16 upper-case letters or digits, the
secret 40 characters of the base64 alphabet. Keys brought in (``users add
--access-key-id ... --secret-access-key ...``, to keep a client's existing settings)
only need to look like keys: an ID of 16 to 128 upper-case letters and digits that does
not start with ``ASIA`` (the prefix of temporary keys), and a secret of 16 to 128
printable characters without spaces.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from ddbpipe.errors import ConfigError

__all__ = [
    "ACCESS_KEY_PREFIX",
    "TEMPORARY_KEY_PREFIX",
    "AccessKey",
    "check_access_key",
    "new_access_key",
    "new_unique_id",
]

ACCESS_KEY_PREFIX = "AKIA"
TEMPORARY_KEY_PREFIX = "ASIA"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_ID_RE = re.compile(r"[A-Z0-9]{16,128}")
_SECRET_RE = re.compile(r"[\x21-\x7e]{16,128}")


@dataclass(frozen=True)
class AccessKey:
    """An access key ID and its secret."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def new_access_key(choice: Callable[[str], str] = secrets.choice) -> AccessKey:
    """A new random access key (``choice`` picks one character of a string)."""
    return AccessKey(
        ACCESS_KEY_PREFIX + "".join(choice(_ID_ALPHABET) for _ in range(16)),
        "".join(choice(_SECRET_ALPHABET) for _ in range(40)),
    )


def new_unique_id(prefix: str, choice: Callable[[str], str] = secrets.choice) -> str:
    """An IAM unique ID: ``prefix`` (``AIDA`` for users, ``AGPA`` groups, ``AROA`` roles)
    and 17 upper-case letters or digits."""
    return prefix + "".join(choice(_ID_ALPHABET) for _ in range(17))


def check_access_key(key: AccessKey) -> None:
    """Refuse a key brought from elsewhere that does not look like an access key."""
    problems = []
    if not _ID_RE.fullmatch(key.access_key_id):
        problems.append(
            f"access key ID {key.access_key_id!r} must be 16 to 128 upper-case letters and digits"
        )
    elif key.access_key_id.startswith(TEMPORARY_KEY_PREFIX):
        problems.append(
            f"access key ID {key.access_key_id!r} starts with {TEMPORARY_KEY_PREFIX}, "
            "which marks temporary keys"
        )
    if not _SECRET_RE.fullmatch(key.secret_access_key):
        problems.append(
            "the secret access key must be 16 to 128 printable characters without spaces"
        )
    if problems:
        raise ConfigError(problems)
