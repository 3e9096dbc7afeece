"""A kill -9 soak: 20 runs of the tiny model killed (SIGKILL) at random moments 0.5-8 s in.

After each kill the current model must load and be the previous one byte for byte, or a finished
run's (tests/test_faults.py's `kill_9_at`; four fixed moments are a test there). The moments and
where each run was go to artifacts/kill9.json.

    .venv/bin/python benchmarks/bench_faults.py [--kills 20] [--seed 20]    # ~2 minutes

Exits 1 (an AssertionError) at the first kill that leaves no loadable model.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import ROOT  # noqa: E402
from tests.conftest import make_pets  # noqa: E402
from tests.test_faults import first_model, kill_9_at  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    data, weights = make_pets(folder / "pets"), folder / "weights"
    first_model(data, weights)
    rng, moments = random.Random(args.seed), []
    for _ in range(args.kills):
        moment = rng.uniform(0.5, 8.0)
        moments.append((round(moment, 2), kill_9_at(moment, data, weights)))
        print(f"  killed at {moments[-1][0]:.2f} s: {moments[-1][1]}", flush=True)
    figures = {"kills": args.kills, "loadable_after": len(moments), "moments": moments}
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "kill9.json").write_text(json.dumps(figures))
    print(f"{len(moments)} / {args.kills} kills left a loadable model")


if __name__ == "__main__":
    main()
