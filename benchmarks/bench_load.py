"""Many users: 8 headless-Chromium sessions at once against one ResNet-50 server (random weights).

Each uploads a different photo (the development set's when present) at the same moment and moves
a slider; each must see its own photo and the prediction computed offline for it. The figures
(upload → prediction and slider → new overlay, p50 and p95, the server's peak memory, and F, one
forward pass of the same model in this process) go to artifacts/load.json.

    .venv/bin/python benchmarks/bench_load.py [--sessions 8]    # ~2 minutes on 2 cores

Exits 1 when a session saw another's photo or an error. Two sessions at once are a test
(tests/test_load.py); eight, with their times, are a figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from core.config import ROOT  # noqa: E402
from core.models.build import build_classifier  # noqa: E402
from core.models.info import ModelInfo, save_classifier  # noqa: E402
from tests.support.browser import expected_predictions, visitors_at_once  # noqa: E402
from tests.support.photos import PETS, make_pets  # noqa: E402
from tests.support.servers import streamlit_server  # noqa: E402


def photos_for(sessions: int, folder: Path) -> list[Path]:
    """One photo per session: spread over the development set's validation/, else generated."""
    photos = sorted((PETS / "validation").rglob("*.jpg")) if PETS.is_dir() else []
    if len(photos) >= sessions:
        return photos[:: len(photos) // sessions][:sessions]
    generated = make_pets(folder / "photos", n_train=0, n_validation=-(-sessions // 2), size=96)
    return sorted(generated.rglob("*.png"))[:sessions]


def forward_seconds(model) -> float:
    """F: the median of 5 compiled forward passes of one 224×224 photo, after a warm-up."""
    forward = tf.function(lambda x: model(x, training=False))
    photo = tf.zeros((1, 224, 224, 3))
    forward(photo).numpy()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        forward(photo).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        weights, model = Path(folder) / "weights", build_classifier("none")
        save_classifier(model, ModelInfo(backbone_weights="none"), weights / "model.keras")
        photos = photos_for(args.sessions, Path(folder))
        expected = expected_predictions(weights, photos)
        with streamlit_server({"CATDOG_WEIGHTS_DIR": str(weights)}) as (url, server):
            # One visitor first, alone: a new server's first session (not counted with the rest).
            first, errors = visitors_at_once(url, {photos[0]: expected[photos[0]]})
            results, more = visitors_at_once(url, expected)
            errors += more
            with open(f"/proc/{server.pid}/status") as status:
                peak = int(next(line.split()[1] for line in status if line.startswith("VmHWM")))
        forward = forward_seconds(model)
    if errors or len(results) != len(photos):
        print("\n".join(errors) or f"{len(results)} of {len(photos)} sessions finished")
        return 1
    uploads = [r["upload_s"] for r in results]
    sliders = [r["slider_s"] for r in results]
    figures = {
        "sessions": len(photos),
        "forward_pass_s": forward,
        "first_session_upload_s": first[0]["upload_s"],
        "upload_to_prediction_s": {"p50": statistics.median(uploads), "p95": p95(uploads)},
        "slider_to_new_overlay_s": {"p50": statistics.median(sliders), "p95": p95(sliders)},
        "server_peak_rss_mib": peak / 1024,
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "load.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


if __name__ == "__main__":
    sys.exit(main())
