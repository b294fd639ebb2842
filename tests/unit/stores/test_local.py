"""LocalStore: atomic writes, listings, errors that name the path, streaming reads."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbpipe.errors import NotFoundError
from ddbpipe.stores import Listing, LocalStore, ObjectInfo, Store, open_store
from ddbpipe.stores.local import TEMP_PREFIX


class BlockFailed(Exception):
    """Raised inside a ``with store.open_write(...)`` block by the tests."""


def write_then_fail(store: LocalStore, key: str, data: bytes) -> None:
    """Write ``data`` to ``key`` in an ``open_write`` block that then raises."""
    with store.open_write(key) as writer:
        writer.write(data)
        raise BlockFailed


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_is_a_store(store: LocalStore) -> None:
    assert isinstance(store, Store)


def test_write_then_read_round_trips_every_byte_and_creates_parents(
    store: LocalStore, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 3
    store.write_bytes("a/b/c.bin", data)
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == data
    assert store.read_bytes("a/b/c.bin") == data


def test_write_bytes_replaces_an_existing_file(store: LocalStore) -> None:
    store.write_bytes("f", b"old content")
    store.write_bytes("f", b"new")
    assert store.read_bytes("f") == b"new"


def test_open_write_streams_several_writes(store: LocalStore) -> None:
    with store.open_write("out/data") as writer:
        assert writer.write(b"hello ") == 6
        writer.write(b"world")
    assert store.read_bytes("out/data") == b"hello world"


def test_file_appears_only_when_the_block_ends(store: LocalStore, tmp_path: Path) -> None:
    with store.open_write("dir/f") as writer:
        writer.write(b"partial")
        assert not store.exists("dir/f")
        on_disk = os.listdir(tmp_path / "dir")
        assert len(on_disk) == 1
        assert on_disk[0].startswith(TEMP_PREFIX)
        assert store.list_dir("dir") == Listing()
    assert os.listdir(tmp_path / "dir") == ["f"]


def test_failing_block_leaves_no_file_and_no_temp_file(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(BlockFailed):
        write_then_fail(store, "dir/f", b"x" * 10_000)
    assert not store.exists("dir/f")
    assert os.listdir(tmp_path / "dir") == []


def test_failing_block_keeps_the_old_file(store: LocalStore, tmp_path: Path) -> None:
    store.write_bytes("f", b"old")
    with pytest.raises(BlockFailed):
        write_then_fail(store, "f", b"new")
    assert store.read_bytes("f") == b"old"
    assert os.listdir(tmp_path) == ["f"]


@pytest.mark.usefixtures("umask_022")
def test_written_files_get_the_usual_permissions(store: LocalStore, tmp_path: Path) -> None:
    store.write_bytes("f", b"data")
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_list_dir_returns_sorted_files_with_sizes_and_folders(
    store: LocalStore, tmp_path: Path
) -> None:
    store.write_bytes("b.txt", b"bb")
    store.write_bytes("a.txt", b"a")
    store.write_bytes("_SUCCESS", b"")
    store.write_bytes("zeta/inner", b"1")
    store.write_bytes("alpha/inner", b"1")
    (tmp_path / "empty").mkdir()
    assert store.list_dir() == Listing(
        files=[ObjectInfo("_SUCCESS", 0), ObjectInfo("a.txt", 1), ObjectInfo("b.txt", 2)],
        folders=["alpha", "empty", "zeta"],
    )


def test_list_dir_of_a_subfolder_gives_keys_relative_to_the_root(store: LocalStore) -> None:
    store.write_bytes("run/2024/part-1", b"123")
    store.write_bytes("run/2024/sub/part-2", b"4")
    listing = store.list_dir("run/2024/")
    assert listing.files == [ObjectInfo("run/2024/part-1", 3)]
    assert listing.folders == ["sub"]
    assert store.read_bytes(listing.files[0].key) == b"123"


def test_list_dir_hides_leftover_temp_files(store: LocalStore, tmp_path: Path) -> None:
    store.write_bytes("kept", b"1")
    (tmp_path / f"{TEMP_PREFIX}kept.abc123").write_bytes(b"half")
    assert store.list_dir().files == [ObjectInfo("kept", 1)]


def test_list_dir_of_a_missing_folder_names_the_path(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=re.escape(str(tmp_path / "nowhere"))):
        store.list_dir("nowhere")


def test_list_dir_of_a_missing_root_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=re.escape(str(tmp_path / "gone"))):
        LocalStore(tmp_path / "gone").list_dir()


def test_list_dir_of_a_file_is_not_found(store: LocalStore, tmp_path: Path) -> None:
    store.write_bytes("f", b"1")
    with pytest.raises(NotFoundError, match=re.escape(str(tmp_path / "f"))):
        store.list_dir("f")


def test_read_bytes_of_a_missing_file_names_the_path(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=re.escape(str(tmp_path / "dir" / "missing"))):
        store.read_bytes("dir/missing")


def test_iter_chunks_of_a_missing_file_names_the_path(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=re.escape(str(tmp_path / "missing"))):
        next(store.iter_chunks("missing"))


def test_read_bytes_of_a_folder_is_not_found(store: LocalStore) -> None:
    store.write_bytes("dir/f", b"1")
    with pytest.raises(NotFoundError):
        store.read_bytes("dir")


def test_iter_chunks_yields_chunks_no_larger_than_asked(store: LocalStore) -> None:
    data = os.urandom(10_000)
    store.write_bytes("f", data)
    chunks = list(store.iter_chunks("f", chunk_size=4096))
    assert [len(chunk) for chunk in chunks] == [4096, 4096, 1808]
    assert b"".join(chunks) == data


def test_iter_chunks_reads_lazily(store: LocalStore) -> None:
    store.write_bytes("f", b"a" * 100)
    chunks = store.iter_chunks("f", chunk_size=10)
    assert next(chunks) == b"a" * 10
    store.write_bytes("f", b"b" * 100)
    assert b"".join(chunks) == b"a" * 90


@given(data=st.binary(max_size=5000), chunk_size=st.integers(min_value=1, max_value=2000))
def test_iter_chunks_reassembles_any_content(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk_size: int
) -> None:
    store = LocalStore(tmp_path_factory.mktemp("chunks"))
    store.write_bytes("f", data)
    chunks = list(store.iter_chunks("f", chunk_size))
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert all(len(chunk) == chunk_size for chunk in chunks[:-1])


def test_iter_chunks_rejects_a_chunk_size_below_one(store: LocalStore) -> None:
    store.write_bytes("f", b"1")
    with pytest.raises(ValueError, match="chunk_size"):
        next(store.iter_chunks("f", chunk_size=0))


def test_exists_is_true_for_files_only(store: LocalStore) -> None:
    store.write_bytes("dir/f", b"1")
    assert store.exists("dir/f")
    assert not store.exists("dir")
    assert not store.exists("dir/g")
    assert (store.size("dir/f"), store.size("dir"), store.size("dir/g")) == (1, None, None)


def test_delete_removes_the_file_and_ignores_a_missing_one(store: LocalStore) -> None:
    store.write_bytes("f", b"1")
    store.delete("f")
    assert not store.exists("f")
    store.delete("f")


def test_url_is_the_absolute_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = LocalStore(Path("data") / ".." / "backups")
    assert store.url == str(tmp_path / "backups")
    assert store.url_for("run/manifest") == str(tmp_path / "backups" / "run" / "manifest")


def test_child_is_rooted_under_its_parent(store: LocalStore, tmp_path: Path) -> None:
    child = store.child("exports/2024/")
    assert child.url == str(tmp_path / "exports" / "2024")
    child.write_bytes("part-0", b"p")
    assert store.read_bytes("exports/2024/part-0") == b"p"
    assert store.list_dir("exports").folders == ["2024"]
    assert child.list_dir().files == [ObjectInfo("part-0", 1)]


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd", "./f"])
def test_keys_cannot_leave_the_root(store: LocalStore, key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        store.write_bytes(key, b"x")


def test_open_store_reads_paths_and_file_urls(tmp_path: Path) -> None:
    for location in (str(tmp_path), f"file://{tmp_path}", tmp_path.as_uri()):
        store = open_store(location)
        assert isinstance(store, LocalStore)
        assert store.url == str(tmp_path)
