"""Where backup files live: a local folder or an S3 prefix, behind one Store protocol."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from botocore.config import Config

from ddbpipe.errors import ConfigError
from ddbpipe.sessions import AnySession, make_client, new_session
from ddbpipe.stores.base import Listing, ObjectInfo, Store, StoreConfig, Writer
from ddbpipe.stores.local import LocalStore
from ddbpipe.stores.s3 import S3Store

__all__ = [
    "Listing",
    "LocalStore",
    "ObjectInfo",
    "S3Store",
    "Store",
    "StoreConfig",
    "Writer",
    "open_store",
    "split_s3_url",
]

_S3_SCHEMES = ("s3", "s3a", "s3n")
"""URL schemes read as S3: ``s3a://`` and ``s3n://`` are Hadoop's names, found in old backups."""

_SUPPORTED = "s3://bucket/prefix (also s3a://, s3n://), file:///path or a local path"


def split_s3_url(url: str) -> tuple[str, str]:
    """The bucket and the key prefix (no leading or trailing ``/``) of an S3 URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _S3_SCHEMES:
        raise ConfigError(f"{url!r} is not an S3 URL; expected s3://bucket/prefix")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError(f"S3 URL {url!r} names no bucket; expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


def open_store(
    url: str,
    config: StoreConfig | None = None,
    *,
    session: AnySession | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Store:
    """The store for ``url``: an S3 URL, a ``file://`` URL or a local path.

    For S3, the client comes from ``session`` (or a new session from the credentials,
    profile and region in ``config``) and talks to ``config.endpoint_url`` when it is
    set; its calls are retried under ``config.retry``, waiting with ``sleep``.
    """
    if not url:
        raise ConfigError(f"empty store location; expected {_SUPPORTED}")
    scheme, sep, _ = url.partition("://")
    if not sep:
        return LocalStore(Path(url))
    if scheme.lower() == "file":
        return LocalStore(_file_url_path(url))
    if scheme.lower() not in _S3_SCHEMES:
        raise ConfigError(f"unsupported URL scheme {scheme + '://'!r} in {url!r}; use {_SUPPORTED}")
    bucket, prefix = split_s3_url(url)
    config = config or StoreConfig()
    if problems := config.problems():
        raise ConfigError(problems)
    session = session or new_session(config.profile, config.credentials)
    client = make_client(
        session,
        "s3",
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        config=Config(
            response_checksum_validation="when_required",
            request_checksum_calculation="when_required",
            retries={"total_max_attempts": 1},  # ddbpipe's own retry loop decides
        ),
    )
    return S3Store(client, bucket, prefix, retry=config.retry, sleep=sleep)


def _file_url_path(url: str) -> Path:
    """The local path of a ``file://`` URL on this machine."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"file URL {url!r} names host {parts.netloc!r}; only local files work")
    if not parts.path:
        raise ConfigError(f"file URL {url!r} names no path")
    return Path(url2pathname(parts.path))
