"""Training speed, measured in one run: the cached feature pass against a forward, head epochs.

    .venv/bin/python benchmarks/bench_train.py [--images 2000] [--feature-images 320]
    .venv/bin/python benchmarks/bench_train.py --classes-only   # K = 37 against K = 2, seconds

ResNet-50 at 224 px with random weights (speed does not depend on them), generated JPEGs on disk.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from core.data.folders import DataFolders, Split  # noqa: E402
from core.models.build import FEATURES, build_classifier  # noqa: E402
from core.training.recipe import (
    TrainConfig,
    compile_classifier,
    extract_features,
    head_model,
    train_head_uncached,
)  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")


def write_photos(folder: Path, count: int) -> Split:
    """Smooth random JPEGs of 320x240 (photo-like sizes), half labelled 0, half 1."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(small).resize((320, 240), Image.BILINEAR).save(path, quality=90)
        paths.append(str(path))
    return Split(tuple(paths), tuple(i % 2 for i in range(count)))


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def head_epoch(model: keras.Model, n_images: int) -> Callable[[], object]:
    """One epoch of the head over n_images cached features (both flips, as training does), warm.

    Labels are drawn from the model's classes; the head is compiled as training compiles it (a
    K-class head with its sparse loss, and top-5 accuracy from 10 classes).
    """
    rng = np.random.default_rng(1)
    width = model.get_layer(FEATURES).output.shape[-1]
    features = rng.normal(size=(2 * n_images, width)).astype(np.float32)
    classes = max(model.output_shape[-1], 2)
    labels = rng.integers(0, classes, 2 * n_images).astype(np.float32)
    head = head_model(model)
    compile_classifier(head, 1e-3)

    def epoch():
        return head.fit(features, labels, batch_size=16, epochs=1, verbose=0)

    epoch()  # compile and warm up
    return epoch


def head_epoch_seconds(model: keras.Model, n_images: int) -> float:
    """Seconds of one warm epoch of the head over n_images cached features."""
    return timed(head_epoch(model, n_images))


def class_count_costs(n_images: int, rounds: int = 5) -> dict[int, float]:
    """Median seconds of a cached head epoch at K = 2 and K = 37 over the same number of features.

    The two are timed in turn, `rounds` times, so a busy machine slows both alike.
    """
    epochs = {k: head_epoch(build_classifier("none", num_classes=k), n_images) for k in (2, 37)}
    seconds = {k: [] for k in epochs}
    for _ in range(rounds):
        for k, epoch in epochs.items():
            seconds[k].append(timed(epoch))
    return {k: float(np.median(values)) for k, values in seconds.items()}


def watch_costs(model: keras.Model, split: Split, fine_tune_photos: int) -> dict:
    """Watch-it-learn's cost per epoch for its 4 photos, beside the epochs it rides on.

    A cached head epoch (maps from cached activations x the head) and a fine-tune epoch (one
    GradCAM pass).
    """
    from core.training.recipe import fine_tune
    from core.training.watch import Watch, pick

    with tempfile.TemporaryDirectory() as run_dir:
        watch = Watch(Path(run_dir), pick(split.paths, split.labels), model)
        head = head_model(model)

        # As Keras calls it after an epoch that trained `trained`.
        def epoch_end(trained):
            watch.set_model(trained)
            watch.on_epoch_end(len(watch.epochs))

        # Warm up: the GradCAM graph is traced once per run.
        epoch_end(head), epoch_end(model)
        head_watch_s = np.median([timed(lambda: epoch_end(head)) for _ in range(20)])
        fine_tune_watch_s = np.median([timed(lambda: epoch_end(model)) for _ in range(3)])
        small = Split(split.paths[:fine_tune_photos], split.labels[:fine_tune_photos])
        data = DataFolders(
            ("cats", "dogs"), small, Split(small.paths[:16], small.labels[:16]), (), False
        )
        config = TrainConfig(fine_tune_epochs=1)
        # Compile and warm up.
        fine_tune(model, data, config)
        fine_tune_s = timed(lambda: fine_tune(model, data, config))
    return {
        "head_watch": head_watch_s,
        "fine_tune_watch": fine_tune_watch_s,
        "fine_tune": fine_tune_s,
    }


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--images", type=int, default=2000, help="images in the head / uncached epochs"
    )
    parser.add_argument(
        "--feature-images", type=int, default=320, help="images in the feature-pass measurement"
    )
    parser.add_argument(
        "--fine-tune-images", type=int, default=160, help="images in the fine-tune epoch timed"
    )
    parser.add_argument(
        "--classes-only",
        action="store_true",
        help="only the head epoch at K = 37 against K = 2 (seconds, not minutes)",
    )
    return parser.parse_args()


def feature_rates(model: keras.Model, split: Split, n_images: int) -> tuple[float, float]:
    """Images per second of a compiled forward pass and of the feature pass over the same photos.

    The feature pass decodes, resizes and runs forward; three interleaved rounds each, their
    medians.
    """
    backbone = keras.Model(model.input, model.get_layer(FEATURES).output)
    forward = tf.function(lambda x: backbone(x, training=False))
    # 16 photos and their flips, as one batch of the feature pass.
    batch = np.random.default_rng(2).uniform(0, 255, (32, 224, 224, 3)).astype(np.float32)
    forward(batch), forward(batch)
    chosen = Split(split.paths[:n_images], split.labels[:n_images])
    # Warm up.
    extract_features(model, Split(split.paths[:32], split.labels[:32]), 16, flips=True)
    forward_seconds, feature_seconds = [], []
    steps = n_images // 16
    for _ in range(3):
        forward_seconds.append(timed(lambda: [forward(batch).numpy() for _ in range(steps)]))
        feature_seconds.append(timed(lambda: extract_features(model, chosen, 16, flips=True)))
    return 32 * steps / np.median(forward_seconds), 2 * n_images / np.median(feature_seconds)


def main() -> None:
    args = arguments()
    print_class_counts(args.images, class_count_costs(args.images))
    if args.classes_only:
        return
    model = build_classifier("none")
    with tempfile.TemporaryDirectory() as folder:
        split = write_photos(Path(folder), max(args.images, args.feature_images))
        forward_rate, feature_rate = feature_rates(model, split, args.feature_images)
        data = DataFolders(
            ("cats", "dogs"),
            Split(split.paths[: args.images], split.labels[: args.images]),
            Split(split.paths[:16], split.labels[:16]),
            (),
            False,
        )
        uncached = timed(
            lambda: train_head_uncached(build_classifier("none"), data, TrainConfig(epochs=1))
        )
        watch = watch_costs(model, split, args.fine_tune_images)
    head_epochs = {n: head_epoch_seconds(model, n) for n in (500, 2000, 8000)}
    print_figures(args, forward_rate, feature_rate, head_epochs, watch, uncached)


def print_figures(
    args: argparse.Namespace,
    forward_rate: float,
    feature_rate: float,
    head_epochs: dict[int, float],
    watch: dict,
    uncached: float,
) -> None:
    print(
        f"ResNet-50 224x224, batch 16 (+ flips), TF {tf.__version__}, "
        f"{tf.config.threading.get_inter_op_parallelism_threads() or 'default'} threads"
    )
    print(f"compiled forward throughput           {forward_rate:8.1f} images/s")
    print(
        f"feature pass (decode+resize+forward)  {feature_rate:8.1f} images/s   ratio "
        f"{feature_rate / forward_rate:.2f}  (target >= 0.9)"
    )
    for n, seconds in head_epochs.items():
        print(
            f"cached head epoch, {n:5d} images       {seconds:8.3f} s"
            + ("   (target <= 1 s)" if n == 2000 else "")
        )
    print(
        f"watch it learn, 4 photos, head epoch  {watch['head_watch']:8.4f} s   ratio "
        f"{watch['head_watch'] / head_epochs[500]:.3f} of a 500-image head epoch (target <= 0.10)"
    )
    print(
        f"watch it learn, 4 photos, fine-tune   {watch['fine_tune_watch']:8.3f} s   ratio "
        f"{watch['fine_tune_watch'] / watch['fine_tune']:.3f} of a {args.fine_tune_images}-image "
        f"fine-tune epoch ({watch['fine_tune']:.1f} s; target <= 0.10)"
    )
    print(
        f"uncached head epoch, {args.images:5d} images     {uncached:8.1f} s   (frozen backbone "
        "run on every photo)"
    )
    print(
        f"feature pass for {args.images} images (both flips, extrapolated)  "
        f"{2 * args.images / feature_rate:6.1f} s, once per run"
    )


def print_class_counts(n_images: int, seconds: dict[int, float]) -> None:
    ratio = seconds[37] / seconds[2]
    print(
        f"cached head epoch, {n_images} images, K = 2 {seconds[2]:6.3f} s, K = 37 "
        f"{seconds[37]:.3f} s   ratio {ratio:.2f} (target <= 2)"
    )


if __name__ == "__main__":
    main()
