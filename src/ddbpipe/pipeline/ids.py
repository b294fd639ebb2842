"""The ids of pipelines, instances and attempts, as the service writes them.

- A pipeline id is ``df-`` and 20 upper-case letters and digits:
  ``df-00123456ABC7DEF8HIJK``.
- An instance id is ``@<componentId>_<scheduled start>``, the start written
  ``YYYY-MM-DDTHH:MM:SS`` (UTC): ``@TableBackupActivity_2026-11-30T14:00:00``.
- An attempt id is ``<instanceId>_Attempt=<n>``, counting from 1:
  ``@TableBackupActivity_2026-11-30T14:00:00_Attempt=1``.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

from ddbpipe.pipeline.timefmt import format_datetime

__all__ = [
    "PIPELINE_ID_LENGTH",
    "attempt_id",
    "attempt_number",
    "instance_id",
    "is_pipeline_id",
    "new_pipeline_id",
]

PIPELINE_ID_LENGTH = 20
_ALPHABET = string.ascii_uppercase + string.digits
_PIPELINE_ID = re.compile(r"df-[A-Z0-9]{20}")
_ATTEMPT = re.compile(r".*_Attempt=([0-9]+)", re.DOTALL)


def new_pipeline_id() -> str:
    """A new random pipeline id, ``df-`` and 20 upper-case letters and digits."""
    return "df-" + "".join(secrets.choice(_ALPHABET) for _ in range(PIPELINE_ID_LENGTH))


def is_pipeline_id(text: str) -> bool:
    """Whether ``text`` has the form of a pipeline id that ddbpipe makes."""
    return _PIPELINE_ID.fullmatch(text) is not None


def instance_id(component_id: str, scheduled_start: datetime) -> str:
    """The id of the instance of ``component_id`` scheduled to start at ``scheduled_start``."""
    return f"@{component_id}_{format_datetime(scheduled_start)}"


def attempt_id(instance: str, number: int) -> str:
    """The id of attempt ``number`` (from 1) of the instance ``instance``."""
    if number < 1:
        raise ValueError(f"attempts count from 1, not {number}")
    return f"{instance}_Attempt={number}"


def attempt_number(attempt: str) -> int | None:
    """The number of the attempt id ``attempt``, or None when it is not one."""
    match = _ATTEMPT.fullmatch(attempt)
    return int(match.group(1)) if match else None
