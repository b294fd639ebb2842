"""Local folders: only under --local-root, after .. and symbolic links are resolved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ddbpipe.server.errors import ApiError, ErrorCode
from ddbpipe.server.local_paths import check_local_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "backups").mkdir(parents=True)
    (tmp_path / "secrets").mkdir()
    return folder


def refused(path: str, local_root: Path | None) -> str:
    with pytest.raises(ApiError) as caught:
        check_local_path(path, local_root)
    assert caught.value.error_code is ErrorCode.INVALID_REQUEST
    return caught.value.message


def test_without_a_root_every_local_path_is_refused(tmp_path: Path) -> None:
    assert "without --local-root" in refused(str(tmp_path), None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("{root}/backups/2024", "backups/2024"),
        ("{root}", ""),
        ("backups/new", "backups/new"),
        ("file://{root}/backups", "backups"),
        ("file://localhost{root}/backups", "backups"),
        ("{root}/backups/../backups/x", "backups/x"),
    ],
)
def test_paths_inside_the_root(root: Path, given: str, expected: str) -> None:
    resolved = check_local_path(given.format(root=root), root)
    assert resolved == (root / expected).resolve()


@pytest.mark.parametrize(
    "given",
    [
        "{root}/../secrets",
        "../secrets",
        "backups/../../secrets",
        "/etc/passwd",
        "file:///etc",
        "{root}x",
    ],
)
def test_paths_that_leave_the_root(root: Path, given: str) -> None:
    assert "inside the server's local root" in refused(given.format(root=root), root)


def test_a_symbolic_link_out_of_the_root_is_refused(root: Path) -> None:
    os.symlink(root.parent / "secrets", root / "backups" / "escape")
    assert "inside" in refused(str(root / "backups" / "escape" / "key"), root)
    assert "inside" in refused("backups/escape", root)


def test_a_symbolic_link_within_the_root_is_followed(root: Path) -> None:
    os.symlink(root / "backups", root / "latest")
    assert check_local_path("latest/x", root) == (root / "backups" / "x").resolve()


def test_a_root_given_through_a_link_still_contains_its_paths(root: Path, tmp_path: Path) -> None:
    os.symlink(root, tmp_path / "link-to-root")
    assert check_local_path("backups", tmp_path / "link-to-root") == (root / "backups").resolve()


@pytest.mark.parametrize("given", ["", "bad\0name", "file://otherhost/x"])
def test_malformed_paths(root: Path, given: str) -> None:
    refused(given, root)
