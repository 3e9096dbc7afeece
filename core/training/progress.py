"""A worker process's start, its progress file and its stop request (training and folder runs).

The Training page reads the progress file and writes the stop request. The monitor also stops a
run itself, discarding it, when the disk's free space falls below Config.min_free_mb.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import keras

from core import space
from core.atomic import write_json
from core.config import ROOT, settings
from core.errors import writing
from core.training.files import PROGRESS, STOP

SPACE_SECONDS = 5.0  # how often a run looks at the free space: a statvfs call, microseconds


def launch(module: str, folder: Path, log: str) -> subprocess.Popen:
    """`python -m MODULE FOLDER` in a session of its own (a page rerun or a closed tab does not
    end it), its output in FOLDER/`log`."""
    with open(Path(folder) / log, "w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", module, str(folder)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def request_stop(run_dir: Path, keep: bool) -> None:
    """Ask a run to end cleanly after its current batch, keeping its best model so far or not."""
    with writing("asking the run to stop"):
        (Path(run_dir) / STOP).write_text("keep" if keep else "discard")


class RunMonitor(keras.callbacks.Callback):
    """Writes progress.json (phase, epoch, step, history, ETA) and obeys a stop request.

    One monitor follows a whole run across its phases: "features" (the frozen backbone's pass over
    the photos), "head" (training on cached features) and "fine-tune". `plan` weighs each phase's
    cost, so the overall fraction and ETA are honest about where the time goes.
    """

    def __init__(
        self,
        run_dir: Path,
        info: dict | None = None,
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
        self.state = {
            "state": "running",
            "pid": os.getpid(),
            "started_at": self.started,
            "history": {},
            **(info or {}),
        }
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

    # Phases
    # ------------------------------------------------------------------------------------------
    def begin(self, phase: str, epochs: int, steps: int) -> None:
        if self.phase:
            self.done_units += self.phases.get(self.phase, 0.0)
        self.phase, self.epochs, self.steps, self.epoch = phase, epochs, max(steps, 1), 0
        self.state["history"].setdefault(phase, {})
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
        self.state.update(
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
        write_json(self.run_dir / PROGRESS, self.state)

    def finish(self, state: str, message: str, **extra) -> None:
        self.state.update(
            state=state,
            message=message,
            fraction=1.0 if state == "done" else self.state.get("fraction", 0),
            eta_seconds=0,
            finished_at=time.time(),
            **extra,
        )
        write_json(self.run_dir / PROGRESS, self.state)

    def stop_requested(self) -> str | None:
        """None, or "keep" / "discard" when the page asked this run to stop or the disk is low."""
        if self.stop_reason or self._disk_low():
            return "discard"
        path = self.run_dir / STOP
        return (path.read_text().strip() or "keep") if path.exists() else None

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
        history = self.state["history"][self.phase]
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        self.epoch = epoch + 1
        self.update(0, force=True)
