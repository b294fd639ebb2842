"""The request context: the condition keys a request brings to policy evaluation.

Each key holds a single value (a string) or several (a tuple of strings, for keys
such as ``aws:TagKeys``). Key names are matched case-insensitively, tag keys inside
them too: ``aws:RequestTag/Env`` and ``AWS:requesttag/env`` are one key, so a context
cannot hold both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

__all__ = [
    "KEY_CURRENT_TIME",
    "KEY_EPOCH_TIME",
    "KEY_PIPELINE_CREATOR",
    "KEY_SECURE_TRANSPORT",
    "KEY_SOURCE_IP",
    "KEY_TAG_KEYS",
    "KEY_USERID",
    "KEY_USERNAME",
    "KEY_WORKER_GROUP",
    "ContextValue",
    "RequestContext",
    "request_context",
    "tag_key",
]

KEY_USERNAME = "aws:username"
KEY_USERID = "aws:userid"
KEY_CURRENT_TIME = "aws:CurrentTime"
KEY_EPOCH_TIME = "aws:EpochTime"
KEY_SECURE_TRANSPORT = "aws:SecureTransport"
KEY_SOURCE_IP = "aws:SourceIp"
KEY_TAG_KEYS = "aws:TagKeys"
KEY_PIPELINE_CREATOR = "datapipeline:PipelineCreator"
KEY_WORKER_GROUP = "datapipeline:workerGroup"

# One value, or several for a multivalued key.
ContextValue = str | tuple[str, ...]


def tag_key(prefix: str, tag: str) -> str:
    """The condition key for one tag, such as ``tag_key("aws:RequestTag", "env")``."""
    return f"{prefix}/{tag}"


class RequestContext(Mapping[str, ContextValue]):
    """Condition keys and their values, looked up case-insensitively.

    ``keys`` maps each key name to a string (single-valued) or to an iterable of
    strings (multivalued, even with one element). Raises ``ValueError`` when two names
    differ only in case or a value is not text.
    """

    def __init__(self, keys: Mapping[str, str | Iterable[str]] | None = None) -> None:
        self._names: dict[str, str] = {}
        self._values: dict[str, ContextValue] = {}
        for name, value in (keys or {}).items():
            folded = name.lower()
            if folded in self._names:
                raise ValueError(
                    f"condition keys {self._names[folded]!r} and {name!r} differ only in case"
                )
            self._names[folded] = name
            self._values[folded] = _context_value(name, value)

    def __getitem__(self, name: str) -> ContextValue:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"RequestContext({dict(self.items())!r})"

    def values_of(self, name: str) -> tuple[str, ...] | None:
        """Every value of key ``name`` (one for a single-valued key); ``None`` if absent."""
        value = self._values.get(name.lower())
        if value is None:
            return None
        return (value,) if isinstance(value, str) else value

    def single(self, name: str) -> str | None:
        """The value of single-valued key ``name``; ``None`` if absent or multivalued.

        This is what a policy variable takes: multivalued keys are not variables.
        """
        value = self._values.get(name.lower())
        return value if isinstance(value, str) else None

    def with_keys(self, keys: Mapping[str, str | Iterable[str]]) -> RequestContext:
        """A copy with ``keys`` added (a key already present is replaced)."""
        replaced = {name.lower() for name in keys}
        merged: dict[str, str | Iterable[str]] = {
            name: value for name, value in self.items() if name.lower() not in replaced
        }
        merged.update(keys)
        return RequestContext(merged)


def _context_value(name: str, value: str | Iterable[str]) -> ContextValue:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        raise ValueError(f"condition key {name!r}: give text, not bytes")
    values = tuple(value)
    for item in values:
        if not isinstance(item, str):
            raise ValueError(f"condition key {name!r}: value {item!r} is not text")
    return values


def request_context(
    *,
    username: str | None = None,
    userid: str | None = None,
    current_time: datetime | None = None,
    secure_transport: bool | None = None,
    source_ip: str | None = None,
    request_tags: Mapping[str, str] | None = None,
    resource_tags: Mapping[str, str] | None = None,
    pipeline_tags: Mapping[str, str] | None = None,
    pipeline_creator: str | None = None,
    worker_group: str | None = None,
    emr_request_tags: Mapping[str, str] | None = None,
    extra: Mapping[str, str | Iterable[str]] | None = None,
) -> RequestContext:
    """The context of one request, from what the server knows about it.

    ``request_tags`` become ``aws:RequestTag/<key>`` and ``aws:TagKeys`` (present,
    possibly empty, whenever ``request_tags`` is given); ``resource_tags`` become
    ``aws:ResourceTag/<key>``; ``pipeline_tags`` ``datapipeline:Tag/<key>``;
    ``emr_request_tags`` ``elasticmapreduce:RequestTag/<key>``. ``current_time`` (an
    aware datetime) sets ``aws:CurrentTime`` and ``aws:EpochTime``. Omitted arguments
    leave their keys out of the context. ``extra`` adds any other keys.
    """
    keys: dict[str, str | Iterable[str]] = {}
    singles = {
        KEY_USERNAME: username,
        KEY_USERID: userid,
        KEY_SOURCE_IP: source_ip,
        KEY_PIPELINE_CREATOR: pipeline_creator,
        KEY_WORKER_GROUP: worker_group,
    }
    keys.update({name: value for name, value in singles.items() if value is not None})
    if current_time is not None:
        if current_time.tzinfo is None:
            raise ValueError("current_time must be timezone-aware")
        utc = current_time.astimezone(UTC)
        keys[KEY_CURRENT_TIME] = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        keys[KEY_EPOCH_TIME] = str(int(utc.timestamp()))
    if secure_transport is not None:
        keys[KEY_SECURE_TRANSPORT] = "true" if secure_transport else "false"
    tag_sets = (
        ("aws:RequestTag", request_tags),
        ("aws:ResourceTag", resource_tags),
        ("datapipeline:Tag", pipeline_tags),
        ("elasticmapreduce:RequestTag", emr_request_tags),
    )
    for prefix, tags in tag_sets:
        keys.update({tag_key(prefix, tag): value for tag, value in (tags or {}).items()})
    if request_tags is not None:
        keys[KEY_TAG_KEYS] = tuple(request_tags)
    keys.update(extra or {})
    return RequestContext(keys)
