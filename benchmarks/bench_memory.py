"""Memory over many explanations in one process: 500 photos through one Explainer (ResNet-50,
random weights), the RSS before and after, written to artifacts/memory.json.

    .venv/bin/python benchmarks/bench_memory.py [--explanations 500]

Exits 1 when the RSS grows by 64 MiB or more: a leak of one picture or map per explanation would
cross it. A figure, not behaviour, so it lives here rather than in the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core.config import ROOT  # noqa: E402
from core.explain.explainer import Explainer  # noqa: E402
from core.models.build import build_classifier  # noqa: E402
from core.models.info import ModelInfo, save_classifier  # noqa: E402
from core.models.load import load_classifier  # noqa: E402

GROWTH_LIMIT_MIB = 64


def rss_mib() -> float:
    """This process's resident set size now, in MiB (/proc/self/status VmRSS)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--explanations", type=int, default=500)
    args = parser.parse_args()
    # Saved and loaded as the app does: the loaded model is the one that runs.
    path = Path(tempfile.mkdtemp()) / "model.keras"
    save_classifier(build_classifier("none"), ModelInfo(backbone_weights="none"), path)
    explainer = Explainer(load_classifier(path))
    rng = np.random.default_rng(0)
    photos = [
        rng.integers(0, 256, (rng.integers(100, 400), rng.integers(100, 400), 3), dtype=np.uint8)
        for _ in range(10)
    ]
    for photo in photos * 5:  # warm up: traces, allocator pools
        explainer.explain([photo])
    before = rss_mib()
    for i in range(args.explanations):
        explainer.explain([photos[i % len(photos)]])
    growth = rss_mib() - before
    figures = {
        "explanations": args.explanations,
        "rss_before_mib": before,
        "growth_mib": growth,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "memory.json").write_text(json.dumps(figures, indent=2))
    verdict = "ok" if growth < GROWTH_LIMIT_MIB else "MISSED"
    print(
        f"{args.explanations} explanations: RSS {before:.0f} MiB before, grew {growth:+.1f} MiB "
        f"(limit {GROWTH_LIMIT_MIB} MiB) {verdict}"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
