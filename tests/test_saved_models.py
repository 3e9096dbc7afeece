"""Models saved by earlier versions of this code still load and mean the same (tests/fixtures/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.models.load import load_classifier
from tests.support.models import TINY_SIZE, tiny_model

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_tiny_model_saved_before_the_core_packages_loads_and_predicts_the_same():
    # tiny_v1.keras: tiny_model() saved with save_classifier while core/ was one flat folder.
    classifier = load_classifier(FIXTURES / "tiny_v1.keras")
    assert classifier.info.class_names == ("cat", "dog")
    assert classifier.info.image_size == TINY_SIZE
    inputs = (
        np.random.default_rng(0).uniform(0, 255, (3, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    )
    expected = tiny_model()(inputs, training=False).numpy()
    np.testing.assert_allclose(
        classifier.model(inputs, training=False).numpy(), expected, rtol=1e-5, atol=1e-6
    )
    assert classifier.layers == {"conv_a": (8, 8), "conv_b": (4, 4)}
