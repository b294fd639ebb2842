"""Console password hashes: scrypt, a salt each, parameters kept with the hash."""

from __future__ import annotations

import base64

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.server.passwords import (
    DEFAULT_SCRYPT,
    ScryptParams,
    hash_password,
    verify_password,
)

FAST = ScryptParams(n=2**4, r=8, p=1)


def test_default_cost_is_memory_hard() -> None:
    assert 128 * DEFAULT_SCRYPT.n * DEFAULT_SCRYPT.r >= 32 * 1024 * 1024
    stored = hash_password("correct horse battery")
    assert stored.startswith(f"scrypt${DEFAULT_SCRYPT.n}$8$1$")
    assert verify_password(stored, "correct horse battery")


def test_right_and_wrong_passwords() -> None:
    stored = hash_password("correct horse", FAST)
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct horsE")
    assert not verify_password(stored, "")


def test_each_hash_has_its_own_salt() -> None:
    first, second = hash_password("same password", FAST), hash_password("same password", FAST)
    assert first != second
    salt = base64.b64decode(first.split("$")[4] + "==")
    assert len(salt) == 16


def test_parameters_travel_with_the_hash() -> None:
    stored = hash_password("correct horse", ScryptParams(n=2**5, r=4, p=2))
    assert stored.split("$")[1:4] == ["32", "4", "2"]
    assert verify_password(stored, "correct horse")


@pytest.mark.parametrize(
    "stored", [None, "", "plain text", "scrypt$3$8$1$AAAA$AAAA", "scrypt$16$8$1$!!$AAAA", "md5$x"]
)
def test_missing_or_malformed_hashes_never_match(stored: str | None) -> None:
    assert not verify_password(stored, "anything at all")


@pytest.mark.parametrize("password", ["short", "x" * 129])
def test_length_rules(password: str) -> None:
    with pytest.raises(ConfigError, match="8 to 128 characters"):
        hash_password(password, FAST)


def test_non_ascii_passwords() -> None:
    stored = hash_password("pässwörd ☃ 密码", FAST)
    assert verify_password(stored, "pässwörd ☃ 密码")
    assert not verify_password(stored, "passwort ☃ 密码")
