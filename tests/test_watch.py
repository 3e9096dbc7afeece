"""Watch it learn: the fixed photos' maps after each epoch are Grad-CAM's own, and are kept."""

import keras
import numpy as np
import pytest

from core.cams import GradCAM
from core.models.build import LOGIT
from core.models.graph import LAST_STAGE
from core.training import jobs, watch
from core.training.recipe import TrainConfig
from tests.support.models import tiny_model
from tests.support.photos import make_pets


def batchnorm_classifier() -> keras.Model:
    """The tiny model's shape with BatchNorm holding real (non-trivial) moving statistics."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name=LOGIT)(x))
    bn = model.get_layer("bn")
    bn.set_weights([np.full(4, 2.0), np.full(4, 0.5), np.full(4, 30.0), np.full(4, 400.0)])
    return model


def photos(tmp_path, n_train=2, n_validation=2, size=8):
    root = make_pets(tmp_path / "pets", n_train, n_validation, size)
    validation = sorted((root / "validation").rglob("*.png"))
    labels = [int(p.parent.name == "dogs") for p in validation]
    return watch.pick(validation, labels, seed=3)


@pytest.mark.parametrize("build", [tiny_model, batchnorm_classifier])
def test_head_epoch_maps_are_grad_cam_exactly(tmp_path, build):
    model = build()
    watcher = watch.Watch(tmp_path, photos(tmp_path), model)
    assert [label for _, label in watcher.photos] == [0, 0, 1, 1]  # two per class
    kernel = np.random.default_rng(0).normal(size=(6, 1))
    model.get_layer(LOGIT).set_weights([kernel, np.array([0.7])])  # as the head hands it back
    expected = GradCAM(model, ["conv_b"])(watcher.inputs, watcher.classes).maps["conv_b"]
    np.testing.assert_allclose(watcher.head_maps(kernel), expected, rtol=1e-4, atol=1e-6)


def test_head_epoch_maps_are_grad_cam_exactly_for_three_classes(tmp_path):
    model = tiny_model(classes=3)
    root = make_pets(tmp_path / "pets", 2, 2, 8, classes=3)
    validation = sorted((root / "validation").rglob("*.png"))
    names = sorted(folder.name for folder in (root / "validation").iterdir())
    labels = [names.index(path.parent.name) for path in validation]
    watcher = watch.Watch(tmp_path, watch.pick(validation, labels, seed=3), model)
    assert [label for _, label in watcher.photos] == [0, 0, 1, 2]  # four spread over three
    kernel = np.random.default_rng(0).normal(size=(6, 3))
    model.get_layer(LOGIT).set_weights([kernel, np.array([0.7, -0.2, 0.1])])
    expected = GradCAM(model, ["conv_b"])(watcher.inputs, watcher.classes).maps["conv_b"]
    ours = watcher.head_maps(kernel)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
    # Each photo by its own class's logit: not the same map as another class's.
    other = watcher.head_maps(np.roll(kernel, 1, axis=1))
    assert not np.allclose(ours, other)


def test_pick_takes_one_photo_of_each_of_four_classes_chosen_by_the_seed():
    paths = [f"/v/{label:02d}/{i}.png" for label in range(37) for i in range(3)]
    labels = [label for label in range(37) for _ in range(3)]
    picks = {seed: watch.pick(paths, labels, seed=seed) for seed in range(5)}
    for chosen in picks.values():
        classes = [label for _, label in chosen]
        assert len(classes) == 4 and classes == sorted(set(classes))
        assert all(path.startswith(f"/v/{label:02d}/") for path, label in chosen)
    assert len({tuple(label for _, label in chosen) for chosen in picks.values()}) > 1
    assert watch.pick(paths, labels, seed=2) == picks[2]  # the seed decides, nothing else
    # Two classes: two photos of each, as before K classes.
    assert [label for _, label in watch.pick(paths[:6], labels[:6], seed=1)] == [0, 0, 1, 1]


@pytest.mark.resnet
def test_head_epoch_maps_are_grad_cam_on_resnet50(tmp_path, resnet50):
    model = resnet50
    watcher = watch.Watch(tmp_path, photos(tmp_path, size=64), model)
    kernel = np.random.default_rng(1).normal(size=(2048, 1)) / 10
    head = model.get_layer(LOGIT)
    before = head.get_weights()
    head.set_weights([kernel, np.zeros(1)])
    try:
        expected = GradCAM(model, [LAST_STAGE])(watcher.inputs, watcher.classes).maps[LAST_STAGE]
    finally:
        head.set_weights(before)  # the session's model, as it was
    ours = watcher.head_maps(kernel)
    assert ours.shape == (4, 7, 7) and np.isfinite(ours).all()
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-5 * np.abs(expected).max())


@pytest.mark.slow
def test_a_run_keeps_the_maps_of_every_epoch_of_both_phases(generated_pets, tmp_path):
    config = TrainConfig(epochs=3, patience=10, fine_tune_epochs=2, fine_tune_from="conv_b")
    state = jobs.run(generated_pets, tmp_path / "weights", config, build=tiny_model)
    record, maps = watch.read(state.run_dir)
    assert [(e["phase"], e["epoch"]) for e in record["epochs"]] == [
        ("head", 1),
        ("head", 2),
        ("head", 3),
        ("fine-tune", 1),
        ("fine-tune", 2),
    ]
    assert maps.shape == (5, 4, 4, 4) and np.isfinite(maps).all() and record["layer"] == "conv_b"
    assert {label for _, label in record["photos"]} == {0, 1}
    assert "val_loss" in record["epochs"][0]
    assert not np.allclose(maps[0], maps[2])  # the head learns, and where it looks moves


def test_a_full_disk_stops_the_watching_not_the_run(tmp_path, monkeypatch):
    import errno

    watcher = watch.Watch(tmp_path, photos(tmp_path), tiny_model())
    watcher.set_model(tiny_model())  # a model with the watched layer: the GradCAM path
    watcher.on_epoch_end(0, {"loss": 1.0})
    assert watch.read(tmp_path)[1].shape[0] == 1

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(watch.np, "save", full)
    watcher.on_epoch_end(1, {"loss": 0.5})  # no exception: the run goes on
    assert watcher.stopped and watch.read(tmp_path) is None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".watch")]
