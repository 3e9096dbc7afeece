"""Faults: kill -9 at four moments of a run, a disk that fills, two runs requested at once."""

import os
import signal
import subprocess
import sys
import time
from multiprocessing import Barrier, Process, Queue
from pathlib import Path

import pytest

from core.config import ROOT, Config
from core.errors import StorageError
from core.model import app_model_path, file_sha256, load_default
from core.training import jobs, lease
from core.training.recipe import TrainConfig
from tests.conftest import FAST, SLOW_RUN, tiny_model

# A run of about 8 s (150 head epochs) on the tiny model.
EIGHT_SECOND_RUN = SLOW_RUN.replace("epochs=100000, patience=100000", "epochs=150, patience=150")


def first_model(data: Path, weights: Path) -> None:
    """A finished run in `weights`: the model that every kill must leave loadable."""
    config = TrainConfig(epochs=3, patience=3, strategy="default")
    jobs.run(data, weights, config, build=tiny_model)


def kill_9_at(moment: float, data: Path, weights: Path) -> str:
    """Start an 8-second run, SIGKILL it `moment` s in, and check a model still loads.

    Returns where the run was ("not started", "starting", "running/head", "killed"...). Asserts the
    current model loads and is either the previous one, byte for byte, or a finished run's.
    """
    before = app_model_path(Config(weights_dir=weights))
    digest = file_sha256(before)
    process = subprocess.Popen(
        [sys.executable, "-c", EIGHT_SECOND_RUN, str(data), str(weights)], cwd=ROOT
    )
    time.sleep(moment)
    latest = jobs.latest_run(weights) or {}
    process.send_signal(signal.SIGKILL)  # a no-op when the run has already finished
    process.wait()
    where = (
        latest.get("state", "starting")
        if latest.get("run_dir") != str(before.parent)
        else "not started"
    )
    after = app_model_path(Config(weights_dir=weights))
    assert load_default(Config(weights_dir=weights)).model is not None
    if after == before:
        assert file_sha256(after) == digest  # the previous model, intact
    else:
        # A finished run.
        assert (jobs.read_json(after.parent / "progress.json") or {}).get("state") == "done"
    return f"{where}/{latest.get('phase', '-')}" if where == "running" else where


@pytest.mark.slow
def test_kill_9_from_start_up_to_the_head_epochs_never_loses_the_model(generated_pets, tmp_path):
    # Four moments across an 8-second run; 20 random ones are a soak: benchmarks/bench_faults.py.
    weights = tmp_path / "weights"
    first_model(generated_pets, weights)
    for moment in (0.5, 2.0, 4.0, 7.0):
        kill_9_at(moment, generated_pets, weights)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.slow
def test_a_disk_that_fills_during_saving_fails_the_run_not_the_model(
    generated_pets, tmp_path, monkeypatch
):
    # No free-space floor: this disk is meant to fill while the model is saved, past every check.
    monkeypatch.setenv("CATDOG_MIN_FREE_MB", "0")
    weights = tmp_path / "small-disk"
    if os.geteuid() != 0 or not _mount_tmpfs(weights, "2m"):
        pytest.skip("needs root to mount a 2 MB tmpfs (CI runs as root)")
    try:
        jobs.run(generated_pets, weights, FAST, build=tiny_model)
        before = app_model_path(Config(weights_dir=weights))
        digest = file_sha256(before)
        filler = weights / "filler"
        # Leave about 20 KB free: the next model (about 50 KB) cannot fit.
        with open(filler, "wb") as file:
            free = os.statvfs(weights).f_bavail * os.statvfs(weights).f_frsize
            file.write(b"\0" * max(free - 20_000, 0))
        with pytest.raises(StorageError, match="disk is full"):
            jobs.run(generated_pets, weights, FAST, build=tiny_model)
        after = app_model_path(Config(weights_dir=weights))
        assert after == before and file_sha256(before) == digest
        assert load_default(Config(weights_dir=weights)).info.val_accuracy == 1.0
        failed = jobs.latest_run(weights)
        assert failed["state"] == "failed" and "disk is full" in failed["message"]
    finally:
        subprocess.run(["umount", str(weights)], capture_output=True)


def _request(weights: str, barrier, results) -> None:
    barrier.wait()  # both ask at the same moment
    try:
        jobs.acquire_lock(Path(weights), Path(weights) / "runs" / str(os.getpid()))
        results.put("ran")
    except lease.Busy:
        results.put("refused")
    barrier.wait()  # the winner keeps living (as a run would) until both have asked


def test_two_requests_at_once_exactly_one_runs(tmp_path):
    for attempt in range(20):
        weights = tmp_path / f"w{attempt}"
        barrier, results = Barrier(2), Queue()
        workers = [
            Process(target=_request, args=(str(weights), barrier, results)) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert sorted(results.get(timeout=5) for _ in range(2)) == ["ran", "refused"]
