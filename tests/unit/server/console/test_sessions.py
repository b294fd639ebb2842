"""Console sessions, CSRF tokens, sign-in checks and limits, and form parsing."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ddbpipe.server.access_keys import new_access_key
from ddbpipe.server.console.forms import parse_form
from ddbpipe.server.console.sessions import (
    SECRET_NAME,
    SESSIONS_NAME,
    ConsoleSessions,
    load_secret,
)
from ddbpipe.server.console.signin import (
    SignInLimiter,
    SignInRefused,
    check_access_key,
    check_console_password,
)
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.rate_limits import Limit

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START
        self.seconds = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(tmp_path: Path, clock: Clock) -> ConsoleSessions:
    return ConsoleSessions(tmp_path / "state", clock=clock)


def test_secret_and_sessions_files_are_private_and_the_secret_is_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ConsoleSessions(state, clock=lambda: START)
    for name in (SECRET_NAME, SESSIONS_NAME):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    session = first.start("alice", "key", access_key_id="AKIAEXAMPLE")
    cookie = first.cookie_value(session)
    again = ConsoleSessions(state, clock=lambda: START)  # a restarted server
    assert again.find(cookie) == session
    assert load_secret(state) == (state / SECRET_NAME).read_bytes().strip()


def test_a_cookie_finds_its_session_until_it_expires(
    sessions: ConsoleSessions, clock: Clock
) -> None:
    session = sessions.start("alice", "password", password_mark="m1")
    cookie = sessions.cookie_value(session)
    assert sessions.find(cookie) == session
    assert session.expires - session.started == timedelta(hours=12)
    clock.now = START + timedelta(hours=11, minutes=59)
    assert sessions.find(cookie) is not None
    clock.now = START + timedelta(hours=12)
    assert sessions.find(cookie) is None


def test_a_forged_or_altered_cookie_finds_nothing(sessions: ConsoleSessions) -> None:
    session = sessions.start("alice", "key", access_key_id="AKIAEXAMPLE")
    cookie = sessions.cookie_value(session)
    session_id, _, mac = cookie.rpartition(".")
    assert sessions.find(f"{session_id}x.{mac}") is None
    other = "B" if mac.endswith("A") else "A"
    assert sessions.find(f"{session_id}.{mac[:-1]}{other}") is None
    assert sessions.find(session_id) is None
    assert sessions.find("") is None
    assert sessions.find(None) is None


def test_a_cookie_signed_with_another_servers_secret_finds_nothing(
    tmp_path: Path, sessions: ConsoleSessions
) -> None:
    other = ConsoleSessions(tmp_path / "other", clock=lambda: START)
    session = other.start("alice", "key", access_key_id="AKIAEXAMPLE")
    assert sessions.find(other.cookie_value(session)) is None


def test_ending_a_session_ends_its_cookie(sessions: ConsoleSessions) -> None:
    kept = sessions.start("bob", "key", access_key_id="AKIAEXAMPLE2")
    session = sessions.start("alice", "key", access_key_id="AKIAEXAMPLE")
    cookie = sessions.cookie_value(session)
    sessions.end(session)
    assert sessions.find(cookie) is None
    assert sessions.find(sessions.cookie_value(kept)) == kept


def test_csrf_tokens_belong_to_one_session(sessions: ConsoleSessions) -> None:
    one = sessions.start("alice", "key", access_key_id="AKIAEXAMPLE")
    two = sessions.start("alice", "key", access_key_id="AKIAEXAMPLE")
    token = sessions.csrf_token(one)
    assert sessions.check_csrf(one, token)
    assert not sessions.check_csrf(two, token)
    assert not sessions.check_csrf(one, None)
    assert not sessions.check_csrf(one, "")
    assert not sessions.check_csrf(one, token[:-1])


def test_sign_in_attempts_are_limited_per_address_and_per_user(clock: Clock) -> None:
    limiter = SignInLimiter(clock.monotonic, per_address=Limit(0.5, 3), per_user=Limit(0.25, 2))
    limiter.take("10.0.0.1", "alice")
    limiter.take("10.0.0.1", "Alice")  # user names are counted whatever their case
    with pytest.raises(SignInRefused) as refused:
        limiter.take("10.0.0.2", "alice")
    assert refused.value.retry_after == 4
    limiter.take("10.0.0.1", "bob")
    with pytest.raises(SignInRefused):
        limiter.take("10.0.0.1", "carol")  # the address's 3 are spent
    limiter.take("10.0.0.9", "dave")  # another address is not slowed down
    clock.seconds += 4
    limiter.take("10.0.0.2", "alice")


def test_an_access_key_signs_in_with_its_secret_only(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "state", clock=lambda: START)
    key = new_access_key()
    store.add_user("alice", access_key=key)
    signed = check_access_key(store, key.access_key_id, key.secret_access_key)
    assert signed is not None
    assert signed.principal.name == "alice"
    assert signed.access_key_id == key.access_key_id
    assert check_access_key(store, key.access_key_id, key.secret_access_key[:-1] + "x") is None
    assert check_access_key(store, "AKIANOSUCHKEY0000000", key.secret_access_key) is None
    store.delete_access_key("alice", key.access_key_id)
    assert check_access_key(store, key.access_key_id, key.secret_access_key) is None


def test_a_console_password_signs_in_and_its_mark_changes_with_it(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "state", clock=lambda: START)
    store.add_user("alice", password="first-password")
    signed = check_console_password(store, "alice", "first-password")
    assert signed is not None
    assert signed.password_mark == store.password_mark("alice")
    assert check_console_password(store, "alice", "wrong-password") is None
    assert check_console_password(store, "nobody", "first-password") is None
    store.set_password("alice", "second-password")
    assert store.password_mark("alice") != signed.password_mark
    store.set_password("alice", None)
    assert store.password_mark("alice") is None


def test_forms_are_read_from_urlencoded_and_multipart_bodies() -> None:
    plain = parse_form("application/x-www-form-urlencoded", b"name=a+b&tag=1&tag=2&empty=")
    assert plain.get("name") == "a b"
    assert plain.all("tag") == ["1", "2"]
    assert plain.get("empty") == ""
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nZoë\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="definition_file"; '
        f'filename="p.json"\r\nContent-Type: application/json\r\n\r\n{{"objects": []}}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    form = parse_form(f"multipart/form-data; boundary={boundary}", body)
    assert form.get("name") == "Zoë"
    assert form.files["definition_file"] == ("p.json", b'{"objects": []}')
    assert parse_form("text/plain", b"name=x").fields == {}
