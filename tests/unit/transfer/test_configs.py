"""Job configurations report every problem at once, before anything runs."""

from __future__ import annotations

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.transfer.export import ExportConfig
from ddbpipe.transfer.imports import ImportConfig


def test_export_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        ExportConfig(
            read_ratio=0, workers=0, max_rcu=-1, segments=0, max_items_per_file=100_001
        ).check()
    assert caught.value.problems == (
        "read ratio must be above 0 and at most 1.5, got 0",
        "workers must be at least 1, got 0",
        "max RCU must be positive, got -1",
        "segments must be 1 to 1,000,000, got 0",
        "items per file must be 1 to 100,000",
    )


def test_import_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        ImportConfig(
            write_ratio=2, max_wcu=0, on_error="fail", rejects_path="r.jsonl", resume=True
        ).check()
    assert caught.value.problems == (
        "write ratio must be above 0 and at most 1.5, got 2",
        "max WCU must be positive, got 0",
        "a rejects file needs --on-error skip",
        "resuming needs a checkpoint path",
    )


def test_defaults_are_valid() -> None:
    ExportConfig().check()
    ImportConfig().check()
