"""Many users: 8 headless-Chromium sessions at once against one ResNet-50 server (random weights).

Each uploads a different photo (the development set's when present) and moves a slider; each must
see its own photo and the prediction computed offline for it. The figures (upload → prediction and
slider → new overlay, p50 and p95, and the server's peak memory) go to artifacts/load.json.

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core.config import ROOT  # noqa: E402
from core.model import ModelInfo, build_classifier, save_classifier  # noqa: E402
from tests.browser_support import streamlit_server  # noqa: E402
from tests.conftest import PETS, make_pets  # noqa: E402
from tests.test_load import expected_predictions, session, sessions_at_once  # noqa: E402


def photos_for(sessions: int, folder: Path) -> list[Path]:
    """One photo per session: spread over the development set's validation/, else generated."""
    if (PETS / "validation").is_dir():
        photos = sorted((PETS / "validation").rglob("*.jpg"))
        return photos[:: len(photos) // sessions][:sessions]
    generated = make_pets(folder / "photos", n_train=0, n_validation=-(-sessions // 2), size=96)
    return sorted(generated.rglob("*.png"))[:sessions]


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    weights = folder / "weights"
    save_classifier(
        build_classifier("none"), ModelInfo(backbone_weights="none"), weights / "model.keras"
    )
    photos = photos_for(args.sessions, folder)
    expected = expected_predictions(weights, photos)
    with streamlit_server({"CATDOG_WEIGHTS_DIR": str(weights)}) as (url, server):
        # This first session meets the cold model (not measured with the others).
        warm_up, errors = [], []
        session(url, photos[0], expected[photos[0]], warm_up, errors)
        results, more = sessions_at_once(url, photos, expected)
        errors += more
        with open(f"/proc/{server.pid}/status") as status:
            peak_kib = int(next(line.split()[1] for line in status if line.startswith("VmHWM")))
    if errors or len(results) != len(photos):
        print("\n".join(errors) or f"{len(results)} of {len(photos)} sessions finished")
        return 1
    uploads = sorted(r["upload_s"] for r in results)
    sliders = sorted(r["slider_s"] for r in results)
    figures = {
        "sessions": len(photos),
        "cold_start_upload_s": warm_up[0]["upload_s"],
        "upload_to_prediction_s": {"p50": statistics.median(uploads), "p95": p95(uploads)},
        "slider_to_new_overlay_s": {"p50": statistics.median(sliders), "p95": p95(sliders)},
        "server_peak_rss_mib": peak_kib / 1024,
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "load.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
