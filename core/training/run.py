"""A training run as named steps, each readable on its own.

Scan the data, build the model, train the head, fine-tune, report, save and publish, finish.
`run` is the whole run in this process; `jobs.py` decides which process that is and holds the
lease around it. Every step writes only inside the run folder until `save_and_publish` switches
`current`, so a failure at any step leaves the previous model in use.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import keras

from core.config import settings as operator_settings
from core.data.folders import DataFolders, scan
from core.errors import UserError, one_line, storage_sentence
from core.models.build import build_classifier, head_units
from core.models.graph import LAST_STAGE
from core.models.info import ModelInfo, save_classifier
from core.training import publishing
from core.training.progress import RunMonitor
from core.training.publishing import best_val_loss, validation_set
from core.training.recipe import (
    TrainConfig,
    fine_tune,
    make_strategy,
    predict_logits,
    train_head_cached,
)
from core.training.report import leakage_report, report
from core.training.store import new_run_dir, prune, publish
from core.training.watch import Watch, pick
from core.workers.records import TrainingProgress


def run(
    data_root: Path,
    weights_dir: Path,
    config: TrainConfig | None = None,
    build: Callable | None = None,
    run_dir: Path | None = None,
    verbose: int = 0,
) -> TrainingProgress:
    """Scan, train, evaluate, save into a run folder, then switch `current` to it.

    Returns the run's last progress record. `build` makes the model (default: ResNet-50 with
    `config.backbone_weights`); it is called inside the distribution strategy's scope. A stop
    request ends the run cleanly: "keep" saves the best epoch so far, "discard" saves nothing. Any
    failure leaves `current`, the previous model, untouched.
    """
    config = config or TrainConfig()
    run_dir = Path(run_dir or new_run_dir(weights_dir))
    # Python, NumPy and TensorFlow from one seed: initial weights, dropout, shuffling and flips, so
    # the same data and seed give the same model on the same machine (the worker also makes ops
    # deterministic).
    keras.utils.set_random_seed(config.seed)
    monitor = RunMonitor(
        run_dir, TrainingProgress(run_dir=str(run_dir), **settings(data_root, config))
    )
    try:
        data = scan_data(data_root, config, monitor)
        with make_strategy(config.strategy).scope():
            model = classifier(data, config, build)
            watch = watch_photos(run_dir, data, model, config)
            result = train_head(model, data, config, monitor, watch, verbose)
            result = fine_tune_too(model, data, config, monitor, watch, result, verbose)
        stop = monitor.stop_requested()
        if stop == "discard" or result is None or not result["history"].get("val_loss"):
            return stopped(monitor, stop, weights_dir)
        figures = report(result["val_logits"], data.validation, data.class_names)
        figures["validation_set"] = validation_set(data, data_root)
        figures["validation_folder"] = data.validation_folder  # the Folder page opens it
        figures["val_loss"] = best_val_loss(result["history"])
        if data.test is not None:  # never trained on, nor used to choose the epoch
            test_logits = predict_logits(model, data.test, config.batch_size)
            figures["test"] = report(test_logits, data.test, data.class_names)
        figures["near_duplicates"] = leakage_report(data)
        info = model_info(model, data, figures, config, data_root)
        save_classifier(model, info, run_dir / "model.keras")
        decision = publishing.decide(figures, weights_dir, config.publish)
        if decision.publish:
            publish(run_dir, weights_dir)  # prunes too
        else:
            prune(weights_dir, spare=run_dir)
        return finish(monitor, figures, stop, decision)
    except Exception as error:
        # Recorded for the page, then raised for the caller.
        monitor.finish("failed", failure(error))
        prune(weights_dir, spare=run_dir)
        raise


def settings(data_root: Path, config: TrainConfig) -> dict:
    """What the run's record says it was asked to do: its dataset and its TrainConfig."""
    return {"data": str(Path(data_root).resolve()), "config": asdict(config)}


def scan_data(data_root: Path, config: TrainConfig, monitor: RunMonitor) -> DataFolders:
    """Every photo checked once, and the run's plan (phases weighed by photo counts) recorded."""
    most = operator_settings().max_files_per_class
    data = scan(data_root, config.validation_fraction, config.seed, most)
    monitor.plan(len(data.train.paths), len(data.validation.paths), config)
    monitor.note(summary=data.summary(), skipped=list(data.skipped), held_out=data.held_out)
    return data


def classifier(data: DataFolders, config: TrainConfig, build: Callable | None) -> keras.Model:
    """The model to train: `build()`, or ResNet-50 with a head for the data's K classes.

    Raises ValueError when a built model's logits do not fit K (1 for two classes, else K).
    """
    k = len(data.class_names)
    model = build() if build else build_classifier(config.backbone_weights, num_classes=k)
    if model.output_shape[-1] != head_units(k):
        raise ValueError(
            f"The model gives {model.output_shape[-1]} logit(s); {k} classes need {head_units(k)}."
        )
    return model


def watch_photos(
    run_dir: Path, data: DataFolders, model: keras.Model, config: TrainConfig
) -> list[Watch]:
    """Fixed validation photos whose maps are kept after every epoch (core/training/watch.py)."""
    photos = pick(data.validation.paths, data.validation.labels, seed=config.seed)
    return [Watch(run_dir, photos, model)] if photos else []


def callbacks(config: TrainConfig, monitor: RunMonitor, watch: list[Watch]) -> list:
    """A phase's callbacks; early stopping is new for each phase, so each keeps its own best."""
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    return [stopper, monitor, *watch]


def train_head(
    model: keras.Model,
    data: DataFolders,
    config: TrainConfig,
    monitor: RunMonitor,
    watch: list[Watch],
    verbose: int,
) -> dict | None:
    """Phase 1, the new head on cached features; None when stopped before the features."""
    steps = callbacks(config, monitor, watch)
    return train_head_cached(model, data, config, steps, monitor, verbose=verbose)


def fine_tune_too(
    model: keras.Model,
    data: DataFolders,
    config: TrainConfig,
    monitor: RunMonitor,
    watch: list[Watch],
    head: dict | None,
    verbose: int,
) -> dict | None:
    """Phase 2, when asked for and the head trained without a stop; else the head's result."""
    if not head or not config.fine_tune_epochs or monitor.stop_requested():
        return head
    steps = callbacks(config, monitor, watch)
    return fine_tune(model, data, config, steps, monitor, verbose=verbose)


def stopped(monitor: RunMonitor, stop: str | None, weights_dir: Path) -> TrainingProgress:
    """A run that ends with nothing saved: discarded (as asked, or for a low disk) or too early.

    "Too early" is before a full epoch. Older runs beyond Config.keep_runs are pruned, this one
    spared.
    """
    if monitor.stop_reason:
        message = monitor.stop_reason
    elif stop == "discard":
        message = "Stopped; the run's model was discarded as asked."
    else:
        message = "Stopped before a full epoch: nothing saved."
    finished = monitor.finish("stopped", message)
    prune(weights_dir, spare=monitor.run_dir)
    return finished


def model_info(
    model: keras.Model, data: DataFolders, figures: dict, config: TrainConfig, data_root: Path
) -> ModelInfo:
    """The sidecar's facts: classes, backbone and its weights, when and on what it was trained."""
    resnet = LAST_STAGE in {layer.name for layer in model.layers}
    return ModelInfo(
        class_names=tuple(figures["class_names"]),
        image_size=model.input_shape[1],
        backbone="ResNet50" if resnet else model.name,
        backbone_weights=config.backbone_weights,
        trained_at=time.strftime("%Y-%m-%d %H:%M"),
        trained_on=str(Path(data_root).resolve()),
        val_accuracy=figures["accuracy"],
        extra={
            "class_folders": list(data.class_names),
            "train_counts": data.train.counts(len(data.class_names)),
        },
    )


def finish(
    monitor: RunMonitor, figures: dict, stop: str | None, decision: publishing.Decision
) -> TrainingProgress:
    """The run's last word in progress.json: done (or stopped early, its best epoch kept), and
    whether it became the current model and why."""
    done = "Stopped early; the best epoch so far was kept" if stop else "Done"
    message = f"{done}: validation accuracy {figures['accuracy']:.1%}. {decision.why}"
    return monitor.finish("done", message, report=figures, published=decision.publish)


def failure(error: Exception) -> str:
    """A failed run's one line for the page.

    A person's error as it is, the disk's with what to do, anything else by its type.
    """
    if isinstance(error, OSError):
        return storage_sentence(error, "this run") + " The previous model is unchanged."
    if isinstance(error, UserError):
        return one_line(error)
    return f"The run failed ({type(error).__name__}: {one_line(error, 200)}); see train.log."
