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

The disk does not only grow: the newest Config.keep_runs run folders of any outcome are kept, and
older ones go when a run publishes, stops or fails (`prune`), or when a person deletes one
(`delete_run`). Never removed: the run `current` points to, the run in progress (the lease
holder's), and anything outside weights/runs/ (a model copied in by hand, imported models).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from core import space
from core.atomic import fsync, read_json
from core.config import settings
from core.errors import UserError, writing
from core.models.catalog import RUNS, run_folders
from core.models.info import CURRENT
from core.training.files import SETTINGS
from core.training.lease import lock_holder
from core.workers import records
from core.workers.records import TrainingProgress

# A folder being removed is first renamed to this prefix, so that it is never read half-deleted.
DELETING = ".deleting-"


class RunError(UserError):
    """A run folder a person may not delete: the one in use, the one in progress, or none."""


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
    """Point `current` at run_dir (a new link made beside it, renamed over it), then prune."""
    weights_dir = Path(weights_dir)
    temporary = weights_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(RUNS) / Path(run_dir).name)
    os.replace(temporary, weights_dir / CURRENT)
    fsync(weights_dir)
    prune(weights_dir)


def in_use(weights_dir: Path) -> Path | None:
    """The run folder `current` points to, resolved; None when there is none."""
    current = Path(weights_dir) / CURRENT
    return current.resolve() if current.is_symlink() else None


def in_progress(weights_dir: Path) -> Path | None:
    """The run folder of the live lease's holder, resolved; None when no run is going."""
    holder = lock_holder(weights_dir)
    return Path(holder["run_dir"]).resolve() if holder and holder.get("run_dir") else None


def running_data(weights_dir: Path) -> Path | None:
    """The dataset the run in progress reads (its config.json, else its progress.json); or None."""
    run_dir = in_progress(weights_dir)
    if run_dir is None:
        return None
    progress = records.read(run_dir, TrainingProgress)
    data = (read_json(run_dir / SETTINGS) or {}).get("data") or (progress and progress.data)
    return Path(data).resolve() if data else None


def prune(weights_dir: Path, keep: int | None = None, spare: Path | None = None) -> list[str]:
    """Remove run folders beyond the newest `keep` (Config.keep_runs), whatever their outcome.

    Spared on top of those: the run in use, the run in progress and `spare` (the calling run's own
    folder). Only folders directly in weights/runs/ are looked at. Returns the names removed.
    """
    keep = settings().keep_runs if keep is None else keep
    spared = {in_use(weights_dir), in_progress(weights_dir)}
    spared |= {Path(spare).resolve()} if spare else set()
    removed = []
    for old in run_folders(weights_dir)[max(keep, 0) :]:
        if old.resolve() in spared:
            continue
        try:
            _remove(old)
        except OSError:
            continue  # pruning never fails a run: the folder is tried again next time
        removed.append(old.name)
    for leftover in (Path(weights_dir) / RUNS).glob(f"{DELETING}*"):
        shutil.rmtree(leftover, ignore_errors=True)  # a removal cut short before
    return removed


def delete_run(weights_dir: Path, name: str) -> None:
    """Remove the finished run `name` at a person's request; never the one in use or in progress.

    Raises RunError, with one sentence naming the run by its folder name.
    """
    folders = {p.name: p for p in run_folders(weights_dir)}
    if name not in folders:
        raise RunError(f"There is no run {name!r} to delete any more: the list is refreshed.")
    folder = folders[name].resolve()
    if folder == in_use(weights_dir):
        raise RunError(
            f"Run {name} holds the model in use: it can go once another run replaces it."
        )
    if folder == in_progress(weights_dir):
        raise RunError(f"Run {name} is in progress: stop it first, then delete it.")
    with writing(f"deleting run {name}"):
        _remove(folders[name])


def _remove(folder: Path) -> None:
    """Rename `folder` to a hidden name beside it (one step), then remove it file by file."""
    hidden = folder.with_name(f"{DELETING}{folder.name}.{os.getpid()}")
    os.replace(folder, hidden)
    shutil.rmtree(hidden, ignore_errors=True)


@dataclass(frozen=True)
class RunEntry:
    """One run folder as the Training page lists it: its name, how it ended and its size."""

    name: str
    state: str  # done, stopped, failed, killed, running, or "unknown" (no progress.json)
    size: int  # bytes
    in_use: bool
    running: bool

    @property
    def deletable(self) -> bool:
        return not (self.in_use or self.running)


def run_entries(weights_dir: Path) -> list[RunEntry]:
    """Every run folder, newest first, with its outcome, size and whether it may be deleted."""
    current, going = in_use(weights_dir), in_progress(weights_dir)
    entries = []
    for folder in run_folders(weights_dir):
        running = folder.resolve() == going
        progress = records.read(folder, TrainingProgress)
        state = progress.seen(running).state if progress else "unknown"
        size, _ = space.folder_bytes(folder)
        entries.append(
            RunEntry(
                folder.name,
                "running" if running else state,
                size,
                folder.resolve() == current,
                running,
            )
        )
    return entries
