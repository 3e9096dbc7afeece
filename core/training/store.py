"""Where models live: one folder per training run, and a `current` link switched atomically.

The link is switched by one rename, so a reader never sees it half-made.

    weights/
      runs/20261125-180102/  model.keras  model.json  progress.json  train.log
      current -> runs/20261125-180102
      model.keras, model.json      (optional: a model copied in by hand, used when there is no
      `current`)

A run writes only inside its own folder; the app switches models only when `current` is replaced,
so a run killed at any moment (kill -9) leaves the previous model, model file and sidecar together,
loadable.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from core.atomic import fsync
from core.errors import writing
from core.model import CURRENT

RUNS = "runs"
# A run folder's files: its settings (a page-started run), its progress and the page's stop
# request, the worker's log; model.keras and model.json once it has finished.
SETTINGS, PROGRESS, STOP, LOG = "config.json", "progress.json", "stop", "train.log"
KEEP_RUNS = 5  # finished runs kept on disk, the current one included


def new_run_dir(weights_dir: Path) -> Path:
    runs = Path(weights_dir) / RUNS
    with writing("making a run folder"):
        runs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in [""] + [f"-{i}" for i in range(1, 100)]:
        try:
            (runs / f"{stamp}{suffix}").mkdir()
            return runs / f"{stamp}{suffix}"
        except FileExistsError:
            continue
    raise RuntimeError(f"Could not create a run folder under {runs}.")


def publish(run_dir: Path, weights_dir: Path) -> None:
    """Point `current` at run_dir: a new link is made beside it, then renamed over it (atomic)."""
    weights_dir = Path(weights_dir)
    temporary = weights_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(RUNS) / Path(run_dir).name)
    os.replace(temporary, weights_dir / CURRENT)
    fsync(weights_dir)
    _prune(weights_dir)


def previous_runs(weights_dir: Path) -> list[Path]:
    """Finished runs (those holding a model), newest first."""
    runs = Path(weights_dir) / RUNS
    if not runs.is_dir():
        return []
    return sorted((p for p in runs.iterdir() if (p / "model.keras").is_file()), reverse=True)


def _prune(weights_dir: Path) -> None:
    current = (Path(weights_dir) / CURRENT).resolve()
    for old in previous_runs(weights_dir)[KEEP_RUNS:]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)
