"""Training: learns, cached = uncached, stops cleanly, one run at a time, never loses a model."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from core.atomic import read_json
from core.config import ROOT, Config
from core.data.folders import image_dataset, scan
from core.models.info import file_sha256
from core.models.load import app_model_path, load_default
from core.training import jobs, lease
from core.training import run as steps
from core.training.recipe import (
    TrainConfig,
    extract_features,
    train_head_cached,
    train_head_uncached,
)
from core.workers.process import request_stop
from core.workers.records import PROGRESS
from tests.support.models import tiny_model
from tests.support.photos import make_pets
from tests.support.runs import FAST, SLOW_RUN


@pytest.mark.slow
def test_tiny_model_learns_separable_data(generated_pets, tmp_path):
    weights = tmp_path / "weights"
    state = jobs.run(generated_pets, weights, FAST, build=tiny_model)
    assert state.state == "done" and state.report["accuracy"] == 1.0
    assert state.report["confusion"] == [[4, 0], [0, 4]] and state.report["misclassified"] == []
    classifier = load_default(Config(weights_dir=weights))
    assert classifier.info.class_names == ("cat", "dog") and classifier.info.val_accuracy == 1.0
    assert (weights / "current").resolve() == Path(state.run_dir).resolve()
    history = state.history["head"]
    assert history["loss"][-1] < history["loss"][0] and len(history["val_loss"]) == 40


def test_cached_and_uncached_head_training_agree(generated_pets):
    data = scan(generated_pets)
    config = TrainConfig(epochs=2, learning_rate=0.01)
    cached, uncached = tiny_model(seed=5, dropout=0.0), tiny_model(seed=5, dropout=0.0)
    features, _ = extract_features(cached, data.train, 16, flips=False)
    images = np.concatenate([x.numpy() for x, _ in image_dataset(data.train, 8, 16)])
    backbone = keras.Model(uncached.input, uncached.get_layer("avg_pool").output)
    np.testing.assert_allclose(features, backbone.predict(images, verbose=0), rtol=1e-5, atol=1e-5)
    train_head_cached(cached, data, config, flips=False, shuffle=False)
    train_head_uncached(uncached, data, config, augment=False)
    for a, b in zip(
        cached.get_layer("logit").get_weights(), uncached.get_layer("logit").get_weights()
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(
        cached.get_layer("logit").get_weights()[0],
        tiny_model(seed=5).get_layer("logit").get_weights()[0],
    )


@pytest.mark.parametrize("keep", [True, False])
def test_stop_request_keeps_or_discards(generated_pets, tmp_path, keep):
    weights = tmp_path / "weights"
    run_dir = weights / "runs" / "r1"
    run_dir.mkdir(parents=True)

    def stop_after_three_epochs():
        while True:
            progress = read_json(run_dir / PROGRESS) or {}
            if len(progress.get("history", {}).get("head", {}).get("val_loss", [])) >= 3:
                return request_stop(run_dir, keep)
            time.sleep(0.01)

    stopper = threading.Thread(target=stop_after_three_epochs, daemon=True)
    stopper.start()
    state = jobs.run(
        generated_pets,
        weights,
        TrainConfig(epochs=10_000, patience=10_000, strategy="default"),
        build=tiny_model,
        run_dir=run_dir,
    )
    epochs_run = len(state.history["head"]["val_loss"])
    assert 3 <= epochs_run < 10_000
    if keep:
        assert state.state == "done" and "Stopped early" in state.message
        assert (weights / "current").resolve() == run_dir.resolve()
    else:
        assert state.state == "stopped" and not (weights / "current").exists()


@pytest.mark.slow
def test_full_disk_fails_the_run_not_the_model(generated_pets, tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    jobs.run(generated_pets, weights, FAST, build=tiny_model)
    before = app_model_path(Config(weights_dir=weights))
    digest = file_sha256(before)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # The run's "save and publish" step, in core/training/run.py.
    monkeypatch.setattr(steps, "save_classifier", disk_full)
    with pytest.raises(OSError):
        jobs.run(generated_pets, weights, FAST, build=tiny_model)
    assert app_model_path(Config(weights_dir=weights)) == before and file_sha256(before) == digest
    latest = jobs.latest_run(weights)
    assert latest.state == "failed" and "disk is full" in latest.message


@pytest.mark.slow
def test_lock_refuses_a_second_run_and_reclaims_a_stale_one(tmp_path, generated_pets):
    weights = tmp_path / "weights"
    jobs.acquire_lock(weights, weights / "runs" / "a")
    with pytest.raises(lease.Busy, match="already in progress \\(since"):
        jobs.acquire_lock(weights, weights / "runs" / "b")
    code = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "train",
            "--data",
            str(generated_pets),
            "--out",
            str(weights),
            "--backbone-weights",
            "none",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert code.returncode == 2 and "already in progress" in code.stderr
    jobs.release_lock(weights)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    jobs.acquire_lock(weights, weights / "runs" / "c", pid=dead.pid)
    assert jobs.lock_holder(weights) is None  # its process is gone: stale, removed
    jobs.acquire_lock(weights, weights / "runs" / "d")


@pytest.mark.slow
def test_kill_9_mid_epoch_leaves_the_previous_model_loadable(generated_pets, tmp_path):
    weights = tmp_path / "weights"
    jobs.run(generated_pets, weights, FAST, build=tiny_model)
    previous = app_model_path(Config(weights_dir=weights))
    digest = file_sha256(previous)
    for delay in (0.0, 0.3, 1.0):  # wherever the head phase is once it has started, plus a little
        process = subprocess.Popen(
            [sys.executable, "-c", SLOW_RUN, str(generated_pets), str(weights)], cwd=ROOT
        )
        deadline = time.time() + 120
        while time.time() < deadline and not _in_head_phase(weights):
            time.sleep(0.05)
        assert _in_head_phase(weights)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        after = app_model_path(Config(weights_dir=weights))
        assert after == previous and file_sha256(previous) == digest
        assert load_default(Config(weights_dir=weights)).info.val_accuracy == 1.0
        assert jobs.latest_run(weights).state == "killed"


def _in_head_phase(weights: Path) -> bool:
    latest = jobs.latest_run(weights)
    return bool(latest and latest.state == "running" and latest.phase == "head")


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from core.training import jobs
from core.training.recipe import TrainConfig, make_strategy
from tests.support.models import tiny_model
replicas = make_strategy("mirrored").num_replicas_in_sync
state = jobs.run(sys.argv[1], sys.argv[2], TrainConfig(epochs=10, learning_rate=0.05, patience=10,
strategy="mirrored"),
                 build=tiny_model)
print(json.dumps({"replicas": replicas, "state": state.state, "accuracy":
state.report["accuracy"],
                  "loss": state.history["head"]["loss"]}))
"""


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_trains(generated_pets, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(generated_pets), str(tmp_path / "w")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["replicas"] == 2 and figures["state"] == "done"
    assert figures["loss"][-1] < figures["loss"][0] and figures["accuracy"] == 1.0


@pytest.mark.resnet
def test_short_real_run_on_pets_lowers_the_training_loss(pets, tmp_path):
    # The whole set is scanned; a run on a fifth of it (a temporary copy, deleted with tmp_path)
    # is enough to see the loss fall, and costs a fifth of the backbone's forward passes.
    assert scan(pets).summary().startswith(
        "cats: 300 train / 100 validation, dogs: 300 train / 100 validation"
    )
    subset = tmp_path / "pets"
    for split, keep in (("train", 60), ("validation", 20)):
        for folder in sorted((pets / split).iterdir()):
            (subset / split / folder.name).mkdir(parents=True)
            for photo in sorted(folder.iterdir())[:keep]:
                shutil.copy(photo, subset / split / folder.name / photo.name)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "train",
            "--data",
            str(subset),
            "--epochs",
            "5",
            "--patience",
            "5",
            "--backbone-weights",
            "none",
            "--out",
            str(tmp_path / "weights"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    state = jobs.latest_run(tmp_path / "weights")
    loss = state.history["head"]["loss"]
    assert state.state == "done" and loss[-1] < loss[0]
    assert state.summary.startswith(
        "cats: 60 train / 20 validation, dogs: 60 train / 20 validation"
    )
    assert load_default(Config(weights_dir=tmp_path / "weights")).info.backbone_weights == "none"


@pytest.mark.slow
def test_the_same_seed_gives_the_same_weights_and_maps(generated_pets, tmp_path):
    from dataclasses import replace

    from core.cams import GradCAM
    from core.models.load import load_classifier

    template = tiny_model()
    build = lambda: keras.models.clone_model(template)  # noqa: E731 - fresh random initial weights on every call
    runs = [
        jobs.run(
            generated_pets, tmp_path / f"w{i}", replace(FAST, epochs=3, seed=seed), build=build
        )
        for i, seed in enumerate((7, 7, 8))
    ]
    models = [load_classifier(Path(run.run_dir) / "model.keras").model for run in runs]
    images = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        GradCAM(models[0], ["conv_b"])(images).maps["conv_b"],
        GradCAM(models[1], ["conv_b"])(images).maps["conv_b"],
    )
    assert not all(
        np.array_equal(a, b) for a, b in zip(models[0].get_weights(), models[2].get_weights())
    )


@pytest.mark.slow
def test_a_page_started_worker_yields_the_cpu_to_the_app(tmp_path, monkeypatch):
    code = (
        "import os, pathlib, tensorflow as tf\nfrom core.workers import "
        "process\nprocess.run_in_background(1)\ngroup = "
        "pathlib.Path('/proc/self/autogroup')\nprint(os.nice(0), "
        "tf.config.threading.get_intra_op_parallelism_threads(), "
        "tf.config.threading.get_inter_op_parallelism_threads(), group.read_text().split()[-1] if "
        "group.exists() else 10)"
    )
    # Its own session, as the worker has.
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
    ).stdout.split()
    assert out == [str(min(os.nice(0) + 10, 19)), "1", "1", "10"]
    launched = {}
    monkeypatch.setattr(
        jobs.subprocess,
        "Popen",
        lambda command, **kwargs: (
            launched.update(kwargs, command=command) or type("Process", (), {"pid": os.getpid()})()
        ),
    )
    settings = TrainConfig(epochs=3, fine_tune_epochs=1, backbone_weights="none", seed=7)
    # A dataset in the Kaggle layout: jobs.start checks it before taking the lease.
    make_pets(tmp_path / "data", 1, 1)
    run_dir = jobs.start(tmp_path / "data", tmp_path / "weights", settings)
    # The settings travel once, as the TrainConfig itself: no argv strings, the worker reads them.
    assert launched["command"] == [sys.executable, "-m", "core.training.worker", str(run_dir)]
    assert launched["start_new_session"] and jobs.lock_holder(tmp_path / "weights")
    written = json.loads((run_dir / jobs.SETTINGS).read_text())
    assert TrainConfig(**written["config"]) == settings
    assert written["data"] == str(tmp_path / "data")
    jobs.release_lock(tmp_path / "weights")


@pytest.mark.slow
def test_progress_only_moves_forward_and_counts_photos(generated_pets, tmp_path, monkeypatch):
    from core.training import progress as monitor_module
    from core.workers import records

    written, real = [], records.write_json
    monkeypatch.setattr(
        records,
        "write_json",
        lambda path, data: written.append(dict(data)) or real(path, data),
    )
    update = monitor_module.RunMonitor.update  # it writes at most every 0.5 s: here, every update
    monkeypatch.setattr(
        monitor_module.RunMonitor,
        "update",
        lambda self, step, force=False: update(self, step, True),
    )
    state = jobs.run(generated_pets, tmp_path / "weights", FAST, build=tiny_model)
    assert state.state == "done"
    fractions = [w["fraction"] for w in written if "fraction" in w]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    features = [
        (w["step"], w["steps"])
        for w in written
        if w.get("phase") == "features" and w["state"] == "running"
    ]
    # 12 + 12 training photos, then 4 + 4 validation photos, one count.
    assert features[-1] == (24 + 8, 24 + 8)
    assert [step for step, _ in features] == sorted(step for step, _ in features)


def test_the_lease_expires_unless_renewed_and_is_reclaimed(tmp_path):
    import socket

    weights = tmp_path / "weights"
    weights.mkdir()
    other_host = {"host": "replica-2.example", "pid": 1, "since": time.time(), "run_dir": None}
    (weights / lease.LOCK).write_text(json.dumps({**other_host, "heartbeat": time.time()}))
    # Another host: its pid means nothing here.
    assert lease.lock_holder(weights)["host"] == "replica-2.example"
    with pytest.raises(lease.Busy):
        lease.acquire_lock(weights, weights / "runs" / "a")
    (weights / lease.LOCK).write_text(
        json.dumps({**other_host, "heartbeat": time.time() - lease.LEASE_SECONDS - 1})
    )
    lease.acquire_lock(weights, weights / "runs" / "b")  # expired: reclaimed
    holder = lease.lock_holder(weights)
    assert holder["host"] == socket.gethostname() and holder["pid"] == os.getpid()
    first = holder["heartbeat"]
    with lease.kept_alive(weights, every=0.05):
        time.sleep(0.3)
    assert lease.lock_holder(weights)["heartbeat"] > first  # renewed while held
    assert lease.lock_holder(weights, lease_seconds=60)  # and so still live
    lease.hand_over(weights, 1)  # handed to another process: this one may no longer renew it
    assert not lease.renew(weights)
    lease.release_lock(weights)
