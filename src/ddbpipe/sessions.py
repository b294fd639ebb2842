"""AWS sessions: botocore's credential chain, profiles and regions, without boto3.

boto3 is a fine way for callers to hand ddbpipe their own session, and both kinds are
accepted; ddbpipe itself makes botocore sessions, which start ~70 ms faster than boto3's
(whose import pulls in s3transfer) — time that every command and worker pays.

A caller's session cannot cross into worker processes, so a job started with one takes
its credentials as ``StaticCredentials`` when it starts and hands them to its workers
inside its configs; workers then make sessions of their own from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import botocore.session
from botocore.credentials import Credentials
from botocore.exceptions import ProfileNotFound

from ddbpipe.errors import ConfigError

if TYPE_CHECKING:
    import boto3

    AnySession: TypeAlias = botocore.session.Session | boto3.Session
else:  # boto3 is imported only by callers that use it: it costs every command ~70 ms
    AnySession = Union[botocore.session.Session, "boto3.Session"]

__all__ = [
    "AnySession",
    "StaticCredentials",
    "make_client",
    "new_session",
    "region_problems",
    "session_credentials",
    "session_region",
]

# botocore's own rule for region names (``validate_region_name``).
_REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")


@dataclass(frozen=True)
class StaticCredentials:
    """Credentials taken from a session when a job starts."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


def region_problems(what: str, region: str | None) -> list[str]:
    """What is wrong with a region name (``what`` says whose), in the words of the
    command line."""
    if region is None or _REGION.match(region):
        return []
    return [f"{what} region {region!r} is not a region name (like us-east-1)"]


def new_session(
    profile: str | None = None, credentials: StaticCredentials | None = None
) -> botocore.session.Session:
    """A botocore session for ``profile`` (or the default credential chain), or one that
    holds ``credentials``."""
    try:
        session = botocore.session.Session(profile=profile)
        if profile:
            session.get_scoped_config()  # raises now, not on first use, if it is missing
    except ProfileNotFound:
        raise ConfigError(f"AWS profile {profile!r} not found") from None
    if credentials is not None:
        session.set_credentials(credentials.access_key, credentials.secret_key, credentials.token)
    return session


def _botocore(session: AnySession) -> botocore.session.Session:
    if isinstance(session, botocore.session.Session):
        return session
    core: botocore.session.Session = session._session  # a boto3 Session wraps one
    return core


def session_region(session: AnySession) -> str | None:
    """The region the session is configured with, if any."""
    region = _botocore(session).get_config_variable("region")
    return str(region) if region else None


def session_credentials(session: AnySession) -> StaticCredentials:
    """The session's credentials as they are now; ``ConfigError`` when it has none."""
    credentials: Credentials | None = _botocore(session).get_credentials()
    if credentials is None:
        raise ConfigError("the session given has no AWS credentials")
    frozen = credentials.get_frozen_credentials()
    if not frozen.access_key or not frozen.secret_key:
        raise ConfigError("the session given has no AWS credentials")
    return StaticCredentials(frozen.access_key, frozen.secret_key, frozen.token)


def make_client(session: AnySession, service: str, **options: Any) -> Any:
    """A botocore client of ``service`` from either kind of session."""
    return _botocore(session).create_client(service, **options)
