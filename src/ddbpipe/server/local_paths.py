"""Which local folders a pipeline may read and write on the server's machine.

A pipeline definition may name a local folder (an ``S3DataNode`` path or the
``pipelineLogUri`` given as ``/data/x`` or ``file:///data/x``) instead of S3. On a
server that would let any caller read and write any file the server can: so a local
path is allowed only when the server was started with ``--local-root DIR`` and the path,
after ``..`` and every symbolic link are resolved, lies inside that folder. A relative
path is taken relative to the root. Handlers call ``check_local_path`` and use the path
it returns (already resolved), not the one they were given.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ddbpipe.server.errors import ApiError, ErrorCode

__all__ = ["check_local_path"]


def _refused(path: str, reason: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_REQUEST, f"Local path '{path}' is not allowed: {reason}")


def _plain_path(path: str) -> str:
    if path.lower().startswith("file:"):
        parts = urlsplit(path)
        if parts.netloc not in ("", "localhost"):
            raise _refused(path, "a file: URL must name this machine")
        return unquote(parts.path)
    return path


def check_local_path(path: str, local_root: Path | None) -> Path:
    """The resolved path of ``path`` when it lies inside ``local_root``; raises
    ``ApiError`` (``InvalidRequestException``) otherwise, and always when the server has
    no local root."""
    if local_root is None:
        raise _refused(path, "this server keeps no local folders (it runs without --local-root)")
    plain = _plain_path(path)
    if not plain or "\0" in plain:
        raise _refused(path, "it is empty or holds a NUL character")
    root = Path(os.path.realpath(local_root))
    resolved = Path(os.path.realpath(root / plain))  # an absolute path replaces the root
    if resolved != root and root not in resolved.parents:
        raise _refused(path, f"local paths must lie inside the server's local root {root}")
    return resolved
