"""Console passwords, stored as scrypt hashes.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key in unpadded
base64): the cost parameters travel with the hash, so raising the defaults later leaves
old passwords verifiable. Each password gets its own 16-byte random salt. The defaults
(n = 2**15, r = 8, p = 1: 32 MiB of memory and a tenth of a second per try) follow the
interactive-login parameters recommended for scrypt. Checking compares derived keys in
constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ddbpipe.errors import ConfigError

__all__ = [
    "DEFAULT_SCRYPT",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ScryptParams",
    "check_password_rules",
    "hash_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost: ``n`` (a power of two) for memory and time, ``r`` the block size,
    ``p`` the parallelism. Memory used is about 128 * n * r bytes."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.r < 1 or self.p < 1:
            raise ValueError(f"invalid scrypt parameters: {self}")

    @property
    def maxmem(self) -> int:
        """The memory bound to give OpenSSL: what the parameters need, and a margin."""
        return 128 * self.n * self.r * (self.p + 1) + 1024 * 1024


DEFAULT_SCRYPT = ScryptParams()


def check_password_rules(password: str) -> None:
    """Refuse a password IAM would refuse for its length: 8 to 128 characters."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ConfigError(
            f"a console password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
            f"characters, not {len(password)}"
        )


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=_KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, params: ScryptParams = DEFAULT_SCRYPT) -> str:
    """The stored form of ``password``, with a new random salt."""
    check_password_rules(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, params)
    return f"{_SCHEME}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def verify_password(stored: str | None, attempt: str) -> bool:
    """Whether ``attempt`` is the password ``stored`` was made from.

    With no stored hash (an unknown user, or one without a console password) the same
    work is done against a dummy hash and the answer is False, so that timing does not
    tell which users exist. A malformed stored hash never matches.
    """
    parsed = _parse(stored) if stored is not None else None
    if parsed is None:
        _derive(attempt, b"\0" * _SALT_BYTES, DEFAULT_SCRYPT)
        return False
    params, salt, key = parsed
    return hmac.compare_digest(_derive(attempt, salt, params), key)


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
        return params, _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
