"""Speed of the explain path on ResNet-50 at 224 px, as ratios to a compiled forward in one run.

    .venv/bin/python benchmarks/bench_explain.py [--repeats 30] [--k-only] [--imported-only]

Then the explanation's cost against the number of classes K: Explainer.explain (Grad-CAM, all four
stages, one pass) with a 2-class head, a 37-class head and the zero-shot model's 1,000 ImageNet
classes, as ratios to the 2-class time. One backward pass from one score serves every layer,
whatever K: the ratios should stay near 1.

Then an imported ResNet-50 (issue #20): the seed article's model, ResNet-50 nested in a Sequential
with a Dense(2, softmax) head, saved as a person would and imported with "caffe" (flattened, its
softmax removed, Preprocess in front), against the built-in model: Explainer.explain, all offered
layers (the four stages), one pass, as a ratio (target <= 1.1).

Random weights (offline machines cannot download ImageNet's); speed does not depend on them.
Timings are interleaved round-robin and summarised by their median, since these machines are noisy.
"""

# The imports below follow the sys.path entry that lets them work from a checkout.
# ruff: noqa: E402

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras
import numpy as np
import tensorflow as tf

from benchmarks.timing import interleaved
from core.cams import GradCAM
from core.config import STAGE_LAYERS, Config
from core.explain.explainer import Explainer
from core.explain.overlay import blend, colorize
from core.models.build import build_classifier, build_zero_shot, imagenet_view
from core.models.graph import LAST_STAGE
from core.models.info import Classifier, ModelInfo

# Keras notes that a bare tensor is fed to a model whose input is named; harmless, and noisy here.
warnings.filterwarnings("ignore", message="The structure of `inputs`")


def keras_io_recipe(model: keras.Model, images: np.ndarray, layer: str) -> np.ndarray:
    """keras-io's make_gradcam_heatmap as published: eager, the gradient model rebuilt per call."""
    grad_model = keras.models.Model(model.inputs, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        activations, predictions = grad_model(images)
        score = predictions[:, 0]
    grads = tape.gradient(score, activations)
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    return (activations[0] @ pooled[..., tf.newaxis]).numpy()


def median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000.0


def k_scaling(repeats: int) -> None:
    """Explainer.explain's time at K = 2, 37 and 1,000 classes, as ratios to K = 2's."""
    photo = np.random.default_rng(3).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    breeds = tuple(f"breed_{i:02d}" for i in range(37))
    explainers = {
        "K=2 (one logit)": Explainer(Classifier(build_classifier("none"), ModelInfo())),
        "K=37 (Dense(37))": Explainer(
            Classifier(build_classifier("none", num_classes=37), ModelInfo(class_names=breeds))
        ),
        "K=1000 (zero-shot ImageNet)": Explainer(imagenet_view(build_zero_shot("none"))),
    }
    runs = {name: functools.partial(e.explain, [photo]) for name, e in explainers.items()}
    runs["K=1000, top1-vs-top2"] = functools.partial(
        explainers["K=1000 (zero-shot ImageNet)"].explain, [photo], "top1-vs-top2"
    )
    timings = interleaved(runs, repeats)
    base = median_ms(timings["K=2 (one logit)"])
    print(f"\nExplainer.explain, Grad-CAM at all {len(STAGE_LAYERS)} stages, one photo, median:")
    for i, name in enumerate(runs):
        ms = median_ms(timings[name])
        target = "  (target <= 1.2)" if i else ""
        print(f"{name:34s} {ms:8.1f} ms  {ms / base:5.2f}x{target}")


def imported_ratio(repeats: int) -> None:
    """Explainer.explain of an imported seed-style ResNet-50 against the built-in model's."""
    import tempfile

    from core.models.imported import import_model
    from core.models.load import load_classifier

    photo = np.random.default_rng(4).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    backbone = keras.applications.ResNet50(include_top=False, weights=None)
    seed = keras.Sequential(
        [
            keras.Input((224, 224, 3)),
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    with tempfile.TemporaryDirectory() as folder:
        seed.save(Path(folder) / "seed.keras")
        start = time.perf_counter()
        path = import_model(Path(folder) / "seed.keras", Path(folder), ["cat", "dog"], "caffe")
        imported = Explainer(load_classifier(path))
        loading = time.perf_counter() - start
    explainers = {
        "built-in (build_classifier)": Explainer(
            Classifier(build_classifier("none"), ModelInfo())
        ),
        "imported seed-style (caffe)": imported,
    }
    runs = {name: functools.partial(e.explain, [photo]) for name, e in explainers.items()}
    timings = interleaved(runs, repeats)
    base = median_ms(timings["built-in (build_classifier)"])
    print(
        f"\nImported ResNet-50 (import + load + build: {loading:.1f} s), Explainer.explain, all "
        f"{len(imported.layers)} offered layers, one photo, median:"
    )
    for i, name in enumerate(runs):
        ms = median_ms(timings[name])
        target = "  (target <= 1.1)" if i else ""
        print(f"{name:34s} {ms:8.1f} ms  {ms / base:5.2f}x{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--k-only", action="store_true", help="only the cost against K")
    parser.add_argument(
        "--imported-only", action="store_true", help="only an imported ResNet-50 against ours"
    )
    args = parser.parse_args()
    if args.k_only or args.imported_only:
        (k_scaling if args.k_only else imported_ratio)(args.repeats)
        return
    config = Config()
    model = build_classifier("none", config)
    photo = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)

    forward = tf.function(lambda x: model(x, training=False))
    one_layer = GradCAM(model, [LAST_STAGE])
    all_layers = GradCAM(model, list(STAGE_LAYERS))
    candidates = {
        "compiled forward": lambda: forward(photo).numpy(),
        f"Grad-CAM {LAST_STAGE}": lambda: one_layer(photo),
        f"Grad-CAM all {len(STAGE_LAYERS)} stages": lambda: all_layers(photo),
        "keras-io recipe (eager)": lambda: keras_io_recipe(model, photo, LAST_STAGE),
    }
    timings = interleaved(candidates, args.repeats)

    big = np.random.default_rng(1).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    heatmap = np.random.default_rng(2).uniform(0, 1, (7, 7))
    colored = colorize(heatmap, 768, 1024)
    reblend, recolor = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        blend(big, colored, 0.5)
        reblend.append(time.perf_counter() - start)
        start = time.perf_counter()
        blend(big, colorize(heatmap, 768, 1024), 0.5)
        recolor.append(time.perf_counter() - start)

    base = median_ms(timings["compiled forward"])
    print(
        f"ResNet-50, 224x224, batch 1, {args.repeats} interleaved repeats, median; TF "
        f"{tf.__version__}"
    )
    print(f"{'compiled forward':34s} {base:8.1f} ms   1.00x")
    targets = {
        f"Grad-CAM {LAST_STAGE}": 1.2,
        f"Grad-CAM all {len(STAGE_LAYERS)} stages": 3.0,
    }
    for name in list(candidates)[1:]:
        ms = median_ms(timings[name])
        target = f"  (target <= {targets[name]})" if name in targets else ""
        print(f"{name:34s} {ms:8.1f} ms  {ms / base:5.2f}x{target}")
    print(
        f"{'alpha re-blend 1024x768':34s} {median_ms(reblend):8.2f} ms          (target <= 30 ms)"
    )
    print(f"{'colour + blend 1024x768':34s} {median_ms(recolor):8.2f} ms")
    print(
        f"{'peak memory (max RSS)':34s} "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB"
    )
    k_scaling(args.repeats)
    imported_ratio(args.repeats)


if __name__ == "__main__":
    main()
