"""Faults: kill -9 at four moments of a run, a disk that fills, two runs requested at once."""

import os
import subprocess
from multiprocessing import Barrier, Process, Queue
from pathlib import Path

import pytest

from core.config import Config
from core.errors import StorageError
from core.models.info import file_sha256
from core.models.load import app_model_path, load_default
from core.training import jobs, lease
from tests.support.models import tiny_model
from tests.support.runs import FAST, first_model, kill_9_at


@pytest.mark.slow
def test_kill_9_from_start_up_to_the_head_epochs_never_loses_the_model(generated_pets, tmp_path):
    # Two kills by the clock, two once the run is training (so a loaded machine cannot move them
    # all before the start); 20 random ones are a soak: benchmarks/bench_faults.py.
    weights = tmp_path / "weights"
    first_model(generated_pets, weights)
    for moment in (0.5, 2.0):
        kill_9_at(generated_pets, weights, moment)
    for moment in (0.0, 1.0):
        assert kill_9_at(generated_pets, weights, moment, training=True) == "running/head"


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
        assert failed.state == "failed" and "disk is full" in failed.message
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
