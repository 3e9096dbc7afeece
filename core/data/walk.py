"""A bounded walk below a folder that never leaves it: what every listing of a server folder uses.

Bounded in depth, entries and time, so that a page never hangs on a huge or network folder; links
that point out of the folder are skipped, not followed, and hidden entries are left out.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

DEPTH = 3  # folder levels below a root looked at for datasets and weights files
MAX_ENTRIES = 20_000  # directory entries read per walk at most
SECONDS = 1.0  # time one walk may take at most


def walk(
    root: Path,
    depth: int = DEPTH,
    max_entries: int = MAX_ENTRIES,
    seconds: float = SECONDS,
    links_out: list | None = None,
) -> Iterator[Path]:
    """Every file and folder below `root`, breadth first, hidden ones skipped, bounded.

    None lies outside `root` once links are followed (those left out are added to `links_out`).
    The walk stops at `depth` levels, `max_entries` entries or `seconds`, whichever comes first.
    """
    try:
        root = Path(root).resolve(strict=True)
    except OSError:
        return
    deadline, budget, level = time.monotonic() + seconds, max_entries, [root]
    for _ in range(depth + 1):
        below = []
        for folder in level:
            if budget <= 0 or time.monotonic() > deadline:
                return
            for path, is_dir in folder_entries(folder, root, budget, links_out):
                budget -= 1
                yield path
                if is_dir:
                    below.append(path)
        level = sorted(below)


def folder_entries(
    folder: Path, root: Path, budget: int, links_out: list | None = None
) -> list[tuple[Path, bool]]:
    """Up to `budget` entries of one folder as (path, is a folder).

    Links out of `root` (added to `links_out`) and hidden entries are left out.
    """
    kept = []
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, budget):
                path = Path(entry.path)
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink() and not path.resolve().is_relative_to(root):
                    if links_out is not None:
                        links_out.append(path)
                    continue
                kept.append((path, entry.is_dir()))
    except OSError:
        pass  # unreadable: nothing from it is offered
    return kept
