"""The Data Pipeline backup format: data lines, manifest v3 and folder rules."""

from ddbpipe.formats.datapipeline.folder import (
    SUCCESS_NAME,
    is_data_file_name,
    manifest_file_names,
)
from ddbpipe.formats.datapipeline.lines import (
    decode_line,
    encode_item,
    encode_items,
    encode_page,
    read_items,
)
from ddbpipe.formats.datapipeline.manifest import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    Manifest,
    decode_manifest,
    encode_manifest,
)

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "SUCCESS_NAME",
    "Manifest",
    "decode_line",
    "decode_manifest",
    "encode_item",
    "encode_items",
    "encode_manifest",
    "encode_page",
    "is_data_file_name",
    "manifest_file_names",
    "read_items",
]
