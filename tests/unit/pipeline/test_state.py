"""The SQLite state: a private file, WAL, QueryObjects selectors on indexes, leases
between runners, and committed writes that survive a SIGKILL."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.ids import (
    attempt_id,
    attempt_number,
    instance_id,
    is_pipeline_id,
    new_pipeline_id,
)
from ddbpipe.pipeline.queries import Selector
from ddbpipe.pipeline.state import ObjectRecord, PipelineRecord, StateStore
from ddbpipe.pipeline.statuses import HealthStatus, component_health, pipeline_health
from ddbpipe.pipeline.timefmt import parse_datetime


def test_ids_have_the_services_forms() -> None:
    pipeline_id = new_pipeline_id()
    assert is_pipeline_id(pipeline_id)
    assert len(pipeline_id) == 23
    assert new_pipeline_id() != pipeline_id
    instance = instance_id("TableBackupActivity", parse_datetime("2026-11-30T14:00:00"))
    assert instance == "@TableBackupActivity_2026-11-30T14:00:00"
    assert attempt_id(instance, 2) == "@TableBackupActivity_2026-11-30T14:00:00_Attempt=2"
    assert attempt_number(attempt_id(instance, 12)) == 12
    assert attempt_number(instance) is None
    with pytest.raises(ValueError, match="from 1"):
        attempt_id(instance, 0)


def test_health_follows_the_latest_ended_instance() -> None:
    assert component_health("FINISHED") is HealthStatus.HEALTHY
    assert component_health("MARK_FINISHED") is HealthStatus.HEALTHY
    for failed in ("FAILED", "TIMEDOUT", "CANCELED", "CASCADE_FAILED"):
        assert component_health(failed) is HealthStatus.ERROR
    assert component_health(None) is None
    assert pipeline_health([None, HealthStatus.HEALTHY]) is HealthStatus.HEALTHY
    assert pipeline_health([HealthStatus.HEALTHY, HealthStatus.ERROR]) is HealthStatus.ERROR
    assert pipeline_health([None]) is HealthStatus.NO_COMPLETED_EXECUTIONS


def test_the_database_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    with StateStore.in_folder(folder) as store:
        mode = store._connection.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        path = store.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with StateStore.in_folder(tmp_path) as store:
        store._connection.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="newer ddbpipe"):
        StateStore.in_folder(tmp_path)


def _objects(pipeline_id: str) -> list[ObjectRecord]:
    records = []
    for hour in range(10, 14):
        start = f"2026-03-02T{hour}:00:00"
        instance = f"@Backup_{start}"
        records.append(
            ObjectRecord(
                pipeline_id,
                instance,
                instance,
                "INSTANCE",
                status="FINISHED" if hour < 12 else "FAILED",
                component_id="Backup",
                scheduled_start=start,
                actual_start=f"2026-03-02T{hour}:05:00",
            )
        )
        records.append(
            ObjectRecord(
                pipeline_id,
                f"{instance}_Attempt=1",
                f"{instance}_Attempt=1",
                "ATTEMPT",
                status=records[-1].status,
                component_id="Backup",
                instance_id=instance,
                scheduled_start=start,
            )
        )
    records.append(
        ObjectRecord(
            pipeline_id, "Backup", "Backup", "COMPONENT", status="SCHEDULED", parent_id="Base"
        )
    )
    return records


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = StateStore.in_folder(tmp_path)
    with store.transaction() as db:
        store.insert_pipeline(
            PipelineRecord("df-A", "a", "a", "SCHEDULED", "2026-03-02T00:00:00"), db
        )
        store.put_objects(_objects("df-A"), db)
        store.put_objects(_objects("df-B"), db)
    return store


def test_query_objects_selectors(store: StateStore) -> None:
    def query(sphere: str, *selectors: Selector) -> list[str]:
        return store.query_object_ids("df-A", sphere, selectors)[0]

    assert query("INSTANCE", Selector("@status", "EQ", ("FAILED",))) == [
        "@Backup_2026-03-02T12:00:00",
        "@Backup_2026-03-02T13:00:00",
    ]
    assert query("INSTANCE", Selector("@status", "EQ", ("FAILED", "FINISHED"))) == query("INSTANCE")
    assert query(
        "INSTANCE",
        Selector("@scheduledStartTime", "BETWEEN", ("2026-03-02T11:00:00", "2026-03-02T12:00:00")),
    ) == ["@Backup_2026-03-02T11:00:00", "@Backup_2026-03-02T12:00:00"]
    assert query("INSTANCE", Selector("@actualStartTime", "LE", ("2026-03-02T10:05:00",))) == [
        "@Backup_2026-03-02T10:00:00"
    ]
    assert len(query("INSTANCE", Selector("@actualStartTime", "GE", ("2026-03-02T11:00:00",)))) == 3
    assert query(
        "ATTEMPT", Selector("@instanceParent", "REF_EQ", ("@Backup_2026-03-02T13:00:00",))
    ) == ["@Backup_2026-03-02T13:00:00_Attempt=1"]
    assert query("COMPONENT", Selector("parent", "REF_EQ", ("Base",))) == ["Backup"]
    assert query("COMPONENT", Selector("name", "EQ", ("Backup",))) == ["Backup"]
    assert query("INSTANCE", Selector("@componentParent", "EQ", ("Backup",))) == query("INSTANCE")
    # A selector on a field no object has matches nothing; every selector must match.
    assert query("INSTANCE", Selector("@unknownField", "EQ", ("x",))) == []
    assert (
        query("INSTANCE", Selector("@status", "EQ", ("FAILED",)), Selector("name", "EQ", ("nope",)))
        == []
    )


def test_query_objects_pages_with_a_marker(store: StateStore) -> None:
    first, marker = store.query_object_ids("df-A", "INSTANCE", limit=3)
    assert len(first) == 3
    assert marker == first[-1]
    rest, end = store.query_object_ids("df-A", "INSTANCE", limit=3, marker=marker)
    assert first + rest == store.query_object_ids("df-A", "INSTANCE")[0]
    assert end is None


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (Selector("name", "LE", ("x",)), "works only on"),
        (Selector("@actualEndTime", "BETWEEN", ("x",)), "two values"),
        (Selector("@status", "LIKE", ("x",)), "is not one of"),
        (Selector("@status", "EQ", ()), "needs a value"),
    ],
)
def test_bad_selectors_are_refused(store: StateStore, selector: Selector, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        store.query_object_ids("df-A", "INSTANCE", [selector])


def test_selectors_read_from_the_api_form() -> None:
    raw = {"fieldName": "@status", "operator": {"type": "EQ", "values": ["RUNNING"]}}
    assert Selector.from_api(raw) == Selector("@status", "EQ", ("RUNNING",))
    with pytest.raises(ConfigError):
        Selector.from_api({"fieldName": "@status", "operator": {"values": [1]}})


def test_queries_use_the_indexes(store: StateStore) -> None:
    def plan(sql: str, *params: str) -> str:
        rows = store._connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return " ".join(str(row[3]) for row in rows)

    base = "SELECT object_id FROM objects WHERE pipeline_id = ? AND sphere = ?"
    assert "objects_status" in plan(f"{base} AND status = ?", "p", "INSTANCE", "FAILED")
    assert "objects_actual_start" in plan(
        f"{base} AND actual_start BETWEEN ? AND ?", "p", "INSTANCE", "a", "b"
    )
    assert "objects_instance" in plan(
        "SELECT object_id FROM objects WHERE pipeline_id = ? AND instance_id = ?", "p", "i"
    )
    ids = ", ".join("?" for _ in range(100))
    described = plan(
        f"SELECT * FROM objects WHERE pipeline_id = ? AND object_id IN ({ids})",
        "p",
        *(str(n) for n in range(100)),
    )
    assert "PRIMARY KEY" in described


def test_describe_keeps_the_order_asked_and_leaves_unknown_ids_out(store: StateStore) -> None:
    found = store.objects("df-A", ["Backup", "nope", "@Backup_2026-03-02T10:00:00"])
    assert [item.object_id for item in found] == ["Backup", "@Backup_2026-03-02T10:00:00"]


def test_runtime_fields_merge_and_none_removes(store: StateStore) -> None:
    with store.transaction() as db:
        store.update_object("df-A", "Backup", db, fields={"a": "1", "b": {"ref": "X"}})
        store.update_object("df-A", "Backup", db, fields={"a": None, "c": ["x", "y"]})
    record = store.object("df-A", "Backup")
    assert record is not None
    assert record.fields == {"b": {"ref": "X"}, "c": ["x", "y"]}


def test_a_failed_transaction_writes_nothing(store: StateStore) -> None:
    def change_then_fail() -> None:
        with store.transaction() as db:
            store.update_object("df-A", "Backup", db, status="PAUSED")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        change_then_fail()
    record = store.object("df-A", "Backup")
    assert record is not None
    assert record.status == "SCHEDULED"


def test_one_runner_holds_a_pipeline_at_a_time(tmp_path: Path) -> None:
    clock = [1000.0]
    store = StateStore.in_folder(tmp_path, wall_clock=lambda: clock[0])
    assert store.acquire_lease("df-A", "one", ttl=60) is not None
    assert store.acquire_lease("df-A", "two", ttl=60) is None
    assert store.acquire_lease("df-A", "one", ttl=60) is not None  # its own
    assert not store.heartbeat("df-A", "two")
    clock[0] += 59
    assert store.heartbeat("df-A", "one")
    clock[0] += 59
    assert store.acquire_lease("df-A", "two", ttl=60) is None
    clock[0] += 61  # no heartbeat for longer than the lease time
    lease = store.acquire_lease("df-A", "two", ttl=60)
    assert lease is not None
    assert lease.owner == "two"
    store.release_lease("df-A", "two")
    assert store.lease("df-A") is None


def test_the_lease_of_a_dead_process_on_this_host_is_free(tmp_path: Path) -> None:
    store = StateStore.in_folder(tmp_path)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(child.stdout)
    assert store.acquire_lease("df-A", "ghost", ttl=600) is not None
    with store.transaction() as db:
        db.execute("UPDATE leases SET pid = ? WHERE pipeline_id = 'df-A'", (dead_pid,))
    assert store.acquire_lease("df-A", "me", ttl=600) is not None


def test_what_was_committed_survives_a_sigkill(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from ddbpipe.pipeline.state import PipelineRecord, StateStore
        store = StateStore.in_folder({str(tmp_path)!r})
        record = PipelineRecord("df-K", "k", "k", "SCHEDULED", "2026-01-01T00:00:00")
        with store.transaction() as db:
            store.insert_pipeline(record, db)
        db = store._connection
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE pipelines SET state = 'HALF' WHERE pipeline_id = 'df-K'")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -signal.SIGKILL
    with StateStore.in_folder(tmp_path) as store:
        record = store.pipeline("df-K")
    assert record is not None
    assert record.state == "SCHEDULED"  # committed kept, the open transaction gone


def test_readers_in_other_processes_are_not_blocked_by_a_writer(store: StateStore) -> None:
    reader = textwrap.dedent(
        f"""
        from ddbpipe.pipeline.state import StateStore
        store = StateStore({str(store.path)!r}, busy_timeout=0.5)
        print(store.pipeline("df-A").state)
        """
    )
    with store.transaction() as db:
        store.update_pipeline("df-A", db, state="FINISHED")
        seen = subprocess.run(
            [sys.executable, "-c", reader], capture_output=True, text=True, timeout=30, check=True
        )
    assert seen.stdout.strip() == "SCHEDULED"  # the last committed state, without waiting
    assert os.environ.get("XDG_STATE_HOME")  # the suite's scratch state folder is set
