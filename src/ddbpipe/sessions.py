"""AWS sessions: botocore's credential chain, profiles and regions, without boto3.

boto3 is a fine way for callers to hand ddbpipe their own session, and both kinds are
accepted; ddbpipe itself makes botocore sessions, which start ~70 ms faster than boto3's
(whose import pulls in s3transfer) — time that every command and worker pays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import botocore.session
from botocore.exceptions import ProfileNotFound

from ddbpipe.errors import ConfigError

if TYPE_CHECKING:
    import boto3

__all__ = ["AnySession", "make_client", "new_session", "session_region"]

AnySession: TypeAlias = "botocore.session.Session | boto3.Session"


def new_session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session for ``profile`` (or the default credential chain)."""
    try:
        session = botocore.session.Session(profile=profile)
        if profile:
            session.get_scoped_config()  # raises now, not on first use, if it is missing
    except ProfileNotFound:
        raise ConfigError(f"AWS profile {profile!r} not found") from None
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


def make_client(session: AnySession, service: str, **options: Any) -> Any:
    """A botocore client of ``service`` from either kind of session."""
    return _botocore(session).create_client(service, **options)
