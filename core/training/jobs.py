"""A training run as a job: one at a time (a lock), reporting through its run folder.

A run's settings travel once, as a TrainConfig: the page calls `start`, which takes the lock,
writes run_dir/config.json and starts a worker process (`python -m core.training.worker RUN_DIR`)
that reads it; the CLI calls `train`, which does the same in its own process. Both first `check`
the dataset and the backbone, so both refuse a bad choice with the same sentence before any lock
or process. The lock is taken and released here only; the run's own steps are in `run.py`.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import tensorflow as tf

from core import space
from core.atomic import read_json, write_json
from core.config import settings
from core.data.choices import label
from core.data.folders import DataError, check_data_path, class_folders
from core.errors import ModelError, StorageError, UserError, writing
from core.models.build import resolve_backbone_weights
from core.models.catalog import RUNS
from core.training.files import LOG, SETTINGS
from core.training.lease import acquire_lock, hand_over, kept_alive, lock_holder, release_lock
from core.training.recipe import TrainConfig
from core.training.run import failure, run
from core.training.store import new_run_dir
from core.workers import records
from core.workers.process import launch, run_in_background
from core.workers.records import TrainingProgress


def check(data_root: Path | None, config: TrainConfig, roots: tuple[Path, ...] = ()) -> None:
    """Refuse a bad dataset layout or a missing backbone file before any lease or process.

    Refused: no dataset, one without the train/<class>/ layout of two classes, a backbone weights
    file that is not there. The page (`start`) and the CLI (`train`) both call it, so both refuse
    with the same sentence at the same moment. The sentence names the dataset below its data root
    and a weights file by its name: a visitor never sees the server's folders. With `roots` (the
    page's), the dataset must also lie inside them; None is the page's empty choice. The run itself
    checks every photo later, skipping and counting bad ones.
    """
    if data_root is None:
        text = "No dataset under the data roots: add one (class folders, or train/, validation/)."
        raise DataError(text)
    path = Path(data_root).expanduser().resolve()
    shown = label(path, roots or settings().data_roots)
    if roots:
        try:
            check_data_path(str(path), roots)
        except DataError:
            message = f"The dataset {shown} is not under the data roots: choose one from the list."
            raise DataError(message) from None
    try:
        class_folders(path)
    except DataError as error:
        raise _renamed(error, str(path), shown) from None
    try:
        resolve_backbone_weights(config.backbone_weights)
    except ModelError as error:
        weights = str(config.backbone_weights)
        raise _renamed(error, weights, Path(weights).name) from None


def _renamed(error: UserError, path: str, name: str) -> UserError:
    """The same error, naming `path` as `name`: the sentence's wording stays in its one home."""
    return type(error)(str(error).replace(path, name))


# Taking the lock, running, releasing it ---------------------------------------------------------


def train(
    data_root: Path, weights_dir: Path, config: TrainConfig, verbose: int = 0
) -> TrainingProgress:
    """A run in this process (the CLI): check, take the lock, run, release it. Raises Busy."""
    check(data_root, config)
    run_dir = _run_dir_holding_lock(Path(weights_dir))
    return _holding_lock(Path(data_root), Path(weights_dir), config, run_dir, verbose)


def start(
    data_root: Path, weights_dir: Path, config: TrainConfig, roots: tuple[Path, ...] = ()
) -> Path:
    """A run in a worker process of its own session (the Training page); returns its folder.

    The worker outlives page reruns and closed tabs. The dataset and backbone are checked and the
    lock is taken here, before the worker starts, so a bad choice or a second request is refused at
    once. progress.json and train.log appear in the run folder. Raises a UserError (Busy,
    DataError, ModelError, StorageError).
    """
    check(data_root, config, roots)
    run_dir = _run_dir_holding_lock(Path(weights_dir))
    try:
        with writing("starting the run"):
            settings = {
                "data": str(data_root),
                "weights": str(weights_dir),
                "config": asdict(config),
            }
            write_json(run_dir / SETTINGS, settings)
            hand_over(weights_dir, _launch(run_dir).pid)
    except StorageError:
        release_lock(weights_dir)
        raise
    return run_dir


def _run_dir_holding_lock(weights_dir: Path) -> Path:
    """A new run folder, and the lock taken for it; the folder is removed when the lock is not.

    Refused first, with one sentence, when the disk is below Config.min_free_mb.
    """
    space.require_free(weights_dir, "a new run")
    run_dir = new_run_dir(weights_dir)
    try:
        acquire_lock(weights_dir, run_dir)
    except BaseException:
        run_dir.rmdir()
        raise
    return run_dir


def _launch(run_dir: Path) -> subprocess.Popen:
    """`python -m core.training.worker RUN_DIR`, its output in train.log."""
    return launch("core.training.worker", run_dir, LOG)


def work(run_dir: Path) -> TrainingProgress:
    """The worker's body: the settings `start` wrote, run at a lower priority.

    One core is left to the app.
    """
    run_in_background(max(1, (os.cpu_count() or 2) - 1))
    settings = read_json(Path(run_dir) / SETTINGS)
    config = TrainConfig(**settings["config"])
    return _holding_lock(Path(settings["data"]), Path(settings["weights"]), config, Path(run_dir))


def _holding_lock(
    data_root: Path, weights_dir: Path, config: TrainConfig, run_dir: Path, verbose: int = 2
) -> TrainingProgress:
    # Deterministic kernels: on a CPU they cost little, and with a seed a run can be repeated.
    tf.config.experimental.enable_op_determinism()
    try:
        with kept_alive(weights_dir):  # the lease's heartbeat: other replicas see the run alive
            return run(data_root, weights_dir, config, run_dir=run_dir, verbose=verbose)
    except OSError as error:
        raise StorageError(failure(error)) from None
    finally:
        release_lock(weights_dir)


def latest_run(weights_dir: Path) -> TrainingProgress | None:
    """The newest run's progress, `running` from the lease; None when there is no run yet.

    Its state is running, done, failed, stopped, or killed when its process vanished.
    """
    runs = Path(weights_dir) / RUNS
    folders = (
        sorted((p for p in runs.iterdir() if p.is_dir()), reverse=True) if runs.is_dir() else []
    )
    holder = lock_holder(weights_dir)
    for folder in folders:
        progress = records.read(folder, TrainingProgress)
        # The lease, not the pid: the run's worker may be on another host.
        running = bool(holder and holder.get("run_dir") == str(folder))
        if progress is None and running:
            return TrainingProgress(state="starting", run_dir=str(folder), running=True)
        if progress is None:
            continue
        return replace(progress.seen(running), run_dir=str(folder))
    return None
