"""``ddbpipe users|groups|roles``: what they print, store and refuse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ddbpipe.cli import cli
from ddbpipe.server.identities import IdentityStore

ALLOW_LIST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "datapipeline:List*", "Resource": "*"}],
}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def run(
    state: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> Result:
    return CliRunner().invoke(cli, [*args, "--state", str(state)], env=env, input=stdin)


def results(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    found: list[dict[str, Any]] = document["results"]
    return found


def policy_file(tmp_path: Path, name: str, document: object) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_users_add_prints_the_new_secret_once(state: Path, tmp_path: Path) -> None:
    result = run(
        state, "users", "add", "alice", "--policy", policy_file(tmp_path, "list.json", ALLOW_LIST)
    )
    assert result.exit_code == 0, result.output
    key_id = re.search(r"access key ID:\s+(AKIA[A-Z0-9]{16})", result.output)
    secret = re.search(r"secret access key: (\S{40})", result.output)
    assert key_id is not None
    assert secret is not None
    credential = IdentityStore(state).lookup_credential(key_id.group(1))
    assert credential is not None
    assert credential.secret_access_key == secret.group(1)
    listing = run(state, "users", "list")
    assert key_id.group(1) in listing.output
    assert secret.group(1) not in listing.output
    assert "list" in listing.output


def test_users_add_json_and_a_brought_key(state: Path) -> None:
    found = results(
        run(
            state,
            "users",
            "add",
            "bob",
            "--access-key-id",
            "AKIAIOSFODNN7EXAMPLE",
            "--secret-access-key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
            "--managed",
            "AWSDataPipeline_PowerUser",
            "--json",
        )
    )
    assert found[0]["arn"] == "arn:aws:iam::123456789012:user/bob"
    assert found[0]["managed_policies"] == ["AWSDataPipeline_PowerUser"]
    assert found[0]["new_access_key"] == {
        "user": "bob",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "secret_access_key": None,  # the caller already has it
    }


def test_an_invalid_policy_is_refused_with_the_reason(state: Path, tmp_path: Path) -> None:
    bad = policy_file(
        tmp_path, "bad.json", {"Version": "2012-10-17", "Statement": {"Effect": "Allow"}}
    )
    result = run(state, "users", "add", "carol", "--policy", bad)
    assert result.exit_code == 3
    assert "needs Action or NotAction" in result.output
    assert "needs Resource or NotResource" in result.output
    assert IdentityStore(state).listing("user") == []


def test_unknown_managed_policy_lists_the_known_ones(state: Path) -> None:
    result = run(state, "users", "add", "dan", "--managed", "Everything")
    assert result.exit_code == 3
    assert "AWSDataPipeline_FullAccess" in result.output


def test_console_password_from_the_environment_or_the_prompt(state: Path) -> None:
    env = {"DDBPIPE_CONSOLE_PASSWORD": "correct horse"}
    assert run(state, "users", "add", "erin", "--console-password", env=env).exit_code == 0
    store = IdentityStore(state)
    assert store.check_password("erin", "correct horse") is not None
    prompted = run(state, "users", "set-password", "erin", stdin="battery staple\nbattery staple\n")
    assert prompted.exit_code == 0, prompted.output
    assert store.check_password("erin", "battery staple") is not None
    assert run(state, "users", "set-password", "erin", "--remove").exit_code == 0
    assert store.check_password("erin", "battery staple") is None
    missing = run(state, "users", "set-password", "nobody", env=env)
    assert missing.exit_code == 6


def test_access_keys_are_made_and_deleted(state: Path) -> None:
    run(state, "users", "add", "fay", "--no-access-key")
    made = results(run(state, "users", "create-access-key", "fay", "--json"))[0]
    assert made["access_key_id"].startswith("AKIA")
    assert len(made["secret_access_key"]) == 40
    second = run(state, "users", "create-access-key", "fay")
    assert second.exit_code == 0
    third = run(state, "users", "create-access-key", "fay")
    assert third.exit_code == 3
    assert "at most 2 access keys" in third.output
    deleted = run(state, "users", "delete-access-key", "fay", made["access_key_id"])
    assert deleted.exit_code == 0
    assert IdentityStore(state).lookup_credential(made["access_key_id"]) is None


def test_groups_and_their_members(state: Path, tmp_path: Path) -> None:
    assert (
        run(state, "groups", "add", "ops", "--managed", "AWSDataPipeline_FullAccess").exit_code == 0
    )
    run(state, "users", "add", "gus")
    run(state, "users", "add", "hana", "--group", "ops")
    group = results(run(state, "groups", "add-user", "ops", "gus", "--json"))[0]
    assert group["members"] == ["gus", "hana"]
    assert results(run(state, "groups", "remove-user", "ops", "hana", "--json"))[0]["members"] == [
        "gus"
    ]
    attached = run(
        state,
        "groups",
        "attach-policy",
        "ops",
        "--policy",
        policy_file(tmp_path, "l.json", ALLOW_LIST),
    )
    assert attached.exit_code == 0
    principal = IdentityStore(state).principal("user", "gus")
    assert principal.groups == ("ops",)
    assert len(principal.policies) == 2
    assert run(state, "groups", "remove", "ops").exit_code == 0
    assert IdentityStore(state).principal("user", "gus").policies == ()


def test_roles_start_with_the_data_pipeline_defaults(state: Path) -> None:
    roles = {role["name"]: role for role in results(run(state, "roles", "list", "--json"))}
    assert roles["DataPipelineDefaultRole"]["managed_policies"] == ["AWSDataPipelineRole"]
    assert roles["DataPipelineDefaultResourceRole"]["managed_policies"] == [
        "AmazonEC2RoleforDataPipelineRole"
    ]
    added = run(state, "roles", "add", "exporter", "--managed", "AmazonDynamoDBReadOnlyAccess")
    assert added.exit_code == 0
    detached = run(
        state, "roles", "detach-policy", "exporter", "--managed", "AmazonDynamoDBReadOnlyAccess"
    )
    assert detached.exit_code == 0
    assert IdentityStore(state).get("role", "exporter").managed_policies == ()


def test_missing_and_duplicate_names_have_their_exit_codes(state: Path) -> None:
    assert run(state, "users", "remove", "nobody").exit_code == 6
    run(state, "users", "add", "ivy")
    assert run(state, "users", "add", "IVY").exit_code == 8
    assert run(state, "users", "attach-policy", "ivy").exit_code == 3
