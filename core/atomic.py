"""Files that readers never see half written: JSON records, and any file replaced by a rename."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path):
    """Yield a temporary path beside `path` to write: renamed over `path` on success, else removed.

    The rename is one step, so readers see the old file or the new one, never half of either;
    the temporary is flushed to the disk first, so a power cut cannot rename an empty file in.
    """
    path = Path(path)
    # Unique per call: two threads of one process (two visitors' sessions) may write one path.
    unique = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    temporary = path.with_name(f".{path.name}.{unique}.tmp{path.suffix}")
    try:
        yield temporary
        fsync(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, data: dict, **dumps) -> None:
    """`data` as JSON at `path`, replaced atomically."""
    with replacing(path) as temporary:
        temporary.write_text(json.dumps(data, **dumps))


def read_json(path: Path) -> dict | None:
    """The JSON at `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk (so a rename survives a power cut)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
