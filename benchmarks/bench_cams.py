"""Each CAM method's time for one photo at conv5_block3_out, and the faithfulness curves, as ratios
to a compiled forward measured in the same run (ResNet-50, 224 px, random weights, median of
interleaved repeats).

    .venv/bin/python benchmarks/bench_cams.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.timing import interleaved  # noqa: E402
from core.cams import METHODS  # noqa: E402
from core.explain.faithfulness import curves  # noqa: E402
from core.models.build import build_classifier  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")
LAYER = "conv5_block3_out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = build_classifier("none")
    photo = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    heatmap = np.random.default_rng(1).uniform(0, 1, (7, 7))
    forward = tf.function(lambda x: model(x, training=False))
    runs = {"compiled forward": lambda: forward(photo).numpy()}
    for name, method in METHODS.items():
        cam = method(model, [LAYER], top_n=64) if name == "Score-CAM" else method(model, [LAYER])
        runs[f"{name}" + (" (top 64)" if name == "Score-CAM" else "")] = lambda cam=cam: cam(photo)
    runs["Grad-CAM + TTA (6 variants)"] = lambda cam=METHODS["Grad-CAM"](model, [LAYER]): cam(
        photo, aug_smooth=True
    )
    runs["deletion + insertion, 50 steps"] = lambda: curves(model, photo[0], heatmap, 1, steps=50)
    timings = interleaved(runs, args.repeats, warmups=1)
    all_channels = METHODS["Score-CAM"](model, [LAYER], top_n=None)
    start = time.perf_counter()
    all_channels(photo)
    score_cam_all = time.perf_counter() - start

    base = statistics.median(timings["compiled forward"])
    print(
        f"ResNet-50 224x224, one photo, layer {LAYER}, median of {args.repeats}; TF "
        f"{tf.__version__}"
    )
    for name, values in timings.items():
        print(
            f"{name:34s} {statistics.median(values) * 1000:9.1f} ms  "
            f"{statistics.median(values) / base:7.2f}x"
        )
    print(
        f"{'Score-CAM (all 2048 channels)':34s} {score_cam_all * 1000:9.1f} ms  "
        f"{score_cam_all / base:7.2f}x  (one run)"
    )


if __name__ == "__main__":
    main()
