"""Job configurations report every problem at once, before anything runs."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from ddbpipe.dynamo.client import DynamoConfig
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
        "workers must be 1 to 256, got 0",
        "max RCU must be a number above 0, got -1",
        "segments must be 1 to 1,000,000, got 0",
        "items per file must be 1 to 100,000, got 100001",
    )


def test_import_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        ImportConfig(
            write_ratio=2, max_wcu=0, on_error="fail", rejects_path="r.jsonl", resume=True
        ).check()
    assert caught.value.problems == (
        "write ratio must be above 0 and at most 1.5, got 2",
        "max WCU must be a number above 0, got 0",
        "a rejects file needs on-error skip",
        "resuming needs the state folder that holds the checkpoint",
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_numbers_that_are_not_finite_and_positive_are_refused(value: float) -> None:
    with pytest.raises(ConfigError) as caught:
        ExportConfig(read_ratio=value, max_rcu=value).check()
    assert len(caught.value.problems) == 2
    with pytest.raises(ConfigError) as caught:
        ImportConfig(write_ratio=value, max_wcu=value).check()
    assert len(caught.value.problems) == 2


def test_a_region_that_is_not_a_region_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="DynamoDB region 'bad region!' is not a region name"):
        ExportConfig(dynamo=DynamoConfig(region="bad region!")).check()


def test_rejects_file_in_a_missing_folder_or_on_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"folder of the rejects file .* does not exist"):
        ImportConfig(on_error="skip", rejects_path=str(tmp_path / "no" / "r.jsonl")).check()
    with pytest.raises(ConfigError, match=re.escape(f"rejects file {tmp_path} is a folder")):
        ImportConfig(on_error="skip", rejects_path=str(tmp_path)).check()


def test_an_unwritable_state_folder_is_refused_before_anything_runs(tmp_path: Path) -> None:
    state = tmp_path / "state-file"
    state.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"state folder .* cannot be written"):
        ImportConfig(state_dir=str(state / "ddbpipe")).check()


def test_defaults_are_valid() -> None:
    ExportConfig().check()
    ImportConfig().check()
