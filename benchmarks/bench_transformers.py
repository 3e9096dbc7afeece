"""A ViT-B/16-shaped model (224 px, 16 px patches, a class token, 12 blocks of 768 channels, 12
heads, MLP 3,072; random weights): Grad-CAM at its default layer as the command line runs it
(`Explainer.explain`: resize, one pass, the map) as a ratio to a compiled forward of the same
photo, measured in the same run (median of interleaved repeats). Target: at most 1.2x. The
gradient stops at the explained layer, in the last block, so the backward pass is one block's.

    .venv/bin/python benchmarks/bench_transformers.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.timing import interleaved  # noqa: E402
from core.explain.explainer import Explainer  # noqa: E402
from core.models.info import Classifier, ModelInfo  # noqa: E402
from tests.support.transformers import vit  # noqa: E402

TARGET = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    model = vit((224, 224), patch=16, extra=1, blocks=12, width=768, heads=12, classes=2,
                mlp=3072)  # fmt: skip
    built = time.perf_counter() - start
    info = ModelInfo(kind="imported", class_names=("cat", "dog"), image_size=224)
    classifier = Classifier(model, info)
    start = time.perf_counter()
    layer = classifier.default_layer  # one probing pass: which layers' patches reach the score
    probed = time.perf_counter() - start
    explainer = Explainer(classifier, [layer])
    photo = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    batch = photo[None].astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False))
    timings = interleaved(
        {
            "compiled forward": lambda: forward(batch).numpy(),
            f"Grad-CAM at {layer}": lambda: explainer.explain([photo], "dog", "Grad-CAM"),
        },
        args.repeats,
    )
    base = statistics.median(timings["compiled forward"])
    print(
        f"ViT-B/16-shaped ({model.count_params() / 1e6:.0f} M parameters), one 224x224 photo, "
        f"median of {args.repeats}; TF {tf.__version__}; built in {built:.1f} s, default layer "
        f"found in {probed:.1f} s"
    )
    for name, values in timings.items():
        ratio = statistics.median(values) / base
        print(f"{name:34s} {statistics.median(values) * 1000:9.1f} ms  {ratio:6.2f}x")
    ratio = statistics.median(timings[f"Grad-CAM at {layer}"]) / base
    print(f"target: Grad-CAM <= {TARGET}x the forward: {'met' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
