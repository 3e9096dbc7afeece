"""Tiny Keras models built in code, real photos read in place, no downloads."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from core.config import ROOT, Config  # noqa: E402
from core.models.build import head_units
from core.models.info import ModelInfo, file_sha256, save_classifier
from core.models.load import app_model_path, load_default
from core.models.preprocessing import CaffePreprocess
from core.training import jobs  # noqa: E402
from core.training.recipe import TrainConfig  # noqa: E402

PETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets"
TINY_SIZE = 8
RESNET_SEED = 0  # the random ResNet-50's weights (no ImageNet download here)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The long tests (ResNet-50, Chromium, slow) first, so no worker ends alone with one."""
    long_marks = ("resnet", "browser", "slow")
    items.sort(key=lambda item: not any(item.get_closest_marker(m) for m in long_marks))


def tiny_model(seed: int = 0, dropout: float = 0.5, classes: int = 2) -> keras.Model:
    """8x8x3 in, two named convs (8x8 and 4x4), pooling, dropout, a logit head; seeded.

    Two classes: one logit, as the app builds it; K > 2: K logits.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3), name="image")
    x = CaffePreprocess(name="preprocess")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)  # inference mode must switch it off
    logit = keras.layers.Dense(head_units(classes), name="logit")(x)
    return keras.Model(inputs, logit, name="tiny")


@pytest.fixture
def tiny() -> keras.Model:
    return tiny_model()


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """A weights/ folder holding the tiny model as model.keras with its sidecar."""
    folder = tmp_path / "weights"
    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        folder / "model.keras",
    )
    return folder


@pytest.fixture
def pets() -> Path:
    if not (PETS / "validation").is_dir():
        pytest.skip(f"real photos not found at {PETS} (shared development set absent)")
    return PETS


@pytest.fixture
def photos() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, size, dtype=np.uint8) for size in [(8, 8, 3), (30, 20, 3), (5, 9, 3)]
    ]


# Generated pets: bluish-dark "cats", reddish-bright "dogs" (separable), with seeded noise.
COLOURS = {"cats": (40, 60, 160), "dogs": (200, 90, 40)}


def class_names(k: int) -> tuple[str, ...]:
    """K generated class folders: cats and dogs first, then birds, then class_03, class_04, ..."""
    return ("cats", "dogs", "birds", *(f"class_{i:02d}" for i in range(3, k)))[:k]


def colour(label: str) -> tuple[int, int, int]:
    """A class's colour: COLOURS' for cats and dogs, else a seeded one of its own per name."""
    if label in COLOURS:
        return COLOURS[label]
    seed = int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
    return tuple(int(c) for c in np.random.default_rng(seed).integers(0, 256, 3))


def pet_pixels(label: str, rng: np.random.Generator, size: int) -> np.ndarray:
    noise = rng.integers(-30, 30, (size, size, 3))
    return np.clip(np.array(colour(label)) + noise, 0, 255).astype(np.uint8)


def jpeg_bytes(label: str, seed: int, size: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pet_pixels(label, np.random.default_rng(seed), size)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_pets(
    root: Path,
    n_train: int = 12,
    n_validation: int = 4,
    size: int = 24,
    seed: int = 0,
    classes: int = 2,
) -> Path:
    """A Kaggle-layout folder of generated PNGs, one colour per class (`class_names(classes)`)."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("validation", n_validation)):
        for name in class_names(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(pet_pixels(name, rng, size)).save(
                    folder / f"{name[:-1]}_{i:03d}.png"
                )
    return root


@pytest.fixture
def generated_pets(tmp_path) -> Path:
    return make_pets(tmp_path / "pets")


# The square of evidence in make_located_pets: its colour is the class.
SQUARES = {"cats": (40, 60, 200), "dogs": (210, 70, 40)}


def make_located_pets(
    root: Path,
    n_train: int = 24,
    n_validation: int = 12,
    size: int = 224,
    seed: int = 0,
    squares: dict | None = None,
) -> Path:
    """Kaggle layout plus Oxford-style trimaps: grey noise, one square of evidence per photo.

    The square lies at a random place, its colour the class's (`squares`, name -> RGB; default
    bluish "cats" and reddish "dogs"). annotations/trimaps/<stem>.png marks the square 1 and the
    rest 2.
    """
    rng = np.random.default_rng(seed)
    side = size // 4
    trimaps = root / "annotations" / "trimaps"
    trimaps.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", n_train), ("validation", n_validation)):
        for name, colour in (squares or SQUARES).items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(60, 190, (size, size, 3)).astype(np.uint8)
                top, left = rng.integers(0, size - side, 2)
                pixels[top : top + side, left : left + side] = colour
                trimap = np.full((size, size), 2, np.uint8)
                trimap[top : top + side, left : left + side] = 1
                stem = f"{split}_{name[:-1]}_{i:03d}"
                Image.fromarray(pixels).save(folder / f"{stem}.png")
                Image.fromarray(trimap).save(trimaps / f"{stem}.png")
    return root


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A loopback HTTP server for `folder`'s files (with Content-Length); yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def tar_of(path: Path, files: dict[str, bytes]) -> Path:
    """A .tar.gz at `path` holding `files` (name -> bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def pets_archives(folder: Path, per_class: int = 8, size: int = 48) -> str:
    """Generated images.tar.gz and annotations.tar.gz in `folder`, named as Oxford-IIIT Pet's.

    Cat breeds are capitalised, as there. Returns their MD5s as CATDOG_PETS_MD5 takes them.
    """

    folder.mkdir(parents=True, exist_ok=True)
    files = {f"images/Bengal_{i}.jpg": jpeg_bytes("cats", i, size) for i in range(per_class)}
    files |= {
        f"images/beagle_{i}.jpg": jpeg_bytes("dogs", 100 + i, size) for i in range(per_class)
    }
    images = tar_of(folder / "images.tar.gz", files)
    annotations = tar_of(folder / "annotations.tar.gz", {"annotations/trimaps/Bengal_0.png": b""})
    return ",".join(hashlib.md5(p.read_bytes()).hexdigest() for p in (images, annotations))


# Shared by several test modules -----------------------------------------------------------------


def reference_map(cam_class, model, score, images, layer: str, **options) -> np.ndarray:
    """tf-keras-vis's map for `score` at `layer`, raw and signed like ours.

    Not resized, not normalised, no ReLU: what a CAM computes, before any display step.
    """
    return cam_class(model, clone=True)(
        score,
        images,
        penultimate_layer=layer,
        expand_cam=False,
        normalize_cam=False,
        activation_modifier=None,
        **options,
    )


def golden_model() -> keras.Model:
    """4x4x1 input -> two all-ones 3x3 filters -> channel-first flatten -> +-1 dense.

    The filters' biases are -50 and -75, followed by ReLU.
    """
    inputs = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(2, 3, activation="relu", name="conv")
    x = conv(inputs)
    # (2, 2, 2) channel-first, so the dense weights read per channel
    x = keras.layers.Permute((3, 1, 2))(x)
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(1, use_bias=False)
    logit = dense(x)
    conv.set_weights([np.ones((3, 3, 1, 2)), np.array([-50.0, -75.0])])
    dense.set_weights([np.array([[1, 1, 1, -1, 1, -1, -1, -1]], dtype=np.float32).T])
    return keras.Model(inputs, logit)


def png_bytes(seed=0, size=(40, 30)) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


# A tiny model's training run: fast, and certain to separate generated_pets.
FAST = TrainConfig(
    epochs=40, learning_rate=0.05, patience=40, backbone_weights="none", strategy="default"
)

# A run that goes on until killed (tests of kill -9 and of a full disk start it as a process).
SLOW_RUN = """
import sys
from core.training import jobs
from core.training.store import new_run_dir
from core.training.recipe import TrainConfig
from tests.conftest import tiny_model
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
        latest = jobs.latest_run(weights) or {}
        if latest.get("state") == "running" and latest.get("phase") == "head":
            break
        time.sleep(0.05)
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


@pytest.fixture(scope="session")
def resnet50() -> keras.Model:
    """The app's ResNet-50 classifier with random weights, built once per session.

    Tests that change its weights put them back. Seeded: the same weights every session, so a
    figure measured on them (the guided sanity verdicts) is the same on every run.
    """
    from core.models.build import build_classifier

    keras.utils.set_random_seed(RESNET_SEED)
    return build_classifier("none")


@pytest.fixture(scope="session")
def resnet50_weights(resnet50, tmp_path_factory) -> Path:
    """A weights/ folder holding that ResNet-50 as model.keras with its sidecar."""
    folder = tmp_path_factory.mktemp("resnet") / "weights"
    save_classifier(resnet50, ModelInfo(backbone_weights="none"), folder / "model.keras")
    return folder
