"""A weights folder holding every kind of model the catalogue lists (core/models/catalog.py):
two trained runs (the newer one current), a model copied in by hand and an imported three-class
CNN. Zero-shot ImageNet is always offered besides, and fails offline.
"""

from __future__ import annotations

from pathlib import Path

import keras

from core.models.catalog import ZERO_SHOT
from core.models.imported import import_model
from core.models.info import ModelInfo, save_classifier
from core.training.store import publish
from tests.support.models import TINY_SIZE, tiny_model

OLD_RUN, NEW_RUN = "runs/20260101-090000", "runs/20260102-090000"
HAND, FRUIT = "model.keras", "imported/fruit"
KEYS = [NEW_RUN, OLD_RUN, HAND, FRUIT, ZERO_SHOT]


def small_cnn(classes: int = 3) -> keras.Model:
    """A person's own Sequential CNN: other layer names than the tiny model's, `classes` logits."""
    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((TINY_SIZE, TINY_SIZE, 3)),
            keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="features"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(classes, name="scores"),
        ]
    )


def weights_folder(root: Path) -> Path:
    """root/weights: two runs (the newer current), a model copied in, an imported model."""
    weights, dataset = root / "weights", root / "data" / "pets"
    dataset.mkdir(parents=True)
    for seed, stamp, accuracy in ((1, OLD_RUN, 0.8), (2, NEW_RUN, 0.9)):
        info = ModelInfo(
            image_size=TINY_SIZE,
            backbone="tiny",
            backbone_weights="none",
            trained_at=f"2026-01-0{seed} 09:00",
            trained_on=str(dataset),
            val_accuracy=accuracy,
        )
        save_classifier(tiny_model(seed=seed), info, weights / stamp / "model.keras")
    publish(weights / NEW_RUN, weights)
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none")
    save_classifier(tiny_model(seed=3), info, weights / HAND)
    source = root / "mine.keras"
    small_cnn().save(source)
    import_model(source, weights, ["apple", "pear", "plum"], "rescale", name="fruit")
    return weights
