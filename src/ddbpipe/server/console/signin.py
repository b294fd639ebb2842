"""Signing in to the console: checking an access key or a console password, and limiting
how often anyone may try.

Every attempt, right or wrong, spends a token from two buckets: one for the address it
came from (``ADDRESS_LIMIT``: 10 at once, then one every 6 seconds) and one for the
user it names (``USER_LIMIT``: 5 at once, then one every 12 seconds). Past either, the
attempt is refused before any secret is checked, with how long to wait. An access key
signs in with its secret, compared in constant time; only a user's own (permanent,
active) keys sign in, not session credentials. A console password is checked with
``IdentityStore.check_password`` (scrypt, as slow for an unknown user as for a wrong
password).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from ddbpipe.server.errors import ApiError
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.principals import Principal
from ddbpipe.server.rate_limits import Limit, RateLimiter, RateLimits

__all__ = [
    "ADDRESS_LIMIT",
    "USER_LIMIT",
    "SignInLimiter",
    "SignInRefused",
    "check_access_key",
    "check_console_password",
]

ADDRESS_LIMIT = Limit(1 / 6, 10)
USER_LIMIT = Limit(1 / 12, 5)
_ADDRESS = "address"
_USER = "user"


class SignInRefused(Exception):
    """Too many attempts: ``retry_after`` seconds until the next may be made."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class SignInLimiter:
    """Token buckets of sign-in attempts per address and per user (module doc)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_address: Limit = ADDRESS_LIMIT,
        per_user: Limit = USER_LIMIT,
    ) -> None:
        limits = RateLimits(MappingProxyType({_ADDRESS: per_address, _USER: per_user}))
        self._limits = limits
        self._limiter = RateLimiter(limits, clock)

    def take(self, address: str, user: str) -> None:
        """Spend one attempt of ``address`` and of ``user``; ``SignInRefused`` when
        either has none left."""
        for bucket, key in ((_ADDRESS, address), (_USER, user.lower())):
            try:
                self._limiter.take(key, bucket)
            except ApiError:
                limit = self._limits.limit(bucket)
                raise SignInRefused(math.ceil(1 / limit.rate)) from None


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and with what."""

    principal: Principal
    access_key_id: str | None = None
    password_mark: str | None = None


def check_access_key(store: IdentityStore, access_key_id: str, secret: str) -> SignedIn | None:
    """The user whose active access key this is, when ``secret`` is its secret."""
    stored = store.lookup_credential(access_key_id.strip())
    if stored is None or stored.temporary or stored.principal.kind != "user":
        hmac.compare_digest(secret, "x" * 40)  # the same work as a wrong secret
        return None
    if not hmac.compare_digest(stored.secret_access_key.encode(), secret.strip().encode()):
        return None
    return SignedIn(stored.principal, access_key_id=access_key_id.strip())


def check_console_password(store: IdentityStore, user: str, password: str) -> SignedIn | None:
    """The user, when ``password`` is its console password."""
    principal = store.check_password(user, password)
    if principal is None:
        return None
    return SignedIn(principal, password_mark=store.password_mark(user))
