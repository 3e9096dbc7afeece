"""Colouring and blending: at the photo's own size, exact at the ends of alpha.

Colouring and I/O are kept apart.
"""

import numpy as np
import pytest

from core.explain.overlay import blend, colorize, overlay, upsample


def test_overlay_is_at_the_photos_resolution_and_alpha_ends_are_exact():
    photo = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    heatmap = np.array([[0.0, 1.0], [0.5, 0.25]])
    colored = colorize(heatmap, 30, 50)
    assert colored.shape == (30, 50, 3) and colored.dtype == np.uint8
    np.testing.assert_array_equal(blend(photo, colored, 0.0), photo)
    np.testing.assert_array_equal(blend(photo, colored, 1.0), colored)
    half = blend(photo, colored, 0.5).astype(int)
    assert np.abs(half - (photo.astype(int) + colored) / 2).max() <= 1
    assert overlay(photo, heatmap, 0.3).shape == photo.shape


def test_jet_runs_from_blue_to_red():
    colored = colorize(np.array([[0.0, 1.0]]), 1, 2, "jet")
    cold, hot = colored[0, 0], colored[0, 1]
    assert cold[2] > 100 and cold[0] == 0 and hot[0] > 100 and hot[2] == 0


def test_upsample_keeps_the_range_and_nearest_shows_the_grid():
    heatmap = np.array([[0.0, 1.0], [1.0, 0.0]])
    smooth = upsample(heatmap, 224, 224)
    assert smooth.shape == (224, 224) and smooth.min() >= 0 and smooth.max() <= 1
    blocky = upsample(heatmap, 4, 4, smooth=False)
    np.testing.assert_array_equal(blocky, [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]])


def test_bad_arguments_are_refused():
    photo = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="alpha"):
        blend(photo, photo, 1.5)
    with pytest.raises(ValueError, match="differ in size"):
        blend(photo, np.zeros((5, 4, 3), np.uint8), 0.5)
    with pytest.raises(ValueError, match="Unknown colormap"):
        colorize(np.zeros((2, 2)), 4, 4, "no-such-map")
