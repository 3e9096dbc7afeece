"""Long work says how long and can stop (#30, item 5): what it counts (core/pace.py), and that
each long action counts as many steps as its bar expects (the bar and Cancel: ui/slots.py, in
Chromium in tests/test_browser_long_work.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.cams.guided import build_guided, layers_to_clone
from core.explain.explainer import Explainer
from core.explain.faithfulness import faithfulness_passes, sanity_steps
from core.models.info import Classifier, ModelInfo
from core.pace import Pace, advance, listening
from tests.support.models import TINY_SIZE, tiny_model


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pace_says_done_so_far_and_left_from_the_pace_so_far():
    clock = Clock()
    pace = Pace(8, clock)
    assert pace.times() == (0.0, None) and pace.line("Explaining", "passes") == (
        "Explaining · 0 of 8 passes · 0 s so far · working out the time left"
    )
    clock.now += 4.0
    pace.add(2)  # 2 s a step: 6 left, 12 s
    assert pace.fraction == 0.25 and pace.times() == (4.0, 12.0)
    assert pace.line("Explaining", "passes") == (
        "Explaining · 2 of 8 passes · 4 s so far · about 12 s left"
    )
    pace.add(9)  # a total that was an estimate: the bar stops at its end
    assert pace.fraction == 1.0 and pace.times() == (4.0, 0.0)
    assert pace.line("x", "passes").startswith("x · 8 of 8 passes")


def test_advance_reaches_the_listener_of_its_own_thread_only():
    heard = []
    advance(5)  # nobody listens: nowhere
    with listening(heard.append):
        advance(2)
        with listening(None):  # a step counted whole mutes what is inside it
            advance(7)
        worker = threading.Thread(target=advance, args=(3,))  # another session's thread
        worker.start()
        worker.join()
        advance(1)
    advance(4)
    assert heard == [2, 1]


@pytest.fixture(scope="module")
def explainer() -> Explainer:
    return Explainer(Classifier(tiny_model(), ModelInfo(image_size=TINY_SIZE)))


def photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (20, 30, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("Grad-CAM", {}),
        ("Score-CAM", {}),
        ("Score-CAM", {"top_n": 3}),
        ("Guided Grad-CAM", {}),
        ("Guided Backprop", {}),
    ],
)
def test_an_explanation_counts_the_passes_it_costs(explainer, method, options):
    heard = []
    with listening(heard.append):
        explainer.explain([photo()], method=method, **options)
    assert sum(heard) == explainer.cost(method, **options)


def test_test_time_augmentation_counts_its_seven_passes_a_photo(explainer):
    heard = []
    with listening(heard.append):
        explainer.explain([photo()], method="Grad-CAM", aug_smooth=True)
    assert sum(heard) == 7 * explainer.cost("Grad-CAM")  # the plain photo, 3 scales × 2 flips


def test_a_score_cam_of_one_layer_counts_that_layers_passes(explainer):
    heard = []
    with listening(heard.append):
        explainer.explain([photo()], method="Score-CAM", layers=("conv_a",))
    assert sum(heard) == explainer.cost("Score-CAM", ("conv_a",)) == 1 + 4


def test_faithfulness_counts_its_passes(explainer):
    explanation = explainer.explain([photo()])[0]
    heard = []
    with listening(heard.append):
        explainer.faithfulness(photo(), explanation, "conv_b", steps=50)
    assert sum(heard) == faithfulness_passes(50) == 208


def test_the_sanity_check_tells_its_steps_and_mutes_the_passes_inside(explainer):
    steps, heard = [], []
    with listening(heard.append):
        result = explainer.sanity_check(
            photo(), "conv_b", "predicted", "Score-CAM", lambda: steps.append(1)
        )
    expected = sanity_steps(explainer.classifier.model)
    assert len(steps) == expected == 2 + len(result) and heard == []


def test_a_guided_clone_tells_each_layer_it_clones_once():
    model = tiny_model(seed=3)
    layers = layers_to_clone(model)
    heard = []
    build_guided(model, lambda: heard.append(1))
    assert len(heard) == layers == len(model.layers) - 1  # all but the input
    assert layers_to_clone(model) == 0
    build_guided(model, lambda: heard.append(1))  # built: nothing more
    assert len(heard) == layers
