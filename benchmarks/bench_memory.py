"""Memory over many explanations, written to artifacts/memory.json.

In one process: 500 photos through one Explainer (ResNet-50, random weights), the RSS before and
after; exits 1 when it grows by 64 MiB or more (a leak of one picture or map per explanation
would cross it). With --server: the app's server (the same model) while three visitors
(benchmarks/streamlit_client.py, no browser) each upload distinct 12-MP photos in turn and see
each in several looks (colormap and alpha); the server's RSS above its warm figure after each
photo; exits 1 when it rises more than 600 MiB above warm, or still rises over the last third of
the photos by more than a tenth of that (the caches, bounded in bytes, fill and then level off).
With
--commands: `python -m core evaluate` and `explain` over a folder, each a fresh process, few
photos against many and one method against all (benchmarks/bench_memory_commands.py); exits 1
when the peak grows with the photos by more than 15 % or with the methods by more than 300 MiB.

    .venv/bin/python benchmarks/bench_memory.py [--explanations 500]
    .venv/bin/python benchmarks/bench_memory.py --server [--photos 12] [--looks 3]
    (the issue's run: --server --photos 100 --looks 20, 300 photos over three sessions)
    .venv/bin/python benchmarks/bench_memory.py --commands

A figure, not behaviour, so it lives here rather than in the test suite.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.bench_memory_commands import commands_memory  # noqa: E402
from benchmarks.bench_memory_server import server_memory, write_figures  # noqa: E402
from core.explain.explainer import Explainer  # noqa: E402
from core.models.build import build_classifier  # noqa: E402
from core.models.info import ModelInfo, save_classifier  # noqa: E402
from core.models.load import load_classifier  # noqa: E402

GROWTH_LIMIT_MIB = 64
SERVER_LIMIT_MIB = 600  # the server's RSS above warm, caches full (docs/deploying.md)


def rss_mib() -> float:
    """This process's resident set size now, in MiB (/proc/self/status VmRSS)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--explanations", type=int, default=500)
    parser.add_argument("--server", action="store_true", help="the app's server, 3 visitors")
    parser.add_argument(
        "--commands", action="store_true", help="evaluate and explain over a folder, peak RSS"
    )
    parser.add_argument("--photos", type=int, default=12, help="12-MP photos per visitor")
    parser.add_argument(
        "--looks", type=int, default=3, help="looks each photo is seen in (colormap, alpha)"
    )
    args = parser.parse_args()
    if args.commands:
        return commands_memory()
    if args.server:
        return server_memory(args.photos, args.looks, SERVER_LIMIT_MIB)
    return explainer_memory(args.explanations)


def explainer_memory(explanations: int) -> int:
    """The Explainer's RSS over `explanations` photos, after a warm-up."""
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
    for i in range(explanations):
        explainer.explain([photos[i % len(photos)]])
    growth = rss_mib() - before
    figures = {
        "explanations": explanations,
        "rss_before_mib": before,
        "growth_mib": growth,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    write_figures(figures)
    verdict = "ok" if growth < GROWTH_LIMIT_MIB else "MISSED"
    print(
        f"{explanations} explanations: RSS {before:.0f} MiB before, grew {growth:+.1f} MiB "
        f"(limit {GROWTH_LIMIT_MIB} MiB) {verdict}"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
