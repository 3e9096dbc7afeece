"""A training run as a job: one at a time (a lock), reporting through its run folder.

A run's settings travel once, as a TrainConfig: the page calls `start`, which takes the lock,
writes run_dir/config.json and starts a worker process (`python -m core.training.worker RUN_DIR`)
that reads it; the CLI calls `train`, which does the same in its own process. The lock is taken
and released here only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from core.atomic import read_json, write_json
from core.cams.base import probabilities
from core.config import ROOT, Config
from core.data.folders import DataFolders, scan
from core.errors import StorageError, UserError, one_line, storage_sentence
from core.model import LAST_STAGE, ModelInfo, build_classifier, save_classifier
from core.training.lease import acquire_lock, hand_over, kept_alive, lock_holder, release_lock
from core.training.progress import RunMonitor
from core.training.recipe import TrainConfig, fine_tune, make_strategy, train_head_cached
from core.training.store import LOG, PROGRESS, RUNS, SETTINGS, new_run_dir, publish
from core.training.watch import Watch, pick


def singular(folder: str) -> str:
    """'cats' -> 'cat', so labels read naturally; other names are kept as they are."""
    return (
        folder[:-1]
        if folder.endswith("s") and not folder.endswith("ss") and len(folder) > 1
        else folder
    )


def report(val_logits: np.ndarray, data: DataFolders) -> dict:
    """Validation accuracy, confusion matrix (rows: true, columns: predicted) and the misclassified
    photos."""
    predicted = (np.asarray(val_logits) > 0).astype(int)
    truth = np.asarray(data.validation.labels, dtype=int)
    confusion = np.zeros((2, 2), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    dog = probabilities(np.asarray(val_logits, dtype=np.float64).reshape(-1, 1)).numpy()[:, 1]
    wrong = [
        {"path": path, "true": int(t), "predicted": int(p), "confidence": float(d if p else 1 - d)}
        for path, t, p, d in zip(data.validation.paths, truth, predicted, dog)
        if t != p
    ]
    return {
        "accuracy": float((predicted == truth).mean()),
        "confusion": confusion.tolist(),
        "misclassified": wrong,
    }


def run(
    data_root: Path,
    weights_dir: Path,
    config: TrainConfig | None = None,
    build: Callable | None = None,
    run_dir: Path | None = None,
    verbose: int = 0,
) -> dict:
    """Scan, train, evaluate, save into a run folder, then switch `current` to it. Returns
    progress.json's dict.

    `build` makes the model (default: ResNet-50 with `config.backbone_weights`); it is called
    inside the distribution strategy's scope. A stop request ends the run cleanly: "keep" saves the
    best epoch so far, "discard" saves nothing. Any failure leaves `current`, the previous model,
    untouched.
    """
    config = config or TrainConfig()
    run_dir = Path(run_dir or new_run_dir(weights_dir))
    # Python, NumPy and TensorFlow from one seed: initial weights, dropout, shuffling and flips, so
    # the same data and seed give the same model on the same machine (the worker also makes ops
    # deterministic).
    keras.utils.set_random_seed(config.seed)
    info = {
        "data": str(Path(data_root).resolve()),
        "run_dir": str(run_dir),
        "config": asdict(config),
    }
    monitor = RunMonitor(run_dir, info)
    try:
        data = scan(
            data_root, config.validation_fraction, config.seed, Config().max_files_per_class
        )
        monitor.plan(len(data.train.paths), len(data.validation.paths), config)
        monitor.state.update(
            summary=data.summary(), skipped=list(data.skipped), held_out=data.held_out
        )
        with make_strategy(config.strategy).scope():
            model = build() if build else build_classifier(config.backbone_weights)
            # Fixed validation photos, their maps kept after every epoch (core/training/watch.py).
            photos = pick(data.validation.paths, data.validation.labels, seed=config.seed)
            watch = [Watch(run_dir, photos, model)] if photos else []
            result = train_head_cached(
                model, data, config, [_stopper(config), monitor, *watch], monitor, verbose=verbose
            )
            if result and config.fine_tune_epochs and not monitor.stop_requested():
                result = fine_tune(
                    model,
                    data,
                    config,
                    [_stopper(config), monitor, *watch],
                    monitor,
                    verbose=verbose,
                )
        stop = monitor.stop_requested()
        if stop == "discard" or result is None or not result["history"].get("val_loss"):
            monitor.finish(
                "stopped",
                "Stopped before a full epoch: nothing saved."
                if stop != "discard"
                else "Stopped; the run's model was discarded as asked.",
            )
            return monitor.state
        class_names = tuple(singular(n) for n in data.class_names)
        figures = {**report(result["val_logits"], data), "class_names": list(class_names)}
        resnet = LAST_STAGE in {layer.name for layer in model.layers}
        model_info = ModelInfo(
            class_names=class_names,
            image_size=model.input_shape[1],
            backbone="ResNet50" if resnet else model.name,
            backbone_weights=config.backbone_weights,
            trained_at=time.strftime("%Y-%m-%d %H:%M"),
            trained_on=str(Path(data_root).resolve()),
            val_accuracy=figures["accuracy"],
            extra={"class_folders": list(data.class_names), "train_counts": data.train.counts(2)},
        )
        save_classifier(model, model_info, run_dir / "model.keras")
        publish(run_dir, weights_dir)
        done = "Stopped early; the best epoch so far was kept" if stop else "Done"
        monitor.finish(
            "done", f"{done}: validation accuracy {figures['accuracy']:.1%}.", report=figures
        )
        return monitor.state
    except Exception as error:  # recorded for the page, then raised for the caller
        monitor.finish("failed", failure(error))
        raise


def _stopper(config: TrainConfig) -> keras.callbacks.EarlyStopping:
    return keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )


def failure(error: Exception) -> str:
    """A failed run's one line for the page: a person's error as it is, the disk's with what to
    do, anything else by its type."""
    if isinstance(error, OSError):
        return storage_sentence(error, "this run") + " The previous model is unchanged."
    if isinstance(error, UserError):
        return one_line(error)
    return f"The run failed ({type(error).__name__}: {one_line(error, 200)}); see train.log."


# Taking the lock, running, releasing it ---------------------------------------------------------


def train(data_root: Path, weights_dir: Path, config: TrainConfig, verbose: int = 0) -> dict:
    """A run in this process (the CLI): take the lock, run, release it. Raises Busy."""
    run_dir = new_run_dir(weights_dir)
    try:
        acquire_lock(weights_dir, run_dir)
    except Exception:
        run_dir.rmdir()
        raise
    return _holding_lock(Path(data_root), Path(weights_dir), config, run_dir, verbose)


def start(data_root: Path, weights_dir: Path, config: TrainConfig) -> Path:
    """A run in a worker process of its own session, so that it outlives page reruns and closed
    tabs (the Training page). The lock is taken here, before the worker starts, so a second request
    is refused at once. Returns the run folder, where progress.json and train.log appear. Raises
    Busy."""
    run_dir = new_run_dir(weights_dir)
    acquire_lock(weights_dir, run_dir)
    try:
        settings = {"data": str(data_root), "weights": str(weights_dir), "config": asdict(config)}
        write_json(run_dir / SETTINGS, settings)
        log = open(run_dir / LOG, "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "core.training.worker", str(run_dir)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        hand_over(weights_dir, process.pid)
    except OSError:
        release_lock(weights_dir)
        raise
    return run_dir


def work(run_dir: Path) -> dict:
    """The worker's body: the settings `start` wrote, at a lower priority, one core left to the
    app."""
    run_in_background(max(1, (os.cpu_count() or 2) - 1))
    settings = read_json(Path(run_dir) / SETTINGS)
    config = TrainConfig(**settings["config"])
    return _holding_lock(Path(settings["data"]), Path(settings["weights"]), config, Path(run_dir))


def _holding_lock(data_root: Path, weights_dir: Path, config, run_dir: Path, verbose=2) -> dict:
    # Deterministic kernels: on a CPU they cost little, and with a seed a run can be repeated.
    tf.config.experimental.enable_op_determinism()
    try:
        with kept_alive(weights_dir):  # the lease's heartbeat: other replicas see the run alive
            return run(data_root, weights_dir, config, run_dir=run_dir, verbose=verbose)
    except OSError as error:
        raise StorageError(failure(error)) from None
    finally:
        release_lock(weights_dir)


def run_in_background(threads: int, niceness: int = 10) -> None:
    """A page-started worker yields to the app: lower CPU priority, and TensorFlow bounded to
    `threads`.

    Call before the first TensorFlow op (thread counts are fixed once its runtime starts).
    tf.data's own decoding threads are not bounded, but they run at the same lowered priority. The
    worker leads its own session, and Linux schedules each session as one group ("autogroup") whose
    share nice() does not touch: the group's own nice value is lowered too, where the kernel has
    one.
    """
    os.nice(niceness)
    try:
        Path("/proc/self/autogroup").write_text(str(niceness))
    except OSError:
        pass  # no autogroups here (another OS, or a kernel without them): nice() alone rules
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def latest_run(weights_dir: Path) -> dict | None:
    """The newest run's progress (running, done, failed, stopped, or killed if its process
    vanished)."""
    runs = Path(weights_dir) / RUNS
    folders = (
        sorted((p for p in runs.iterdir() if p.is_dir()), reverse=True) if runs.is_dir() else []
    )
    holder = lock_holder(weights_dir)
    for folder in folders:
        progress = read_json(folder / PROGRESS)
        running = bool(holder and holder.get("run_dir") == str(folder))
        if progress is None and running:
            return {"state": "starting", "run_dir": str(folder), "running": True, "history": {}}
        if progress is None:
            continue
        if progress.get("state") == "running" and not running:
            progress.update(
                state="killed",
                message="The run's process ended without finishing; the previous model is in use.",
            )
        return {**progress, "run_dir": str(folder), "running": running}
    return None
