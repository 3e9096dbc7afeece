"""Disk figures: the free space on a folder's disk, the floor below which nothing new is written,
and the space the weights and data folders take.

Uploads, the Oxford-IIIT Pet download and new runs call `require_free` before they write; a run in
progress asks `below_floor` every few seconds (core/training/progress.py) and stops itself, so a
public demo fills its disk to the floor at most, never to the last byte. Callers use these
functions through the module (`space.free_bytes`), so a test can stand in for the disk.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.config import Config, settings
from core.errors import StorageError

MB = 1024**2
MAX_ENTRIES = 200_000  # entries one folder's sizing reads at most: the figure is then "at least"


def free_bytes(path: Path) -> int:
    """Bytes free for this process on the disk holding `path` (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def below_floor(path: Path, floor_mb: int) -> bool:
    """Is the free space on the disk of `path` under `floor_mb`? Never when the floor is 0."""
    return floor_mb > 0 and free_bytes(path) < floor_mb * MB


def require_free(path: Path, what: str, floor_mb: int | None = None, needed: int = 0) -> None:
    """Refuse `what` (e.g. "a new run") with one sentence when it would leave less than the floor.

    `needed` is what `what` will write, in bytes, when it is known beforehand (a ZIP's unpacked
    size); the floor is Config.min_free_mb unless given.
    """
    floor_mb = settings().min_free_mb if floor_mb is None else floor_mb
    free = free_bytes(path)
    if floor_mb <= 0 and not needed:
        return
    if free - needed < floor_mb * MB:
        wanted = f"{size_text(needed)} for it and " if needed else ""
        raise StorageError(
            f"Not enough free disk space for {what}: {size_text(free)} free, {wanted}"
            f"{size_text(floor_mb * MB)} must stay free; delete old runs or datasets, or ask the "
            "operator for more space."
        )


def size_text(size: int) -> str:
    """Bytes as a person reads them: "850 MB", "1.4 GB"."""
    if size >= 1000 * MB:
        return f"{size / 1024**3:,.1f} GB"
    return f"{size / MB:,.0f} MB"


def folder_bytes(folder: Path, max_entries: int = MAX_ENTRIES) -> tuple[int, bool]:
    """The bytes of the files in `folder` and below, and whether every entry was counted.

    Links are not followed (a link into another folder is that folder's to count), and the walk
    stops after `max_entries` entries, so a huge folder costs a bounded time; an unreadable entry
    counts as nothing.
    """
    total, budget, pending = 0, max_entries, [Path(folder)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    budget -= 1
                    if budget < 0:
                        return total, False
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue  # gone or unreadable: nothing to count
    return total, True


@dataclass(frozen=True)
class Usage:
    """What the Training page shows of the disk: the two folders' sizes and the free space."""

    weights: int
    data: int
    free: int
    floor: int
    complete: bool = True  # False when a folder had more entries than were counted

    def sentence(self) -> str:
        about = "" if self.complete else "at least "
        return (
            f"Models and runs use {about}{size_text(self.weights)}, datasets {about}"
            f"{size_text(self.data)}; {size_text(self.free)} free on the disk (uploads, downloads "
            f"and runs stop at {size_text(self.floor)})."
        )

    @property
    def low(self) -> bool:
        return self.free < self.floor


def usage(config: Config) -> Usage:
    """The weights folder's and the data roots' sizes, and the free space on the weights' disk."""
    weights, whole = folder_bytes(config.weights_dir)
    data, roots = 0, {Path(root).resolve() for root in config.data_roots}
    # A root inside another root is counted with it, not twice.
    for root in sorted(r for r in roots if not any(r != o and r.is_relative_to(o) for o in roots)):
        size, counted = folder_bytes(root)
        data, whole = data + size, whole and counted
    free = min(free_bytes(config.weights_dir), free_bytes(config.data_dir))
    return Usage(weights, data, free, config.min_free_mb * MB, whole)
