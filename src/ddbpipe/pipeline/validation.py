"""Validation of pipeline definitions, as PutPipelineDefinition and
ValidatePipelineDefinition do it.

Three kinds of findings come back, each a ``CODE: text`` message (see
``ddbpipe.pipeline.messages``) listed under an object or parameter id:

- **fatal**: an object without an id or a name, an empty string or reference field, more
  objects than the maximum. The service refuses such a definition and saves nothing.
  Problems of the definition as a whole, and of objects without an id, are listed under
  the id ``""``.
- **errors**: the definition is saved but cannot be activated until they are fixed;
  this includes activities ddbpipe cannot run (the rules are in
  ``ddbpipe.pipeline.rules``).
- **warnings**: worth reading, such as the cascade-backfill warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ddbpipe.pipeline.definition import PipelineDefinition
from ddbpipe.pipeline.messages import message
from ddbpipe.pipeline.rules import check_rules
from ddbpipe.pipeline.schema import MAX_OBJECTS

__all__ = ["DEFINITION_KEY", "ValidationResult", "render_validation", "validate_definition"]

DEFINITION_KEY = ""


@dataclass(frozen=True)
class ValidationResult:
    """Findings by id: ``fatal`` (refused), ``errors`` (saved, not runnable), ``warnings``."""

    fatal: Mapping[str, tuple[str, ...]]
    errors: Mapping[str, tuple[str, ...]]
    warnings: Mapping[str, tuple[str, ...]]

    @property
    def refused(self) -> bool:
        """Whether the definition must not be saved at all."""
        return bool(self.fatal)

    @property
    def errored(self) -> bool:
        """Whether the definition has fatal problems or errors."""
        return bool(self.fatal or self.errors)

    def to_api(self) -> dict[str, Any]:
        """The ValidatePipelineDefinition response: ``errored``, then fatal problems and
        errors as ``validationErrors`` and ``validationWarnings``, by id."""
        merged: dict[str, list[str]] = {}
        for source in (self.fatal, self.errors):
            for key, messages in source.items():
                merged.setdefault(key, []).extend(messages)
        response: dict[str, Any] = {"errored": self.errored}
        if merged:
            response["validationErrors"] = [
                {"id": key, "errors": messages} for key, messages in merged.items()
            ]
        if self.warnings:
            response["validationWarnings"] = [
                {"id": key, "warnings": list(messages)} for key, messages in self.warnings.items()
            ]
        return response


def render_validation(result: ValidationResult) -> str:
    """The findings as text for people, one per line under a heading per kind."""
    lines: list[str] = []
    for heading, findings in (
        ("Refused, nothing saved", result.fatal),
        ("Errors", result.errors),
        ("Warnings", result.warnings),
    ):
        if findings:
            lines.append(f"{heading}:")
            for key, messages in findings.items():
                where = key if key != DEFINITION_KEY else "(definition)"
                lines.extend(f"  {where}: {text}" for text in messages)
    return "\n".join(lines) if lines else "The definition is valid."


def validate_definition(
    definition: PipelineDefinition,
    *,
    now: datetime | None = None,
    max_objects: int = MAX_OBJECTS,
) -> ValidationResult:
    """Validate ``definition`` as the service does; see the module docstring.

    ``now`` (UTC) enables the backfill warning for schedules starting before it.
    """
    fatal = _fatal_findings(definition, max_objects)
    errors, warnings = check_rules(definition, now)
    return ValidationResult(
        {key: tuple(items) for key, items in fatal.items()},
        {key: tuple(items) for key, items in errors.items() if items},
        {key: tuple(items) for key, items in warnings.items() if items},
    )


def _fatal_findings(definition: PipelineDefinition, max_objects: int) -> dict[str, list[str]]:
    fatal: dict[str, list[str]] = {}
    for index, item in enumerate(definition.objects):
        if not item.id:
            fatal.setdefault(DEFINITION_KEY, []).append(message("missing_id", index=index + 1))
        if not item.name:
            fatal.setdefault(item.id, []).append(message("missing_name"))
        for entry in item.fields:
            if entry.value == "":
                fatal.setdefault(item.id, []).append(message("empty_field", key=entry.key))
    if len(definition.objects) > max_objects:
        fatal.setdefault(DEFINITION_KEY, []).append(
            message("too_many_objects", count=len(definition.objects), limit=max_objects)
        )
    return fatal
