"""Shared test setup: the local servers, the test environment and the network guard."""

import pytest

pytest_plugins = [
    "tests.support.servers",
    "tests.support.fault_proxy",
    "tests.support.api_server",
    "tests.support.dask_cluster",
    "tests.support.browser",
    "tests.support.console_server",
]


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints of interrupted imports go to a scratch folder, not the user's home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
