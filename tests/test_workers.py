"""Background jobs' records and processes: progress.json round-trips, old files read, dead pids."""

import json
import os
import subprocess
import sys

from core.workers import process, records
from core.workers.records import PROGRESS, FolderProgress, TrainingProgress


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_record_round_trips_through_progress_json_and_running_is_never_written(tmp_path):
    training = TrainingProgress(
        state="done",
        pid=12,
        message="Done.",
        fraction=1.0,
        run_dir=str(tmp_path),
        config={"epochs": 3},
        phase="head",
        epoch=3,
        epochs=3,
        history={"head": {"loss": [0.9, 0.5]}},
        report={"accuracy": 0.75},
        published=False,
        running=True,
    )
    records.write(tmp_path, training)
    on_disk = json.loads((tmp_path / PROGRESS).read_text())
    assert "running" not in on_disk
    assert on_disk["state"] == "done" and on_disk["history"] == {"head": {"loss": [0.9, 0.5]}}
    assert records.read(tmp_path, TrainingProgress) == training.seen(False)
    folder = FolderProgress(state="running", pid=5, done=64, total=200, seconds_per_photo=0.1)
    assert FolderProgress.from_json(json.loads(json.dumps(folder.to_json()))) == folder


def test_older_files_are_read_unknown_keys_ignored_missing_keys_defaulted(tmp_path):
    # A training run's file of an earlier version: no phase yet, a key this version dropped.
    (tmp_path / PROGRESS).write_text(json.dumps({"state": "failed", "retired": [1, 2]}))
    old = records.read(tmp_path, TrainingProgress)
    assert old.state == "failed" and old.message is None and old.history == {}
    assert (old.phase, old.epoch, old.fraction, old.report) == ("", 0, 0.0, None)
    # The folder page's first record: what `jobs.start` wrote before its worker ran.
    assert FolderProgress.from_json({"state": "starting", "pid": 3}).total == 0
    assert records.read(tmp_path / "none", FolderProgress) is None
    (tmp_path / PROGRESS).write_text("{half")
    assert records.read(tmp_path, FolderProgress) is None  # unreadable: as if missing


def test_a_dead_pid_reads_as_not_running_and_the_job_as_ended(tmp_path):
    gone = dead_pid()
    assert not process.alive(gone) and not process.alive(None)
    assert process.alive(os.getpid())
    records.write(tmp_path, FolderProgress(state="running", pid=gone, done=4, total=6))
    seen = records.status(tmp_path, FolderProgress)
    assert not seen.running and seen.state == "stopped" and seen.done == 4  # a start resumes it
    records.write(tmp_path, FolderProgress(state="starting", pid=os.getpid()))
    assert records.status(tmp_path, FolderProgress).running
    # An outcome stays as it is; a training run whose worker vanished reads "killed".
    assert records.status(tmp_path / "none", FolderProgress) is None
    assert FolderProgress(state="done", pid=gone).seen(False).state == "done"
    killed = TrainingProgress(state="running", pid=gone).seen(False)
    assert killed.state == "killed" and "ended without finishing" in killed.message


def test_a_stop_request_is_written_read_and_cleared(tmp_path):
    assert process.stop_request(tmp_path) is None
    process.request_stop(tmp_path, keep=False)
    assert process.stop_request(tmp_path) == "discard"
    process.request_stop(tmp_path)
    assert process.stop_request(tmp_path) == "keep"
    process.clear_stop(tmp_path)
    assert process.stop_request(tmp_path) is None
