"""DynamoDB's native export format, ION: data lines of full and incremental exports."""

from ddbpipe.formats.ddbjson import ChangeRecord
from ddbpipe.formats.ion.lines import (
    decode_change,
    decode_line,
    encode_change,
    encode_item,
)

__all__ = [
    "ChangeRecord",
    "decode_change",
    "decode_line",
    "encode_change",
    "encode_item",
]
