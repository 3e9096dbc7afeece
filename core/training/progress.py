"""The training worker's progress.json (a TrainingProgress) and its obedience to a stop request.

The Training page reads the record (core/workers/records.py) and writes the stop request
(core/workers/process.py). The monitor also stops a run itself, discarding it, when the disk's
free space falls below Config.min_free_mb.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import keras

from core import space
from core.config import settings
from core.workers import records
from core.workers.process import stop_request
from core.workers.records import TrainingProgress

SPACE_SECONDS = 5.0  # how often a run looks at the free space: a statvfs call, microseconds


class RunMonitor(keras.callbacks.Callback):
    """Writes progress.json (phase, epoch, step, history, ETA) and obeys a stop request.

    `progress` is the run's TrainingProgress, its one writer this monitor (and `run.py`'s steps,
    which record the data's summary and the outcome through it).

    One monitor follows a whole run across its phases: "features" (the frozen backbone's pass over
    the photos), "head" (training on cached features) and "fine-tune". `plan` weighs each phase's
    cost, so the overall fraction and ETA are honest about where the time goes.
    """

    def __init__(
        self,
        run_dir: Path,
        info: TrainingProgress | None = None,
        phases: dict | None = None,
        floor_mb: int | None = None,
    ):
        super().__init__()
        self.run_dir = Path(run_dir)
        # Below this much free space the run stops and discards itself (Config.min_free_mb).
        self.floor_mb = settings().min_free_mb if floor_mb is None else floor_mb
        # Why the monitor stopped the run on its own; None while it has not.
        self.stop_reason: str | None = None
        self._space_checked = 0.0
        # Phase -> cost units, each about one forward pass of one photo.
        self.phases = phases or {}
        self.started = time.time()
        self.done_units = 0.0
        self.progress = replace(
            info or TrainingProgress(), state="running", pid=os.getpid(), started_at=self.started
        )
        self.phase, self.epochs, self.steps, self.epoch = "", 0, 0, 0
        self._last_write = 0.0

    def plan(self, n_train: int, n_validation: int, config) -> None:
        """Each phase's cost in forward passes of one photo, from the photo counts and TrainConfig.

        The feature pass sees each training photo twice (it and its mirror image) and each
        validation photo once; a head epoch on cached features costs about 8; a fine-tune epoch a
        forward and a backward pass (about 2.5) per training photo and one per validation photo.
        """
        self.phases = {
            "features": 2 * n_train + n_validation,
            "head": 8 * config.epochs,
            "fine-tune": config.fine_tune_epochs * (2.5 * n_train + n_validation),
        }

    def note(self, **fields) -> None:
        """Fields of the record that its next write carries (the data's summary, once scanned)."""
        self.progress = replace(self.progress, **fields)

    # Phases
    # ------------------------------------------------------------------------------------------
    def begin(self, phase: str, epochs: int, steps: int) -> None:
        if self.phase:
            self.done_units += self.phases.get(self.phase, 0.0)
        self.phase, self.epochs, self.steps, self.epoch = phase, epochs, max(steps, 1), 0
        self.progress.history.setdefault(phase, {})
        self.update(0, force=True)

    def update(self, step: int, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_write < 0.5:
            return
        self._last_write = now
        within = (self.epoch + min(step, self.steps) / self.steps) / max(self.epochs, 1)
        total = sum(self.phases.values()) or 1.0
        fraction = min((self.done_units + within * self.phases.get(self.phase, 0.0)) / total, 1.0)
        elapsed = now - self.started
        self.progress = replace(
            self.progress,
            phase=self.phase,
            epoch=min(self.epoch + 1, self.epochs),
            epochs=self.epochs,
            step=step,
            steps=self.steps,
            fraction=fraction,
            elapsed=elapsed,
            updated_at=now,
            eta_seconds=elapsed / fraction * (1 - fraction) if fraction > 0.02 else None,
        )
        records.write(self.run_dir, self.progress)

    def finish(self, state: str, message: str, **extra) -> TrainingProgress:
        """The run's outcome written; `extra`: more of its fields (report, published)."""
        self.progress = replace(
            self.progress,
            state=state,
            message=message,
            fraction=1.0 if state == "done" else self.progress.fraction,
            eta_seconds=0,
            finished_at=time.time(),
            **extra,
        )
        records.write(self.run_dir, self.progress)
        return self.progress

    def stop_requested(self) -> str | None:
        """None, or "keep" / "discard" when the page asked this run to stop or the disk is low."""
        if self.stop_reason or self._disk_low():
            return "discard"
        return stop_request(self.run_dir)

    def _disk_low(self) -> bool:
        """Every SPACE_SECONDS: is the free space below the floor? Then the run stops, discarded.

        The reason stays in memory, not in the stop file: on a full disk that file could not be
        written.
        """
        now = time.monotonic()
        if now - self._space_checked < SPACE_SECONDS:
            return False
        self._space_checked = now
        if not space.below_floor(self.run_dir, self.floor_mb):
            return False
        floor = space.size_text(self.floor_mb * space.MB)
        self.stop_reason = (
            f"Stopped: the disk's free space fell below {floor}, so the run was discarded and the "
            "previous model stays in use."
        )
        return True

    # Keras callback
    # ----------------------------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        self.update(batch + 1)
        if self.stop_requested():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        history = self.progress.history[self.phase]
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        self.epoch = epoch + 1
        self.update(0, force=True)
