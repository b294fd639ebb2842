"""New access keys look like AWS's; keys brought in must look like keys."""

from __future__ import annotations

import re

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.server.access_keys import AccessKey, check_access_key, new_access_key, new_unique_id


def test_new_keys_have_aws_shapes_and_differ() -> None:
    keys = [new_access_key() for _ in range(20)]
    for key in keys:
        assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key.access_key_id)
        assert re.fullmatch(r"[A-Za-z0-9+/]{40}", key.secret_access_key)
        check_access_key(key)
    assert len({key.access_key_id for key in keys}) == 20
    assert key.secret_access_key not in repr(key)


def test_unique_ids() -> None:
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", new_unique_id("AROA"))


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (AccessKey("AKIA123", "s" * 40), "16 to 128 upper-case"),
        (AccessKey("akiaiosfodnn7example", "s" * 40), "16 to 128 upper-case"),
        (AccessKey("ASIAIOSFODNN7EXAMPLE", "s" * 40), "temporary"),
        (AccessKey("AKIAIOSFODNN7EXAMPLE", "short"), "secret access key"),
        (AccessKey("AKIAIOSFODNN7EXAMPLE", "has a space in the middle"), "secret access key"),
    ],
)
def test_keys_that_do_not_look_like_keys(key: AccessKey, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        check_access_key(key)
