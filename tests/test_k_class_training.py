"""Training on K classes: the loss and weights, the report's figures by hand, tiny runs on 3 and 37
generated classes, and a ResNet-50 trained on 3 classes whose Grad-CAM points at the evidence.
"""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.data.classes import label_names
from core.data.folders import Split
from core.models.load import load_classifier
from core.training import jobs, status, watch
from core.training.recipe import class_weights
from core.training.report import report
from tests.support.models import tiny_model
from tests.support.photos import make_located_pets, make_pets
from tests.support.runs import FAST


def folders(names, truth) -> tuple[Split, tuple[str, ...]]:
    """A validation split whose labels are `truth`, one made-up path per photo; the names."""
    paths = tuple(f"/v/{names[t]}/{i}.png" for i, t in enumerate(truth))
    return Split(paths, tuple(truth)), tuple(names)


def test_class_weights_for_k_classes_by_hand():
    labels = np.array([0, 0, 0, 1, 2, 2], dtype=np.float32)  # as the feature pass gives them
    # n / (K * count): 6 / 9, 6 / 3, 6 / 6.
    assert class_weights(labels, 3) == pytest.approx({0: 2 / 3, 1: 2.0, 2: 1.0})
    # A fourth class with no photo gets no weight; K = 4 divides the others.
    assert class_weights(labels, 4) == pytest.approx({0: 0.5, 1: 1.5, 2: 0.75})
    assert class_weights([0, 0, 0, 1]) == pytest.approx({0: 2 / 3, 1: 2.0})  # two, as before


def test_three_class_report_by_hand():
    truth = [0, 0, 0, 1, 1, 2, 2]
    logits = np.array(
        [[3, 0, 0], [0, 2, 0], [0, 1, 0], [0, 5, 0], [0, 0, 3], [0, 0, 1], [2, 0, 0]], float
    )
    figures = report(logits, *folders(("birds", "cats", "great_pyrenees"), truth))
    assert figures["confusion"] == [[1, 2, 0], [0, 1, 1], [1, 0, 1]]
    assert figures["accuracy"] == pytest.approx(3 / 7)
    assert figures["per_class_accuracy"] == pytest.approx([1 / 3, 1 / 2, 1 / 2])
    assert figures["most_confused"] == [
        {"true": 0, "predicted": 1, "count": 2},
        {"true": 1, "predicted": 2, "count": 1},
        {"true": 2, "predicted": 0, "count": 1},
    ]
    # The softmax probability of the class wrongly chosen: e^z / (e^z + 2) with the others at 0.
    assert [(m["path"], m["true"], m["predicted"]) for m in figures["misclassified"]] == [
        ("/v/birds/1.png", 0, 1),
        ("/v/birds/2.png", 0, 1),
        ("/v/cats/4.png", 1, 2),
        ("/v/great_pyrenees/6.png", 2, 0),
    ]
    expected = [math.exp(z) / (math.exp(z) + 2) for z in (2, 1, 3, 2)]
    assert [m["confidence"] for m in figures["misclassified"]] == pytest.approx(expected)
    # K > 2 keeps the folder names: no breed loses its "s".
    assert figures["class_names"] == ["birds", "cats", "great_pyrenees"]
    assert "top5_accuracy" not in figures
    json.dumps(figures)  # progress.json takes it as it is


def test_two_class_report_is_as_before():
    figures = report(np.array([-1.0, 2.0, 0.5, -0.3]), *folders(("cats", "dogs"), [0, 0, 1, 1]))
    assert figures["confusion"] == [[1, 1], [1, 1]] and figures["accuracy"] == 0.5
    assert figures["class_names"] == ["cat", "dog"]
    sigmoid = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    wrong = figures["misclassified"]
    assert [(m["true"], m["predicted"]) for m in wrong] == [(0, 1), (1, 0)]
    assert [m["confidence"] for m in wrong] == pytest.approx([sigmoid(2.0), sigmoid(0.3)])
    assert figures["most_confused"] == [
        {"true": 0, "predicted": 1, "count": 1},
        {"true": 1, "predicted": 0, "count": 1},
    ]


def test_top5_accuracy_from_ten_classes_by_hand():
    logits = np.array(
        [
            [4, 9, 8, 7, 6, 5, 0, 0, 0, 0],  # class 0 ranks 6th: a miss
            [0, 0, 0, 0, 0, 9, 8, 7, 6, 5],  # class 9 ranks 5th: a hit
        ],
        float,
    )
    names = tuple(f"breed_{i}" for i in range(10))
    figures = report(logits, *folders(names, [0, 9]))
    assert figures["accuracy"] == 0.0 and figures["top5_accuracy"] == 0.5


def test_class_names_singular_for_two_only():
    assert label_names(("cats", "dogs")) == ["cat", "dog"]
    assert label_names(("abyssinian", "basset_hound", "great_pyrenees")) == [
        "abyssinian",
        "basset_hound",
        "great_pyrenees",
    ]


def hand_report() -> dict:
    return {
        "class_names": ["birds", "cats", "dogs"],
        "confusion": [[1, 2, 0], [0, 1, 1], [1, 0, 1]],
    }


def test_the_page_figures_per_class_and_most_confused():
    table = status.per_class(hand_report())
    assert list(table.index) == ["birds", "cats", "dogs"]
    assert table["validation photos"].tolist() == [3, 2, 2] and table["right"].tolist() == [
        1,
        1,
        1,
    ]
    assert table["accuracy"].tolist() == pytest.approx([1 / 3, 1 / 2, 1 / 2])
    assert status.confused_pairs(hand_report()) == [
        "birds -> cats: 2",
        "cats -> dogs: 1",
        "dogs -> birds: 1",
    ]
    assert status.confused_pairs({"class_names": ["a", "b"], "confusion": [[2, 0], [0, 3]]}) == []


def test_the_confusion_heatmap_names_every_class_and_grows_with_k():
    small = status.confusion_figure(hand_report())
    axes = small.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["birds", "cats", "dogs"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["birds", "cats", "dogs"]
    assert sorted(t.get_text() for t in axes.texts) == sorted("120011101")  # counts in cells
    names = [f"breed_{i:02d}" for i in range(37)]
    counts = np.eye(37, dtype=int) * 2
    counts[3, 20] = 1
    large = status.confusion_figure({"class_names": names, "confusion": counts.tolist()})
    axes = large.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == names
    assert all(t.get_rotation() == 90 for t in axes.get_xticklabels()) and not axes.texts
    assert large.get_size_inches()[0] > 2 * small.get_size_inches()[0]
    picture = status.confusion_picture({"class_names": names, "confusion": counts.tolist()})
    assert picture.dtype == np.uint8 and picture.shape[2] == 3 and picture.shape[0] >= 900


def three_classes(tmp_path: Path, n_train: int = 6, n_validation: int = 2) -> Path:
    return make_pets(tmp_path / "pets", n_train, n_validation, size=8, classes=3)


def test_tiny_model_learns_three_generated_classes(tmp_path):
    weights = tmp_path / "weights"
    build = lambda: tiny_model(classes=3)  # noqa: E731
    state = jobs.run(three_classes(tmp_path), weights, FAST, build=build)
    figures = state.report
    assert state.state == "done" and figures["accuracy"] == 1.0, figures
    assert (
        figures["confusion"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
        and "top5_accuracy" not in figures
    )
    history = state.history["head"]
    assert history["loss"][-1] < history["loss"][0] and "top5_accuracy" not in history
    run_dir = Path(state.run_dir)
    classifier = load_classifier(run_dir / "model.keras")
    assert classifier.info.class_names == ("birds", "cats", "dogs")
    assert classifier.info.extra["train_counts"] == [6, 6, 6]
    assert classifier.model.output_shape == (None, 3)
    # The watch strip spreads its four photos over the three classes.
    record, maps = watch.read(run_dir)
    assert sorted(label for _, label in record["photos"]) == [0, 0, 1, 2]
    assert maps.shape[1] == 4 and np.isfinite(maps).all()


def test_a_built_model_that_does_not_fit_the_classes_fails_the_run(tmp_path):
    with pytest.raises(ValueError, match="3 classes need 3"):
        jobs.run(three_classes(tmp_path, 1, 1), tmp_path / "weights", FAST, build=tiny_model)
    assert jobs.latest_run(tmp_path / "weights").state == "failed"


@pytest.mark.slow
def test_tiny_model_learns_37_generated_classes(tmp_path):
    """37 colours, 4 photos each: the frozen tiny convs give 6 features, so the run fine-tunes."""
    data = make_pets(tmp_path / "pets", 4, 2, size=8, classes=37)
    config = replace(
        FAST,
        epochs=100,
        fine_tune_epochs=60,
        fine_tune_from="conv_a",
        fine_tune_learning_rate=0.01,
    )
    build = lambda: tiny_model(classes=37, dropout=0.0)  # noqa: E731
    state = jobs.run(data, tmp_path / "weights", config, build=build)
    figures = state.report
    # Chance is 1/37 (2.7 %) and top-5 chance 5/37 (13.5 %).
    assert state.state == "done" and figures["accuracy"] >= 0.75, figures["accuracy"]
    assert figures["top5_accuracy"] >= 0.95
    assert np.trace(figures["confusion"]) == round(figures["accuracy"] * 74)
    assert len(figures["class_names"]) == 37 and len(figures["per_class_accuracy"]) == 37
    for phase in ("head", "fine-tune"):
        history = state.history[phase]
        assert "top5_accuracy" in history and "val_top5_accuracy" in history
    assert state.history["head"]["loss"][-1] < state.history["head"]["loss"][0]
    record, _ = watch.read(state.run_dir)
    assert len({label for _, label in record["photos"]}) == 4  # one of each of four classes


# ResNet-50 on three classes whose evidence sits at known places -------------------------------

# Three classes, each the colour of its square of evidence (support.photos.make_located_pets).
SQUARES = {"blues": (30, 40, 230), "greens": (30, 210, 40), "reds": (230, 40, 30)}


@pytest.mark.resnet
def test_resnet50_trained_on_three_classes_points_at_the_evidence(tmp_path):
    """A random-weight ResNet-50 (no internet for ImageNet's), its 3-logit head trained by jobs.run
    on cached features; Grad-CAM of each validation photo's own class points into its square.

    Chance of a hit is about 15 % (the square and its 15 px tolerance, of the photo).
    """
    from core.cams import GradCAM
    from core.explain.localization import annotations_for, pointing_hit
    from core.images import load_image, to_model_input
    from core.models.graph import LAST_STAGE

    data = make_located_pets(tmp_path / "located", n_train=24, n_validation=8, squares=SQUARES)
    config = replace(FAST, epochs=80, learning_rate=0.01, patience=80)
    state = jobs.run(data, tmp_path / "weights", config)
    assert state.state == "done" and state.report["accuracy"] >= 0.9, state.report
    model = load_classifier(Path(state.run_dir) / "model.keras").model
    assert model.output_shape == (None, 3)
    cam = GradCAM(model, [LAST_STAGE])
    hits = []
    for label, name in enumerate(SQUARES):
        for path in sorted((data / "validation" / name).iterdir()):
            photo = load_image(path)
            raw = cam(to_model_input([photo], 224), np.array([label])).maps[LAST_STAGE][0]
            mask = annotations_for(path, data / "annotations", *photo.shape[:2])["pet"]
            hits.append(pointing_hit(np.maximum(raw, 0), mask))
    Path("artifacts").mkdir(exist_ok=True)
    Path("artifacts/localization_3_classes.json").write_text(
        json.dumps(
            {
                "photos": len(hits),
                "pointing": float(np.mean(hits)),
                "val_accuracy": state.report["accuracy"],
            }
        )
    )
    assert len(hits) == 24 and np.mean(hits) >= 0.8, np.mean(hits)
