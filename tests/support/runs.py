"""Training runs the tests start: a fast one that separates generated pets, one that runs until
killed, and kill -9 at a chosen moment of an 8-second run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from core.config import ROOT, Config
from core.models.info import file_sha256
from core.models.load import app_model_path, load_default
from core.training import jobs
from core.training.recipe import TrainConfig
from core.workers.records import TrainingProgress
from tests.support.models import tiny_model

# A tiny model's training run: fast, and certain to separate generated pets (photos.make_pets).
FAST = TrainConfig(
    epochs=40, learning_rate=0.05, patience=40, backbone_weights="none", strategy="default"
)

# A run that goes on until killed (tests of kill -9 and of a full disk start it as a process).
SLOW_RUN = """
import sys
from core.training import jobs
from core.training.store import new_run_dir
from core.training.recipe import TrainConfig
from core.workers.records import TrainingProgress
from tests.support.models import tiny_model
run_dir = new_run_dir(sys.argv[2])
jobs.acquire_lock(sys.argv[2], run_dir)  # as jobs.train does
config = TrainConfig(epochs=100000, patience=100000, strategy="default")
jobs.run(sys.argv[1], sys.argv[2], config, build=tiny_model, run_dir=run_dir)
"""

# A run of about 8 s (150 head epochs) on the tiny model.
EIGHT_SECOND_RUN = SLOW_RUN.replace("epochs=100000, patience=100000", "epochs=150, patience=150")


def first_model(data: Path, weights: Path) -> None:
    """A finished run in `weights`: the model that every kill must leave loadable."""
    config = TrainConfig(epochs=3, patience=3, strategy="default")
    jobs.run(data, weights, config, build=tiny_model)


def kill_9_at(data: Path, weights: Path, moment: float, training: bool = False) -> str:
    """Start an 8-second run, SIGKILL it `moment` s in (`training`: `moment` s after its head
    epochs begin), and check a model still loads.

    Returns where the run was ("not started", "starting", "running/head", "killed"...). Asserts the
    current model loads and is either the previous one, byte for byte, or a finished run's.
    """
    before = app_model_path(Config(weights_dir=weights))
    digest = file_sha256(before)
    process = subprocess.Popen(
        [sys.executable, "-c", EIGHT_SECOND_RUN, str(data), str(weights)], cwd=ROOT
    )
    deadline = time.time() + 120
    while training and time.time() < deadline and process.poll() is None:
        latest = jobs.latest_run(weights)
        if latest and latest.state == "running" and latest.phase == "head":
            break
        time.sleep(0.05)
    time.sleep(moment)
    latest = jobs.latest_run(weights) or TrainingProgress()  # none yet: "starting"
    process.send_signal(signal.SIGKILL)  # a no-op when the run has already finished
    process.wait()
    where = latest.state if latest.run_dir != str(before.parent) else "not started"
    after = app_model_path(Config(weights_dir=weights))
    assert load_default(Config(weights_dir=weights)).model is not None
    if after == before:
        assert file_sha256(after) == digest  # the previous model, intact
    else:
        # A finished run.
        assert (jobs.read_json(after.parent / "progress.json") or {}).get("state") == "done"
    return f"{where}/{latest.phase or '-'}" if where == "running" else where
