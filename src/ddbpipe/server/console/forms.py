"""Reading a submitted form: ``application/x-www-form-urlencoded`` and
``multipart/form-data`` (a definition file upload), with the standard library's parsers
and a size limit."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

__all__ = ["MAX_FORM_BYTES", "Form", "FormTooLarge", "parse_form"]

MAX_FORM_BYTES = 8 * 1024 * 1024


class FormTooLarge(Exception):
    """A form body over the limit."""


@dataclass
class Form:
    """Fields (each name's values, in order) and uploaded files (name: filename, bytes)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        """The first value of ``name``, stripped of surrounding blanks."""
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def raw(self, name: str) -> str:
        """The first value of ``name`` as sent."""
        values = self.fields.get(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        """Every value of ``name``."""
        return list(self.fields.get(name, []))

    def as_values(self) -> Mapping[str, str]:
        """The first value of each field, for filling a form in again."""
        return {key: values[0] for key, values in self.fields.items() if values}


def parse_form(content_type: str, body: bytes) -> Form:
    """The form in ``body``; an unknown content type gives an empty form."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        return Form(fields=parse_qs(text, keep_blank_values=True))
    if kind == "multipart/form-data":
        return _multipart(content_type, body)
    return Form()


def _multipart(content_type: str, body: bytes) -> Form:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form = Form()
    if not message.is_multipart():
        return form
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            if data or filename:
                form.files[name] = (filename, data)
            continue
        charset = part.get_content_charset() or "utf-8"
        form.fields.setdefault(name, []).append(data.decode(charset, errors="replace"))
    return form
