"""The server's identities: IAM users, groups and roles, their access keys, session
credentials, identity policies and console passwords.

``IdentityStore`` is used by the running server (to find who signed a request and what
they may do) and by ``ddbpipe users|groups|roles`` in other processes at the same time;
the data lives in ``ddbpipe.server.identity_db``. Policies attached inline are checked
with ``parse_policy`` first, and an invalid document is refused with every problem found;
managed policies are attached by name (``ddbpipe.server.managed_policies``). A new store
holds the two roles the Data Pipeline guide sets up, with their managed policies:
``DataPipelineDefaultRole`` (``AWSDataPipelineRole``) and
``DataPipelineDefaultResourceRole`` (``AmazonEC2RoleforDataPipelineRole``).

The server reads fresh data: ``lookup_credential`` keeps what it read until the
database's revision changes, which any write by any process does.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ddbpipe.errors import AlreadyExistsError, ConfigError, NotFoundError
from ddbpipe.server.access_keys import AccessKey, check_access_key, new_unique_id
from ddbpipe.server.identity_db import IdentityDatabase
from ddbpipe.server.managed_policies import get_managed_policy
from ddbpipe.server.passwords import hash_password, verify_password
from ddbpipe.server.policy import Policy, parse_policy
from ddbpipe.server.principals import (
    DEFAULT_ACCOUNT_ID,
    Kind,
    Principal,
    check_account_id,
    check_name,
    iam_arn,
)
from ddbpipe.server.sigv4 import StoredCredential
from ddbpipe.server.sts import SessionCredentials

__all__ = [
    "DEFAULT_ROLES",
    "MAX_ACCESS_KEYS_PER_USER",
    "SESSION_RETENTION",
    "IdentityInfo",
    "IdentityStore",
    "LimitExceededError",
]

MAX_ACCESS_KEYS_PER_USER = 2  # IAM's quota: enough to rotate a key
SESSION_RETENTION = timedelta(days=1)  # expired sessions kept, to answer "expired"
_CACHE_LIMIT = 10_000
DEFAULT_ROLES: dict[str, str] = {
    "DataPipelineDefaultRole": "AWSDataPipelineRole",
    "DataPipelineDefaultResourceRole": "AmazonEC2RoleforDataPipelineRole",
}
_ID_PREFIX: dict[str, str] = {"user": "AIDA", "group": "AGPA", "role": "AROA"}


class LimitExceededError(ConfigError):
    """A quota would be exceeded, such as the number of access keys of a user."""


@dataclass(frozen=True)
class IdentityInfo:
    """A user, group or role as listings show it.

    ``groups`` holds a user's groups, or a group's members; ``access_keys`` the IDs of a
    user's access keys; ``console_password`` whether a user has one.
    """

    kind: Kind
    name: str
    unique_id: str
    arn: str
    created: datetime
    description: str = ""
    groups: tuple[str, ...] = ()
    access_keys: tuple[str, ...] = ()
    inline_policies: tuple[str, ...] = ()
    managed_policies: tuple[str, ...] = ()
    console_password: bool = False


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _checked_documents(owner: str, documents: Mapping[str, str | bytes]) -> list[tuple[str, str]]:
    """Each inline document as text, after checking its name and content."""
    checked = []
    for name, document in documents.items():
        check_name("policy", name)
        parse_policy(document, name=name)
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        checked.append((name, text))
    if len({name.lower() for name in documents}) != len(documents):
        raise ConfigError(f"{owner}: two inline policies have the same name")
    return checked


def _canonical_managed(names: Iterable[str]) -> list[str]:
    return [get_managed_policy(name).name for name in names]


class IdentityStore:
    """The identities of one state folder; see the module doc."""

    def __init__(
        self,
        state_dir: Path,
        *,
        clock: Callable[[], datetime] = _utc_now,
        account_id: str | None = None,
    ) -> None:
        if account_id is not None:
            check_account_id(account_id)
        self._clock = clock
        self._new_account_id = account_id or DEFAULT_ACCOUNT_ID
        self._db = IdentityDatabase(state_dir, initialize=self._initialize)
        self._cache: dict[str, StoredCredential[Principal] | None] = {}
        self._cache_revision = -1
        self._cache_lock = threading.Lock()
        if account_id is not None and account_id != self.account_id:
            self.set_account_id(account_id)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    def close(self) -> None:
        """Close the database connections."""
        self._db.close()

    def _initialize(self, db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO meta VALUES ('account_id', ?)", (self._new_account_id,))
        for role, policy in DEFAULT_ROLES.items():
            role_id = self._insert(db, "role", role, description="Data Pipeline default role")
            db.execute("INSERT INTO managed_policies VALUES (?, ?)", (role_id, policy))

    # --- account ----------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        """The account every ARN names."""
        with self._db.read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'account_id'").fetchone()
        return str(row[0])

    def set_account_id(self, account_id: str) -> None:
        """Name another account in every ARN."""
        check_account_id(account_id)
        with self._db.write() as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'account_id'", (account_id,))

    # --- rows ---------------------------------------------------------------------------

    def _insert(
        self,
        db: sqlite3.Connection,
        kind: Kind,
        name: str,
        *,
        description: str = "",
        password_hash: str | None = None,
    ) -> int:
        check_name(kind, name)
        existing = db.execute(
            "SELECT name FROM principals WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        if existing is not None:
            raise AlreadyExistsError(f"{kind} {existing[0]!r} already exists")
        cursor = db.execute(
            "INSERT INTO principals (kind, name, unique_id, created, description, password_hash)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                kind,
                name,
                new_unique_id(_ID_PREFIX[kind]),
                _iso(self._clock()),
                description,
                password_hash,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    def _id_of(db: sqlite3.Connection, kind: Kind, name: str) -> int:
        row = db.execute(
            "SELECT id FROM principals WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no {kind} named {name!r}")
        return int(row[0])

    def _attach(
        self,
        db: sqlite3.Connection,
        principal_id: int,
        documents: Sequence[tuple[str, str]],
        managed: Sequence[str],
    ) -> None:
        for name, text in documents:
            db.execute(
                "INSERT INTO inline_policies VALUES (?, ?, ?) ON CONFLICT (principal_id, name)"
                " DO UPDATE SET document = excluded.document",
                (principal_id, name, text),
            )
        for name in managed:
            db.execute("INSERT OR IGNORE INTO managed_policies VALUES (?, ?)", (principal_id, name))

    # --- users --------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        access_key: AccessKey | None = None,
        groups: Sequence[str] = (),
        policies: Mapping[str, str | bytes] | None = None,
        managed: Sequence[str] = (),
        password: str | None = None,
    ) -> IdentityInfo:
        """Add a user, with an access key, groups, policies and a console password.

        Everything is checked first and written in one transaction: a bad policy or an
        unknown group leaves no user behind.
        """
        check_name("user", name)
        documents = _checked_documents(f"user {name}", policies or {})
        managed_names = _canonical_managed(managed)
        if access_key is not None:
            check_access_key(access_key)
        password_hash = hash_password(password) if password is not None else None
        with self._db.write() as db:
            user_id = self._insert(db, "user", name, password_hash=password_hash)
            for group in groups:
                db.execute(
                    "INSERT OR IGNORE INTO memberships VALUES (?, ?)",
                    (self._id_of(db, "group", group), user_id),
                )
            self._attach(db, user_id, documents, managed_names)
            if access_key is not None:
                self._insert_key(db, user_id, access_key)
        return self.get("user", name)

    def _insert_key(self, db: sqlite3.Connection, user_id: int, key: AccessKey) -> None:
        taken = db.execute(
            "SELECT 1 FROM access_keys WHERE access_key_id = ? UNION ALL "
            "SELECT 1 FROM session_credentials WHERE access_key_id = ?",
            (key.access_key_id, key.access_key_id),
        ).fetchone()
        if taken is not None:
            raise AlreadyExistsError(f"access key {key.access_key_id} is already in use")
        (count,) = db.execute(
            "SELECT count(*) FROM access_keys WHERE principal_id = ?", (user_id,)
        ).fetchone()
        if count >= MAX_ACCESS_KEYS_PER_USER:
            raise LimitExceededError(
                f"a user has at most {MAX_ACCESS_KEYS_PER_USER} access keys: delete one first"
            )
        db.execute(
            "INSERT INTO access_keys (access_key_id, secret_access_key, principal_id, created)"
            " VALUES (?, ?, ?, ?)",
            (key.access_key_id, key.secret_access_key, user_id, _iso(self._clock())),
        )

    def create_access_key(self, user: str, key: AccessKey) -> None:
        """Give ``user`` another access key (at most two each)."""
        check_access_key(key)
        with self._db.write() as db:
            self._insert_key(db, self._id_of(db, "user", user), key)

    def delete_access_key(self, user: str, access_key_id: str) -> None:
        """Delete one of ``user``'s access keys, and the sessions made with it."""
        with self._db.write() as db:
            cursor = db.execute(
                "DELETE FROM access_keys WHERE access_key_id = ? AND principal_id = ?",
                (access_key_id, self._id_of(db, "user", user)),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"user {user!r} has no access key {access_key_id}")

    def set_password(self, user: str, password: str | None) -> None:
        """Set ``user``'s console password, or remove it with ``None``."""
        password_hash = hash_password(password) if password is not None else None
        with self._db.write() as db:
            db.execute(
                "UPDATE principals SET password_hash = ? WHERE id = ?",
                (password_hash, self._id_of(db, "user", user)),
            )

    def check_password(self, user: str, password: str) -> Principal | None:
        """The user, when ``password`` is its console password; otherwise ``None``.

        Takes as long for an unknown user as for a wrong password.
        """
        with self._db.read() as db:
            row = db.execute(
                "SELECT password_hash FROM principals WHERE kind = 'user' AND name = ?", (user,)
            ).fetchone()
        if not verify_password(None if row is None else row[0], password):
            return None
        return self.principal("user", user)

    def password_mark(self, user: str) -> str | None:
        """A digest of ``user``'s stored console password hash (``None`` without one, or
        without the user): it changes whenever the password is set or removed, which
        ends the console sessions signed in with the old one."""
        with self._db.read() as db:
            row = db.execute(
                "SELECT password_hash FROM principals WHERE kind = 'user' AND name = ?", (user,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return hashlib.sha256(str(row[0]).encode("utf-8")).hexdigest()

    def user_count(self) -> int:
        """How many users there are."""
        with self._db.read() as db:
            (count,) = db.execute("SELECT count(*) FROM principals WHERE kind = 'user'").fetchone()
        return int(count)

    # --- groups and roles ---------------------------------------------------------------

    def add_group(
        self,
        name: str,
        *,
        policies: Mapping[str, str | bytes] | None = None,
        managed: Sequence[str] = (),
    ) -> IdentityInfo:
        """Add a group with its policies."""
        return self._add_holder("group", name, policies, managed, "")

    def add_role(
        self,
        name: str,
        *,
        policies: Mapping[str, str | bytes] | None = None,
        managed: Sequence[str] = (),
        description: str = "",
    ) -> IdentityInfo:
        """Add a role with its policies."""
        return self._add_holder("role", name, policies, managed, description)

    def _add_holder(
        self,
        kind: Kind,
        name: str,
        policies: Mapping[str, str | bytes] | None,
        managed: Sequence[str],
        description: str,
    ) -> IdentityInfo:
        check_name(kind, name)
        documents = _checked_documents(f"{kind} {name}", policies or {})
        managed_names = _canonical_managed(managed)
        with self._db.write() as db:
            principal_id = self._insert(db, kind, name, description=description)
            self._attach(db, principal_id, documents, managed_names)
        return self.get(kind, name)

    def remove(self, kind: Kind, name: str) -> None:
        """Remove a user, group or role with everything that belongs to it."""
        with self._db.write() as db:
            db.execute("DELETE FROM principals WHERE id = ?", (self._id_of(db, kind, name),))

    def add_to_group(self, group: str, users: Sequence[str]) -> None:
        """Make ``users`` members of ``group``."""
        with self._db.write() as db:
            group_id = self._id_of(db, "group", group)
            for user in users:
                db.execute(
                    "INSERT OR IGNORE INTO memberships VALUES (?, ?)",
                    (group_id, self._id_of(db, "user", user)),
                )

    def remove_from_group(self, group: str, users: Sequence[str]) -> None:
        """Take ``users`` out of ``group``."""
        with self._db.write() as db:
            group_id = self._id_of(db, "group", group)
            for user in users:
                cursor = db.execute(
                    "DELETE FROM memberships WHERE group_id = ? AND user_id = ?",
                    (group_id, self._id_of(db, "user", user)),
                )
                if cursor.rowcount == 0:
                    raise NotFoundError(f"user {user!r} is not in group {group!r}")

    # --- policies -----------------------------------------------------------------------

    def attach_policies(
        self,
        kind: Kind,
        name: str,
        *,
        policies: Mapping[str, str | bytes] | None = None,
        managed: Sequence[str] = (),
    ) -> None:
        """Attach inline documents (replacing one of the same name) and managed policies."""
        documents = _checked_documents(f"{kind} {name}", policies or {})
        managed_names = _canonical_managed(managed)
        with self._db.write() as db:
            self._attach(db, self._id_of(db, kind, name), documents, managed_names)

    def detach_policies(
        self,
        kind: Kind,
        name: str,
        *,
        policies: Sequence[str] = (),
        managed: Sequence[str] = (),
    ) -> None:
        """Remove inline policies by name and detach managed policies."""
        managed_names = _canonical_managed(managed)
        with self._db.write() as db:
            principal_id = self._id_of(db, kind, name)
            for policy in policies:
                cursor = db.execute(
                    "DELETE FROM inline_policies WHERE principal_id = ? AND name = ?",
                    (principal_id, policy),
                )
                if cursor.rowcount == 0:
                    raise NotFoundError(f"{kind} {name!r} has no inline policy {policy!r}")
            for policy in managed_names:
                cursor = db.execute(
                    "DELETE FROM managed_policies WHERE principal_id = ? AND name = ?",
                    (principal_id, policy),
                )
                if cursor.rowcount == 0:
                    raise NotFoundError(f"{kind} {name!r} has no managed policy {policy!r}")

    def inline_policy(self, kind: Kind, name: str, policy: str) -> str:
        """The text of one inline policy."""
        with self._db.read() as db:
            row = db.execute(
                "SELECT document FROM inline_policies WHERE principal_id = ? AND name = ?",
                (self._id_of(db, kind, name), policy),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"{kind} {name!r} has no inline policy {policy!r}")
        return str(row[0])

    # --- listings -----------------------------------------------------------------------

    def get(self, kind: Kind, name: str) -> IdentityInfo:
        """One user, group or role."""
        with self._db.read() as db:
            row = db.execute(
                "SELECT * FROM principals WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no {kind} named {name!r}")
            return self._info(db, row, self._account(db))

    def listing(self, kind: Kind) -> list[IdentityInfo]:
        """Every user, group or role, by name."""
        with self._db.read() as db:
            account = self._account(db)
            rows = db.execute(
                "SELECT * FROM principals WHERE kind = ? ORDER BY name", (kind,)
            ).fetchall()
            return [self._info(db, row, account) for row in rows]

    @staticmethod
    def _account(db: sqlite3.Connection) -> str:
        return str(db.execute("SELECT value FROM meta WHERE key = 'account_id'").fetchone()[0])

    @staticmethod
    def _info(db: sqlite3.Connection, row: sqlite3.Row, account: str) -> IdentityInfo:
        principal_id, kind = row["id"], row["kind"]

        def names(query: str) -> tuple[str, ...]:
            return tuple(str(r[0]) for r in db.execute(query, (principal_id,)))

        if kind == "group":
            groups = names(
                "SELECT p.name FROM memberships m JOIN principals p ON p.id = m.user_id "
                "WHERE m.group_id = ? ORDER BY p.name"
            )
        else:
            groups = names(
                "SELECT p.name FROM memberships m JOIN principals p ON p.id = m.group_id "
                "WHERE m.user_id = ? ORDER BY p.name"
            )
        return IdentityInfo(
            kind=kind,
            name=row["name"],
            unique_id=row["unique_id"],
            arn=iam_arn(account, kind, row["name"]),
            created=datetime.fromisoformat(row["created"]),
            description=row["description"],
            groups=groups,
            access_keys=names(
                "SELECT access_key_id FROM access_keys WHERE principal_id = ? ORDER BY created"
            ),
            inline_policies=names(
                "SELECT name FROM inline_policies WHERE principal_id = ? ORDER BY name"
            ),
            managed_policies=names(
                "SELECT name FROM managed_policies WHERE principal_id = ? ORDER BY name"
            ),
            console_password=row["password_hash"] is not None,
        )

    # --- the server's side --------------------------------------------------------------

    def principal(self, kind: Kind, name: str) -> Principal:
        """A user or role with every policy that applies to it (a role's, for the engine
        to act as the role a pipeline names)."""
        if kind == "group":
            raise ValueError("a group is not a principal")
        with self._db.read() as db:
            row = db.execute(
                "SELECT * FROM principals WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no {kind} named {name!r}")
            return self._principal(db, row, self._account(db))

    def _principal(self, db: sqlite3.Connection, row: sqlite3.Row, account: str) -> Principal:
        owners = [(row["id"], f"{row['kind']}/{row['name']}")]
        groups: list[str] = []
        if row["kind"] == "user":
            for group in db.execute(
                "SELECT p.id, p.name FROM memberships m JOIN principals p ON p.id = m.group_id "
                "WHERE m.user_id = ? ORDER BY p.name",
                (row["id"],),
            ):
                owners.append((group["id"], f"group/{group['name']}"))
                groups.append(group["name"])
        policies: list[Policy] = []
        for owner_id, label in owners:
            for policy in db.execute(
                "SELECT name, document FROM inline_policies WHERE principal_id = ? ORDER BY name",
                (owner_id,),
            ):
                policies.append(parse_policy(policy["document"], name=f"{label}/{policy['name']}"))
            for (managed,) in db.execute(
                "SELECT name FROM managed_policies WHERE principal_id = ? ORDER BY name",
                (owner_id,),
            ):
                policies.append(get_managed_policy(managed).policy)
        return Principal(
            kind=row["kind"],
            name=row["name"],
            unique_id=row["unique_id"],
            account_id=account,
            policies=tuple(policies),
            groups=tuple(groups),
        )

    def lookup_credential(self, access_key_id: str) -> StoredCredential[Principal] | None:
        """The stored credential of an access key (permanent or temporary) and whose it
        is, or ``None``: what ``sigv4.verify`` asks for. Served from a cache that is
        dropped whenever the data changes."""
        revision = self._db.revision()
        with self._cache_lock:
            if revision != self._cache_revision or len(self._cache) > _CACHE_LIMIT:
                self._cache = {}
                self._cache_revision = revision
            elif access_key_id in self._cache:
                return self._cache[access_key_id]
        found = self._read_credential(access_key_id)
        with self._cache_lock:
            if self._cache_revision == revision:
                self._cache[access_key_id] = found
        return found

    def _read_credential(self, access_key_id: str) -> StoredCredential[Principal] | None:
        with self._db.read() as db:
            account = self._account(db)
            key = db.execute(
                "SELECT k.secret_access_key, p.* FROM access_keys k "
                "JOIN principals p ON p.id = k.principal_id "
                "WHERE k.access_key_id = ? AND k.status = 'Active'",
                (access_key_id,),
            ).fetchone()
            if key is not None:
                return StoredCredential(
                    key["secret_access_key"], principal=self._principal(db, key, account)
                )
            session = db.execute(
                "SELECT s.secret_access_key, s.session_token, s.expiration, p.* "
                "FROM session_credentials s JOIN principals p ON p.id = s.principal_id "
                "WHERE s.access_key_id = ?",
                (access_key_id,),
            ).fetchone()
            if session is None:
                return None
            return StoredCredential(
                session["secret_access_key"],
                principal=self._principal(db, session, account),
                session_token=session["session_token"],
                expiration=datetime.fromisoformat(session["expiration"]),
            )

    def add_session(self, source_access_key_id: str, credentials: SessionCredentials) -> None:
        """Keep a temporary credential made by GetSessionToken for the owner of
        ``source_access_key_id``; sessions expired for a day are dropped."""
        now = self._clock()
        with self._db.write() as db:
            row = db.execute(
                "SELECT principal_id FROM access_keys WHERE access_key_id = ?",
                (source_access_key_id,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no access key {source_access_key_id}")
            db.execute(
                "DELETE FROM session_credentials WHERE expiration < ?",
                (_iso(now - SESSION_RETENTION),),
            )
            db.execute(
                "INSERT INTO session_credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    credentials.access_key_id,
                    credentials.secret_access_key,
                    credentials.session_token,
                    _iso(credentials.expiration),
                    row[0],
                    source_access_key_id,
                    _iso(now),
                ),
            )
