"""Ordering a full native export and its incremental exports, as import applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbpipe.backups.chain import open_chain
from ddbpipe.errors import NotABackupError
from ddbpipe.formats.ddbjson import ChangeRecord
from tests.support.native import EXPORT_TIME, write_native_export

T0 = EXPORT_TIME  # the full export's time
T1 = "2022-11-12T05:30:50.456Z"
T2 = "2022-11-12T06:30:50.456Z"
T3 = "2022-11-12T07:30:50.456Z"
DELETE = ChangeRecord(keys={"pk": {"S": "a"}}, new_image=None, old_image={"pk": {"S": "a"}})


def incremental(prefix: Path, export_id: str, start: str, end: str) -> None:
    write_native_export(prefix, [[DELETE]], export_id, window=(start, end))


def test_full_export_then_incrementals_in_window_order(tmp_path: Path) -> None:
    write_native_export(tmp_path, [[{"pk": {"S": "a"}}]], "01668227450456-aaaaaaaa")
    # Written out of order: the chain follows the windows, not the names.
    incremental(tmp_path, "01668227450456-cccccccc", T1, T2)
    incremental(tmp_path, "01668227450456-bbbbbbbb", T0, T1)
    chain = open_chain(str(tmp_path))
    assert [b.url.rpartition("/")[2] for b in chain.backups] == [
        "01668227450456-aaaaaaaa",
        "01668227450456-bbbbbbbb",
        "01668227450456-cccccccc",
    ]
    assert [b.changes for b in chain.backups] == [False, True, True]
    assert chain.left_out == ()


def test_older_exports_are_left_out_and_said_so(tmp_path: Path) -> None:
    write_native_export(tmp_path, [[{"pk": {"S": "a"}}]], "01668227450456-aaaaaaaa")
    incremental(tmp_path, "01668227450456-00000000", "2022-11-12T03:00:00.000Z", T0)
    incremental(tmp_path, "01668227450456-bbbbbbbb", "2022-11-12T04:00:00.000Z", T1)
    chain = open_chain(str(tmp_path))
    assert [b.url.rpartition("/")[2] for b in chain.backups] == [
        "01668227450456-aaaaaaaa",
        "01668227450456-bbbbbbbb",  # overlaps the full export's time: applies
    ]
    assert len(chain.left_out) == 1
    assert "01668227450456-00000000" in chain.left_out[0]


def test_a_gap_between_windows_is_an_error(tmp_path: Path) -> None:
    write_native_export(tmp_path, [[{"pk": {"S": "a"}}]], "01668227450456-aaaaaaaa")
    incremental(tmp_path, "01668227450456-bbbbbbbb", T0, T1)
    incremental(tmp_path, "01668227450456-dddddddd", T2, T3)
    with pytest.raises(NotABackupError, match=f"reach {T1}.*starts at {T2}"):
        open_chain(str(tmp_path))


def test_incrementals_alone_chain_from_the_first(tmp_path: Path) -> None:
    incremental(tmp_path, "01668227450456-cccccccc", T1, T2)
    incremental(tmp_path, "01668227450456-bbbbbbbb", T0, T1)
    chain = open_chain(str(tmp_path / "AWSDynamoDB"))
    assert [b.summary.export_from_time for b in chain.backups if b.summary] == [T0, T1]


def test_one_export_is_a_chain_of_one(tmp_path: Path) -> None:
    folder = write_native_export(tmp_path, [[{"pk": {"S": "a"}}]])
    assert len(open_chain(str(tmp_path)).backups) == 1
    assert open_chain(str(folder)).backups[0].url == str(folder)


def test_full_exports_of_different_tables_are_refused_and_named(tmp_path: Path) -> None:
    orders = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    users = "arn:aws:dynamodb:us-east-1:123456789012:table/users"
    write_native_export(
        tmp_path, [[{"pk": {"S": "a"}}]], "01668227450456-aaaaaaaa", table_arn=orders
    )
    write_native_export(
        tmp_path, [[{"pk": {"S": "b"}}]], "01668227450457-bbbbbbbb", table_arn=users
    )
    with pytest.raises(NotABackupError) as caught:
        open_chain(str(tmp_path))
    message = str(caught.value)
    assert f"{tmp_path} holds exports of 2 tables" in message
    assert f"orders: {tmp_path}/AWSDynamoDB/01668227450456-aaaaaaaa" in message
    assert f"users: {tmp_path}/AWSDynamoDB/01668227450457-bbbbbbbb" in message
