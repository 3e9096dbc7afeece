"""The disk does not only grow: pruning, deleting, the free-space floor, a full disk mid-write."""

import errno
import io
import os
import zipfile
from pathlib import Path

import pytest

from core import space
from core.atomic import write_json
from core.config import Config
from core.data import uploads
from core.errors import StorageError, UserError
from core.training import files, jobs, lease, store
from core.training.progress import RunMonitor
from core.training.recipe import TrainConfig
from core.workers.records import PROGRESS
from tests.support.models import tiny_model
from tests.support.photos import make_pets
from tests.support.runs import FAST

MB = space.MB


def low_disk(monkeypatch, free: int = 10 * MB) -> None:
    """Every caller asks `space.free_bytes`: this one says only `free` bytes are left."""
    monkeypatch.setattr(space, "free_bytes", lambda path: free)


def make_run(weights: Path, name: str, state: str = "done", model: bool = False) -> Path:
    folder = weights / store.RUNS / name
    folder.mkdir(parents=True)
    write_json(folder / PROGRESS, {"state": state})
    (folder / "watch.npy").write_bytes(b"\0" * 1000)
    if model:
        (folder / "model.keras").write_bytes(b"model")
    return folder


def point_current(weights: Path, name: str) -> None:
    (weights / "current").symlink_to(Path(store.RUNS) / name)


# The floor ---------------------------------------------------------------------------------------


def test_the_floor_refuses_with_one_sentence_and_no_server_path(monkeypatch, tmp_path):
    low_disk(monkeypatch, 300 * MB)
    with pytest.raises(StorageError) as refused:
        space.require_free(tmp_path / "not" / "there", "a new run", floor_mb=1024)
    text = str(refused.value)
    assert text.startswith("Not enough free disk space for a new run: 300 MB free")
    assert "\n" not in text and str(tmp_path) not in text
    space.require_free(tmp_path, "a new run", floor_mb=200)  # 300 MB free, 200 to keep: fine
    with pytest.raises(StorageError, match="150 MB for it"):
        space.require_free(tmp_path, "a new dataset", floor_mb=200, needed=150 * MB)
    space.require_free(tmp_path, "a new run", floor_mb=0)  # no floor at all


def test_the_floor_is_a_setting_with_a_sensible_default(monkeypatch):
    monkeypatch.delenv("CATDOG_MIN_FREE_MB", raising=False)
    monkeypatch.delenv("CATDOG_KEEP_RUNS", raising=False)
    assert Config().min_free_mb == 1024 and Config().keep_runs == 5
    monkeypatch.setenv("CATDOG_MIN_FREE_MB", "50")
    monkeypatch.setenv("CATDOG_KEEP_RUNS", "2")
    assert Config().min_free_mb == 50 and Config().keep_runs == 2
    monkeypatch.setenv("CATDOG_KEEP_RUNS", "two")
    with pytest.raises(ValueError, match="CATDOG_KEEP_RUNS must be a whole number"):
        Config()


def test_real_free_space_and_folder_sizes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"x" * 1000)
    (tmp_path / "a" / "b" / "two").write_bytes(b"x" * 24)
    (tmp_path / "link").symlink_to(tmp_path / "a")  # not followed: counted once
    assert space.folder_bytes(tmp_path) == (1024, True)
    assert space.folder_bytes(tmp_path, max_entries=2)[1] is False
    assert space.folder_bytes(tmp_path / "gone") == (0, True)
    assert 0 < space.free_bytes(tmp_path / "not" / "yet") == space.free_bytes(tmp_path)


def test_usage_names_both_folders_and_the_free_space(monkeypatch, tmp_path):
    weights, data = tmp_path / "weights", tmp_path / "data"
    make_run(weights, "r1")
    (data / "inner").mkdir(parents=True)
    (data / "inner" / "photo.jpg").write_bytes(b"x" * 2 * MB)
    low_disk(monkeypatch, 500 * MB)
    config = Config(weights_dir=weights, data_dir=data, extra_data_roots=(data / "inner",))
    usage = space.usage(config)
    assert usage.data == 2 * MB  # the inner root is counted once
    assert usage.low and usage.free == 500 * MB
    text = usage.sentence()
    assert "datasets 2 MB" in text and "500 MB free" in text and str(tmp_path) not in text


# Pruning -----------------------------------------------------------------------------------------


def test_prune_keeps_the_last_runs_of_any_outcome_the_current_the_running_and_outside(tmp_path):
    weights = tmp_path / "weights"
    oldest_in_use = make_run(weights, "20250101-000000", model=True)
    running = make_run(weights, "20250101-000001", state="running")
    for i, state in enumerate(["failed", "stopped", "stopped", "done", "failed", "stopped"]):
        make_run(weights, f"20250102-00000{i}", state=state)
    point_current(weights, oldest_in_use.name)
    lease.acquire_lock(weights, running)  # this process holds it: the run is in progress
    imported = weights / "imported" / "theirs.keras"
    imported.parent.mkdir()
    imported.write_bytes(b"a model a person brought")
    (weights / "model.keras").write_bytes(b"copied in by hand")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (weights / store.RUNS / "a-link").symlink_to(outside)
    try:
        removed = store.prune(weights, keep=3)
    finally:
        lease.release_lock(weights)
    assert removed == ["20250102-000002", "20250102-000001", "20250102-000000"]
    left = sorted(p.name for p in (weights / store.RUNS).iterdir())
    assert left == [
        "20250101-000000", "20250101-000001", "20250102-000003", "20250102-000004",
        "20250102-000005", "a-link",
    ]  # fmt: skip
    assert imported.is_file() and (weights / "model.keras").is_file() and outside.is_dir()
    assert (weights / "current" / "model.keras").is_file()


def test_publish_prunes_to_the_setting(monkeypatch, tmp_path):
    weights = tmp_path / "weights"
    monkeypatch.setenv("CATDOG_KEEP_RUNS", "2")
    for i in range(4):
        make_run(weights, f"2025010{i}-000000", state="stopped")
    newest = make_run(weights, "20250105-000000", model=True)
    store.publish(newest, weights)
    assert [p.name for p in store.run_folders(weights)] == ["20250105-000000", "20250103-000000"]


@pytest.mark.slow
def test_a_stopped_and_a_failed_run_prune_the_old_ones_and_keep_the_model(
    generated_pets, tmp_path, monkeypatch
):
    weights = tmp_path / "weights"
    monkeypatch.setenv("CATDOG_KEEP_RUNS", "2")
    jobs.run(generated_pets, weights, FAST, build=tiny_model)
    in_use = (weights / "current").resolve()
    for i in range(3):
        make_run(weights, f"20000101-00000{i}", state="failed")  # older runs, of any outcome
    low_disk(monkeypatch)  # the next run stops itself at once
    state = jobs.run(generated_pets, weights, FAST, build=tiny_model)
    assert state.state == "stopped" and state.message.startswith("Stopped: the disk's free")
    stopped = Path(state.run_dir).name
    assert [p.name for p in store.run_folders(weights)] == [stopped, in_use.name]
    assert (weights / "current").resolve() == in_use

    monkeypatch.undo()
    monkeypatch.setenv("CATDOG_KEEP_RUNS", "1")
    with pytest.raises(UserError):
        jobs.run(generated_pets / "missing", weights, FAST, build=tiny_model)
    # The failed run is the newest; the stopped one goes; the one in use stays on top.
    names = [p.name for p in store.run_folders(weights)]
    assert len(names) == 2 and names[1] == in_use.name and stopped not in names


# Deleting a run ----------------------------------------------------------------------------------


def test_a_finished_run_can_be_deleted_never_the_current_or_the_running_one(tmp_path):
    weights = tmp_path / "weights"
    make_run(weights, "r-current", model=True)
    running = make_run(weights, "r-running", state="running")
    make_run(weights, "r-old", state="failed")
    point_current(weights, "r-current")
    lease.acquire_lock(weights, running)
    try:
        entries = {entry.name: entry for entry in store.run_entries(weights)}
        assert {name for name, e in entries.items() if e.deletable} == {"r-old"}
        assert entries["r-old"].state == "failed" and entries["r-old"].size > 1000
        with pytest.raises(store.RunError, match="^Run r-current holds the model in use"):
            store.delete_run(weights, "r-current")
        with pytest.raises(store.RunError, match="^Run r-running is in progress"):
            store.delete_run(weights, "r-running")
        with pytest.raises(store.RunError, match="no run '../weights'"):
            store.delete_run(weights, "../weights")
        store.delete_run(weights, "r-old")
    finally:
        lease.release_lock(weights)
    assert sorted(p.name for p in (weights / store.RUNS).iterdir()) == ["r-current", "r-running"]
    assert store.run_entries(weights)[0].state == "killed"  # no lease: its process is gone


# Deleting a dataset ------------------------------------------------------------------------------


def test_only_an_offered_dataset_below_a_root_is_deleted_never_one_a_run_reads(tmp_path):
    generated_pets = make_pets(tmp_path / "data" / "pets", n_train=2, n_validation=1)
    roots = (generated_pets.parent,)
    # Data the app did not make (someone's folder under a data root) is never deleted...
    assert not uploads.deletable(generated_pets, roots)
    with pytest.raises(uploads.DatasetError, match="^data/pets was not made by this app"):
        uploads.delete_dataset(generated_pets, roots)
    assert (generated_pets / "train").is_dir()
    uploads.mark_made_here(generated_pets, "upload")  # ...as one it made is
    other = tmp_path / "other"
    (other / "train" / "cats").mkdir(parents=True)
    with pytest.raises(uploads.DatasetError, match="not a dataset this page can delete"):
        uploads.delete_dataset(other, roots)  # outside the roots
    root_dataset = tmp_path / "root"
    (root_dataset / "train" / "cats").mkdir(parents=True)
    with pytest.raises(uploads.DatasetError, match="^root is not a dataset"):
        uploads.delete_dataset(root_dataset, (root_dataset,))  # a data root itself

    weights = tmp_path / "weights"
    run_dir = make_run(weights, "r1", state="running")
    write_json(run_dir / files.SETTINGS, {"data": str(generated_pets)})
    lease.acquire_lock(weights, run_dir)
    try:
        reading = store.running_data(weights)
        with pytest.raises(uploads.DatasetError) as refused:
            uploads.delete_dataset(generated_pets, roots, reading)
    finally:
        lease.release_lock(weights)
    assert str(refused.value) == (
        f"{roots[0].name}/pets is being read by the run in progress: stop it or wait for it."
    )
    assert store.running_data(weights) is None
    assert uploads.delete_dataset(generated_pets, roots) == f"{roots[0].name}/pets"
    assert not generated_pets.exists() and not list(roots[0].glob(".deleting-*"))


# Uploads and runs refused on a low disk ----------------------------------------------------------


def a_photo(shade: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, shade)).save(buffer, "PNG")
    return buffer.getvalue()


def photos(n: int = 3) -> dict:
    """n different photos per class (a repeated photo would be skipped as a duplicate)."""
    return {
        label: [(f"{i}.png", a_photo(10 * i + 100 * k)) for i in range(n)]
        for k, label in enumerate(("cats", "dogs"))
    }


def test_an_upload_below_the_floor_is_refused_before_writing(monkeypatch, tmp_path):
    low_disk(monkeypatch)
    with pytest.raises(StorageError, match="^Not enough free disk space for a new dataset"):
        uploads.from_photos(tmp_path / "data", "mine", photos())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for label in ("cats", "dogs"):
            z.writestr(f"train/{label}/a.png", a_photo())
    with pytest.raises(StorageError, match="^Not enough free disk space for a new dataset"):
        uploads.from_zip(tmp_path / "data", "mine", archive.getvalue())
    assert not (tmp_path / "data").exists()


def test_a_disk_that_fills_during_an_upload_leaves_no_partial_dataset(monkeypatch, tmp_path):
    root, written = tmp_path / "data", []
    real_write = Path.write_bytes

    def fill_after_two(self, data):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(self)
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", fill_after_two)
    with pytest.raises(StorageError) as full:
        uploads.from_photos(root, "mine", photos())
    assert str(full.value) == (
        "The disk is full while saving the new dataset: free some space and try again."
    )
    assert len(written) == 2 and list(root.iterdir()) == []  # no dataset, no hidden leftover


def test_a_new_run_below_the_floor_is_refused_before_any_folder_or_lease(
    monkeypatch, tmp_path, generated_pets
):
    weights = tmp_path / "weights"
    low_disk(monkeypatch)
    config = TrainConfig(backbone_weights="none")
    for attempt in (
        lambda: jobs.train(generated_pets, weights, config),
        lambda: jobs.start(generated_pets, weights, config, (generated_pets.parent,)),
    ):
        with pytest.raises(StorageError, match="^Not enough free disk space for a new run"):
            attempt()
        assert store.run_folders(weights) == [] and lease.lock_holder(weights) is None


# A run that crosses the floor --------------------------------------------------------------------


def test_the_monitor_stops_a_run_when_the_disk_falls_below_the_floor(monkeypatch, tmp_path):
    monitor = RunMonitor(tmp_path, floor_mb=100)
    low_disk(monkeypatch, 500 * MB)
    assert monitor.stop_requested() is None
    low_disk(monkeypatch, 50 * MB)
    assert monitor.stop_requested() is None  # looked at again only every few seconds
    monitor._space_checked = 0.0
    assert monitor.stop_requested() == "discard"
    assert monitor.stop_reason == (
        "Stopped: the disk's free space fell below 100 MB, so the run was discarded and the "
        "previous model stays in use."
    )
    low_disk(monkeypatch, 500 * MB)
    assert monitor.stop_requested() == "discard"  # a stop is not taken back
