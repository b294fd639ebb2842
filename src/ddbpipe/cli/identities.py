"""``ddbpipe users``, ``groups`` and ``roles``: the identities ``ddbpipe serve`` accepts.

Each command opens the state folder's identity store, changes it in one short
transaction and exits, so it works while the server runs: the server sees the change
on its next request. A new secret access key is printed once, when it is made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import json_option, state_option
from ddbpipe.cli.output import Output, use_output
from ddbpipe.errors import ConfigError
from ddbpipe.server.access_keys import AccessKey, new_access_key
from ddbpipe.server.identities import IdentityInfo, IdentityStore
from ddbpipe.server.managed_policies import managed_policy_names
from ddbpipe.server.principals import Kind

__all__ = ["groups_command", "roles_command", "users_command"]

PASSWORD_VARIABLE = "DDBPIPE_CONSOLE_PASSWORD"

_policy_files = click.option(
    "--policy",
    "policy_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An IAM policy document (JSON) to attach inline, named after the file "
    "(readonly.json: readonly). Repeat for more.",
)
_managed = click.option(
    "--managed",
    multiple=True,
    metavar="NAME",
    help="A managed policy to attach, by name or ARN (such as AWSDataPipeline_FullAccess). "
    "Repeat for more.",
)


def _documents(files: Sequence[Path]) -> dict[str, bytes]:
    documents: dict[str, bytes] = {}
    for path in files:
        try:
            documents[path.stem] = path.read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    return documents


def _document(info: IdentityInfo) -> dict[str, Any]:
    members = "members" if info.kind == "group" else "groups"
    document: dict[str, Any] = {
        "kind": info.kind,
        "name": info.name,
        "arn": info.arn,
        "unique_id": info.unique_id,
        "created": info.created.isoformat(),
        members: list(info.groups),
        "inline_policies": list(info.inline_policies),
        "managed_policies": list(info.managed_policies),
    }
    if info.kind == "user":
        document["access_keys"] = list(info.access_keys)
        document["console_password"] = info.console_password
    if info.kind == "role":
        document["description"] = info.description
    return document


def _open(state: Path) -> IdentityStore:
    return IdentityStore(state)


def _console_password() -> str:
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is not None:
        return password
    entered: str = click.prompt(
        "Console password", hide_input=True, confirmation_prompt=True, err=True
    )
    return entered


def _brought_key(access_key_id: str | None, secret_access_key: str | None) -> AccessKey | None:
    if (access_key_id is None) != (secret_access_key is None):
        raise ConfigError("give --access-key-id and --secret-access-key together")
    if access_key_id is None or secret_access_key is None:
        return None
    return AccessKey(access_key_id, secret_access_key)


def _print_new_key(output: Output, user: str, key: AccessKey, shown: bool) -> dict[str, Any]:
    console = output.console
    console.print(f"access key ID:     {key.access_key_id}", markup=False, highlight=False)
    if shown:
        console.print(f"secret access key: {key.secret_access_key}", markup=False, highlight=False)
        console.print(
            "The secret is shown only now: keep it (aws configure, or the environment "
            "variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).",
            markup=False,
        )
    return {
        "user": user,
        "access_key_id": key.access_key_id,
        "secret_access_key": key.secret_access_key if shown else None,
    }


def _print_listing(output: Output, kind: Kind, infos: Sequence[IdentityInfo]) -> None:
    if output.json:
        output.results([_document(info) for info in infos])
        return
    table = Table(box=None, pad_edge=False)
    members = "members" if kind == "group" else "groups"
    columns = ["name", "arn", members, "policies"]
    if kind == "user":
        columns += ["access keys", "console"]
    for column in columns:
        table.add_column(column)
    for info in infos:
        policies = ", ".join([*info.inline_policies, *info.managed_policies]) or "-"
        row = [info.name, info.arn, ", ".join(info.groups) or "-", policies]
        if kind == "user":
            row += [", ".join(info.access_keys) or "-", "yes" if info.console_password else "no"]
        table.add_row(*row)
    if infos:
        output.console.print(table)
    else:
        output.console.print(f"no {kind}s yet", markup=False)


def _done(output: Output, message: str, document: dict[str, Any] | None = None) -> None:
    if output.json:
        output.results([document] if document is not None else [])
    else:
        output.console.print(message, markup=False, highlight=False)


# --- users ------------------------------------------------------------------------------


@click.group("users")
def users_command() -> None:
    """Manage the users who may call the server (access keys, policies, groups)."""


@users_command.command("add")
@click.argument("name")
@click.option("--access-key-id", help="Use this access key ID instead of making one.")
@click.option("--secret-access-key", help="The secret of --access-key-id.")
@click.option("--no-access-key", is_flag=True, help="Make no access key (a console-only user).")
@_policy_files
@_managed
@click.option("--group", "groups", multiple=True, help="Add the user to this group. Repeat.")
@click.option(
    "--console-password",
    is_flag=True,
    help=f"Set a console password: prompted for, or read from ${PASSWORD_VARIABLE}.",
)
@state_option
@json_option
@handle_errors
def users_add(
    name: str,
    access_key_id: str | None,
    secret_access_key: str | None,
    no_access_key: bool,
    policy_files: tuple[Path, ...],
    managed: tuple[str, ...],
    groups: tuple[str, ...],
    console_password: bool,
    state: Path,
    as_json: bool,
) -> None:
    """Add user NAME with a new access key (its secret is printed once).

    With no user, the server (ddbpipe serve) accepts no request at all.
    """
    output = use_output(Output("users add", json=as_json))
    brought = _brought_key(access_key_id, secret_access_key)
    if brought is not None and no_access_key:
        raise ConfigError("--no-access-key and --access-key-id contradict each other")
    key = None if no_access_key else brought or new_access_key()
    password = _console_password() if console_password else None
    store = _open(state)
    info = store.add_user(
        name,
        access_key=key,
        groups=groups,
        policies=_documents(policy_files),
        managed=managed,
        password=password,
    )
    if not output.json:
        output.console.print(f"added user {info.name} ({info.arn})", markup=False)
    document = _document(info)
    if key is not None:
        document["new_access_key"] = _print_new_key(output, info.name, key, brought is None)
    if not policy_files and not managed and not groups and not output.json:
        output.console.print(
            "The user has no policies yet, so every request is refused: attach some with "
            f"ddbpipe users attach-policy {info.name} --managed AWSDataPipeline_FullAccess",
            markup=False,
        )
    if output.json:
        output.results([document])


@users_command.command("create-access-key")
@click.argument("name")
@click.option("--access-key-id", help="Use this access key ID instead of making one.")
@click.option("--secret-access-key", help="The secret of --access-key-id.")
@state_option
@json_option
@handle_errors
def users_create_access_key(
    name: str,
    access_key_id: str | None,
    secret_access_key: str | None,
    state: Path,
    as_json: bool,
) -> None:
    """Give user NAME another access key (at most two); its secret is printed once."""
    output = use_output(Output("users create-access-key", json=as_json))
    brought = _brought_key(access_key_id, secret_access_key)
    key = brought or new_access_key()
    _open(state).create_access_key(name, key)
    document = _print_new_key(output, name, key, brought is None)
    if output.json:
        output.results([document])


@users_command.command("delete-access-key")
@click.argument("name")
@click.argument("access_key_id")
@state_option
@json_option
@handle_errors
def users_delete_access_key(name: str, access_key_id: str, state: Path, as_json: bool) -> None:
    """Delete access key ACCESS_KEY_ID of user NAME, and the sessions made with it."""
    output = use_output(Output("users delete-access-key", json=as_json))
    _open(state).delete_access_key(name, access_key_id)
    _done(output, f"deleted access key {access_key_id} of user {name}")


@users_command.command("set-password")
@click.argument("name")
@click.option("--remove", is_flag=True, help="Remove the console password instead.")
@state_option
@json_option
@handle_errors
def users_set_password(name: str, remove: bool, state: Path, as_json: bool) -> None:
    """Set (or remove) the console password of user NAME.

    The password is prompted for, or read from $DDBPIPE_CONSOLE_PASSWORD.
    """
    output = use_output(Output("users set-password", json=as_json))
    store = _open(state)
    store.get("user", name)  # a missing user is reported before the prompt
    store.set_password(name, None if remove else _console_password())
    _done(output, f"{'removed' if remove else 'set'} the console password of user {name}")


# --- what users, groups and roles share ----------------------------------------------------


def _add_shared_commands(group: click.Group, kind: Kind) -> None:
    """``list``, ``remove``, ``attach-policy`` and ``detach-policy`` for ``kind``."""

    @group.command("list")
    @state_option
    @json_option
    @handle_errors
    def list_command(state: Path, as_json: bool) -> None:
        output = use_output(Output(f"{kind}s list", json=as_json))
        _print_listing(output, kind, _open(state).listing(kind))

    list_command.help = f"List the {kind}s, with their ARNs and policies."

    @group.command("remove")
    @click.argument("name")
    @state_option
    @json_option
    @handle_errors
    def remove_command(name: str, state: Path, as_json: bool) -> None:
        output = use_output(Output(f"{kind}s remove", json=as_json))
        _open(state).remove(kind, name)
        _done(output, f"removed {kind} {name}")

    remove_command.help = {
        "user": "Remove user NAME with its access keys, sessions and policies.",
        "group": "Remove group NAME (its users stay, without the group's policies).",
        "role": "Remove role NAME with its policies.",
    }[kind]

    @group.command("attach-policy")
    @click.argument("name")
    @_policy_files
    @_managed
    @state_option
    @json_option
    @handle_errors
    def attach_command(
        name: str,
        policy_files: tuple[Path, ...],
        managed: tuple[str, ...],
        state: Path,
        as_json: bool,
    ) -> None:
        output = use_output(Output(f"{kind}s attach-policy", json=as_json))
        if not policy_files and not managed:
            raise ConfigError("give --policy FILE or --managed NAME")
        store = _open(state)
        store.attach_policies(kind, name, policies=_documents(policy_files), managed=managed)
        info = store.get(kind, name)
        policies = ", ".join([*info.inline_policies, *info.managed_policies])
        _done(output, f"{kind} {name} now has: {policies}", _document(info))

    attach_command.help = (
        f"Attach policies to {kind} NAME. An invalid document is refused with every "
        "problem found; an inline policy replaces one of the same name. Managed policies: "
        + ", ".join(managed_policy_names())
        + "."
    )

    @group.command("detach-policy")
    @click.argument("name")
    @click.option(
        "--policy", "policies", multiple=True, help="An inline policy's name. Repeat for more."
    )
    @_managed
    @state_option
    @json_option
    @handle_errors
    def detach_command(
        name: str,
        policies: tuple[str, ...],
        managed: tuple[str, ...],
        state: Path,
        as_json: bool,
    ) -> None:
        output = use_output(Output(f"{kind}s detach-policy", json=as_json))
        if not policies and not managed:
            raise ConfigError("give --policy NAME or --managed NAME")
        store = _open(state)
        store.detach_policies(kind, name, policies=policies, managed=managed)
        _done(output, f"detached from {kind} {name}", _document(store.get(kind, name)))

    detach_command.help = f"Detach inline or managed policies from {kind} NAME."


_add_shared_commands(users_command, "user")


# --- groups -------------------------------------------------------------------------------


@click.group("groups")
def groups_command() -> None:
    """Manage groups: their policies apply to every user in them."""


@groups_command.command("add")
@click.argument("name")
@_policy_files
@_managed
@state_option
@json_option
@handle_errors
def groups_add(
    name: str,
    policy_files: tuple[Path, ...],
    managed: tuple[str, ...],
    state: Path,
    as_json: bool,
) -> None:
    """Add group NAME with policies."""
    output = use_output(Output("groups add", json=as_json))
    info = _open(state).add_group(name, policies=_documents(policy_files), managed=managed)
    _done(output, f"added group {info.name} ({info.arn})", _document(info))


def _membership(verb: str) -> Callable[..., None]:
    def command(group: str, users: tuple[str, ...], state: Path, as_json: bool) -> None:
        output = use_output(Output(f"groups {verb}", json=as_json))
        store = _open(state)
        if verb == "add-user":
            store.add_to_group(group, users)
        else:
            store.remove_from_group(group, users)
        info = store.get("group", group)
        _done(output, f"group {group} has: {', '.join(info.groups) or 'no users'}", _document(info))

    return command


for _verb, _help in (
    ("add-user", "Add users USER... to group GROUP."),
    ("remove-user", "Take users USER... out of group GROUP."),
):
    groups_command.command(_verb, help=_help)(
        click.argument("group")(
            click.argument("users", nargs=-1, required=True, metavar="USER...")(
                state_option(json_option(handle_errors(_membership(_verb))))
            )
        )
    )

_add_shared_commands(groups_command, "group")


# --- roles --------------------------------------------------------------------------------


@click.group("roles")
def roles_command() -> None:
    """Manage roles: the identities pipelines run as (DataPipelineDefaultRole ...)."""


@roles_command.command("add")
@click.argument("name")
@click.option("--description", default="", help="What the role is for.")
@_policy_files
@_managed
@state_option
@json_option
@handle_errors
def roles_add(
    name: str,
    description: str,
    policy_files: tuple[Path, ...],
    managed: tuple[str, ...],
    state: Path,
    as_json: bool,
) -> None:
    """Add role NAME with policies."""
    output = use_output(Output("roles add", json=as_json))
    info = _open(state).add_role(
        name, policies=_documents(policy_files), managed=managed, description=description
    )
    _done(output, f"added role {info.name} ({info.arn})", _document(info))


_add_shared_commands(roles_command, "role")
