"""The identity store: users, groups, roles, keys, sessions, policies, passwords, and two
stores on one folder seeing each other's writes."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ddbpipe.errors import AlreadyExistsError, ConfigError, NotFoundError
from ddbpipe.server.access_keys import AccessKey, new_access_key
from ddbpipe.server.identities import DEFAULT_ROLES, IdentityStore, LimitExceededError
from ddbpipe.server.identity_db import DB_FILE_NAME
from ddbpipe.server.managed_policies import UnknownManagedPolicyError
from ddbpipe.server.policy import PolicyDocumentError, evaluate
from ddbpipe.server.sts import SessionCredentials

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def policy(action: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}],
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    return IdentityStore(tmp_path / "state", clock=lambda: NOW)


def allowed(store: IdentityStore, key: str, action: str) -> bool:
    credential = store.lookup_credential(key)
    assert credential is not None
    return evaluate(credential.principal.policies, action).allowed


def test_new_store_is_private_and_holds_the_default_roles(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path / "state")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    roles = {info.name: info.managed_policies for info in store.listing("role")}
    assert roles == {name: (policy,) for name, policy in DEFAULT_ROLES.items()}
    role = store.principal("role", "DataPipelineDefaultRole")
    assert role.arn == "arn:aws:iam::123456789012:role/DataPipelineDefaultRole"
    assert evaluate(role.policies, "dynamodb:Scan", "arn:aws:dynamodb:x:1:table/t").allowed


def test_a_loosened_file_mode_is_set_back_on_open(tmp_path: Path) -> None:
    IdentityStore(tmp_path).close()
    path = tmp_path / DB_FILE_NAME
    path.chmod(0o644)
    IdentityStore(tmp_path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_user_with_key_signs_as_itself(store: IdentityStore) -> None:
    key = new_access_key()
    info = store.add_user("alice", access_key=key, policies={"all": policy("datapipeline:*")})
    assert info.arn == "arn:aws:iam::123456789012:user/alice"
    assert info.unique_id.startswith("AIDA")
    assert len(info.unique_id) == 21
    assert info.access_keys == (key.access_key_id,)
    credential = store.lookup_credential(key.access_key_id)
    assert credential is not None
    assert credential.secret_access_key == key.secret_access_key
    assert not credential.temporary
    assert credential.principal.name == "alice"
    assert allowed(store, key.access_key_id, "datapipeline:ListPipelines")
    assert store.lookup_credential("AKIA0000000000000000") is None


def test_names_are_unique_whatever_their_case(store: IdentityStore) -> None:
    store.add_user("Alice")
    with pytest.raises(AlreadyExistsError, match="user 'Alice' already exists"):
        store.add_user("alice")
    store.add_group("alice")  # another kind may share the name


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "semi;colon"])
def test_invalid_user_names_are_refused(store: IdentityStore, name: str) -> None:
    with pytest.raises(ConfigError, match="user name"):
        store.add_user(name)


def test_invalid_document_is_refused_with_the_reason_and_nothing_is_written(
    store: IdentityStore,
) -> None:
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "allow"}]})
    with pytest.raises(PolicyDocumentError) as caught:
        store.add_user("bob", access_key=new_access_key(), policies={"bad": bad})
    problems = " ".join(caught.value.problems)
    assert 'Effect must be "Allow" or "Deny"' in problems
    assert "needs Action or NotAction" in problems
    assert store.listing("user") == []


def test_unknown_group_or_managed_policy_leaves_no_user(store: IdentityStore) -> None:
    with pytest.raises(NotFoundError, match="no group named 'ops'"):
        store.add_user("bob", groups=["ops"])
    with pytest.raises(UnknownManagedPolicyError):
        store.add_user("bob", managed=["NoSuchPolicy"])
    assert store.listing("user") == []


def test_group_policies_apply_to_members_only_while_they_are_members(
    store: IdentityStore,
) -> None:
    key = new_access_key()
    store.add_user("carol", access_key=key)
    store.add_group("readers", managed=["AWSDataPipeline_PowerUser"])
    assert not allowed(store, key.access_key_id, "datapipeline:ListPipelines")
    store.add_to_group("readers", ["carol"])
    assert allowed(store, key.access_key_id, "datapipeline:ListPipelines")
    assert store.get("group", "readers").groups == ("carol",)
    assert store.get("user", "carol").groups == ("readers",)
    store.remove_from_group("readers", ["carol"])
    assert not allowed(store, key.access_key_id, "datapipeline:ListPipelines")


def test_an_explicit_deny_in_a_group_wins(store: IdentityStore) -> None:
    key = new_access_key()
    store.add_group("no-deletes", policies={"deny": policy("datapipeline:DeletePipeline", "Deny")})
    store.add_user(
        "dave", access_key=key, groups=["no-deletes"], policies={"all": policy("datapipeline:*")}
    )
    assert allowed(store, key.access_key_id, "datapipeline:CreatePipeline")
    assert not allowed(store, key.access_key_id, "datapipeline:DeletePipeline")


def test_attach_replaces_by_name_and_detach_removes(store: IdentityStore) -> None:
    key = new_access_key()
    store.add_user("erin", access_key=key, policies={"p": policy("datapipeline:List*")})
    store.attach_policies("user", "erin", policies={"P": policy("datapipeline:Describe*")})
    assert store.inline_policy("user", "erin", "p") == policy("datapipeline:Describe*")
    assert not allowed(store, key.access_key_id, "datapipeline:ListPipelines")
    store.attach_policies("user", "erin", managed=["awsdatapipeline_fullaccess"])
    assert store.get("user", "erin").managed_policies == ("AWSDataPipeline_FullAccess",)
    store.detach_policies("user", "erin", policies=["p"], managed=["AWSDataPipeline_FullAccess"])
    info = store.get("user", "erin")
    assert (info.inline_policies, info.managed_policies) == ((), ())
    with pytest.raises(NotFoundError, match="no inline policy 'p'"):
        store.detach_policies("user", "erin", policies=["p"])


def test_attaching_an_invalid_document_keeps_the_old_one(store: IdentityStore) -> None:
    store.add_role("exporter", policies={"p": policy("dynamodb:Scan")})
    with pytest.raises(PolicyDocumentError, match="not valid JSON"):
        store.attach_policies("role", "exporter", policies={"p": "{"})
    assert store.inline_policy("role", "exporter", "p") == policy("dynamodb:Scan")


def test_at_most_two_access_keys_and_each_key_once(store: IdentityStore) -> None:
    first = new_access_key()
    store.add_user("frank", access_key=first)
    store.create_access_key("frank", new_access_key())
    with pytest.raises(LimitExceededError, match="at most 2 access keys"):
        store.create_access_key("frank", new_access_key())
    store.add_user("gina")
    with pytest.raises(AlreadyExistsError, match="already in use"):
        store.create_access_key("gina", first)
    store.delete_access_key("frank", first.access_key_id)
    assert store.lookup_credential(first.access_key_id) is None
    with pytest.raises(NotFoundError):
        store.delete_access_key("frank", first.access_key_id)


def test_keys_brought_from_elsewhere_are_checked(store: IdentityStore) -> None:
    store.add_user("hal", access_key=AccessKey("AKIAIOSFODNN7EXAMPLE", "s" * 40))
    with pytest.raises(ConfigError, match="ASIA"):
        store.create_access_key("hal", AccessKey("ASIAIOSFODNN7EXAMPLE", "s" * 40))
    with pytest.raises(ConfigError, match="upper-case"):
        store.create_access_key("hal", AccessKey("akia-lower", "s" * 40))


def session(key_id: str, expires: datetime) -> SessionCredentials:
    return SessionCredentials(key_id, "session-secret", "session-token", expires)


def test_session_credentials_carry_their_token_expiry_and_owner(store: IdentityStore) -> None:
    key = new_access_key()
    store.add_user("ivy", access_key=key, policies={"p": policy("datapipeline:*")})
    store.add_session(key.access_key_id, session("ASIA0000000000000001", NOW + timedelta(hours=1)))
    credential = store.lookup_credential("ASIA0000000000000001")
    assert credential is not None
    assert credential.temporary
    assert credential.session_token == "session-token"
    assert credential.expiration == NOW + timedelta(hours=1)
    assert credential.principal.name == "ivy"
    assert allowed(store, "ASIA0000000000000001", "datapipeline:ListPipelines")


def test_sessions_end_with_their_key_or_user(store: IdentityStore) -> None:
    key = new_access_key()
    store.add_user("jo", access_key=key)
    store.add_session(key.access_key_id, session("ASIA0000000000000002", NOW + timedelta(hours=1)))
    store.delete_access_key("jo", key.access_key_id)
    assert store.lookup_credential("ASIA0000000000000002") is None
    store.create_access_key("jo", key)
    store.add_session(key.access_key_id, session("ASIA0000000000000003", NOW + timedelta(hours=1)))
    store.remove("user", "jo")
    assert store.lookup_credential("ASIA0000000000000003") is None
    assert store.lookup_credential(key.access_key_id) is None


def test_sessions_expired_for_a_day_are_dropped(store: IdentityStore) -> None:
    key = new_access_key()
    store.add_user("kim", access_key=key)
    store.add_session(key.access_key_id, session("ASIA0000000000000004", NOW - timedelta(hours=1)))
    store.add_session(key.access_key_id, session("ASIA0000000000000005", NOW - timedelta(days=2)))
    store.add_session(key.access_key_id, session("ASIA0000000000000006", NOW + timedelta(hours=1)))
    assert store.lookup_credential("ASIA0000000000000004") is not None  # still says "expired"
    assert store.lookup_credential("ASIA0000000000000005") is None


def test_a_second_store_on_the_folder_sees_every_write_at_once(tmp_path: Path) -> None:
    server = IdentityStore(tmp_path)
    command_line = IdentityStore(tmp_path)
    key = new_access_key()
    assert server.lookup_credential(key.access_key_id) is None  # cached as unknown
    command_line.add_user("lee", access_key=key)
    found = server.lookup_credential(key.access_key_id)
    assert found is not None
    assert found.principal.policies == ()
    command_line.attach_policies("user", "lee", policies={"p": policy("datapipeline:*")})
    assert allowed(server, key.access_key_id, "datapipeline:ListPipelines")
    command_line.remove("user", "lee")
    assert server.lookup_credential(key.access_key_id) is None


def test_console_password_is_hashed_and_checked(store: IdentityStore) -> None:
    store.add_user("max", password="correct horse")
    for path in store.path.parent.glob(f"{DB_FILE_NAME}*"):
        assert b"correct horse" not in path.read_bytes()
    assert store.get("user", "max").console_password
    principal = store.check_password("max", "correct horse")
    assert principal is not None
    assert principal.name == "max"
    assert store.check_password("max", "wrong horse") is None
    assert store.check_password("nobody", "correct horse") is None
    store.set_password("max", None)
    assert store.check_password("max", "correct horse") is None
    with pytest.raises(ConfigError, match="8 to 128"):
        store.set_password("max", "short")


def test_account_id_names_every_arn_and_can_change(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path, account_id="111122223333")
    store.add_user("ned")
    assert store.get("user", "ned").arn == "arn:aws:iam::111122223333:user/ned"
    IdentityStore(tmp_path, account_id="444455556666")
    assert store.get("user", "ned").arn == "arn:aws:iam::444455556666:user/ned"
    with pytest.raises(ConfigError, match="12 digits"):
        IdentityStore(tmp_path, account_id="12")


def test_removing_a_group_keeps_its_users(store: IdentityStore) -> None:
    store.add_group("ops")
    store.add_user("ola", groups=["ops"])
    store.remove("group", "ops")
    assert store.get("user", "ola").groups == ()
    with pytest.raises(NotFoundError):
        store.remove("group", "ops")
