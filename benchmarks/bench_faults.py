"""A kill -9 soak: 20 runs of the tiny model killed (SIGKILL) at random moments 0.5-8 s in.

After each kill the current model must load and be the previous one byte for byte, or a finished
run's (tests/support/runs.py kill_9_at; four kills are a test, tests/test_faults.py). The moments,
where each run was and how many kills left a loadable model go to artifacts/kill9.json.

    .venv/bin/python benchmarks/bench_faults.py [--kills 20] [--seed 20]    # ~2 minutes

Exits 1 when any kill left no loadable model.
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
from tests.support.photos import make_pets  # noqa: E402
from tests.support.runs import first_model, kill_9_at  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    rng, moments, survived = random.Random(args.seed), [], 0
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as folder:
        data, weights = make_pets(Path(folder) / "pets"), Path(folder) / "weights"
        first_model(data, weights)
        for _ in range(args.kills):
            moment = rng.uniform(0.5, 8.0)
            try:
                where = kill_9_at(data, weights, moment)
                survived += 1
            except Exception as error:  # noqa: BLE001 - a model that fails to load is lost too
                where = f"LOST: {type(error).__name__}: {error}"
            moments.append((round(moment, 2), where))
            print(f"  killed at {moment:.2f} s: {where}", flush=True)
    figures = {"kills": args.kills, "loadable_after": survived, "moments": moments}
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "kill9.json").write_text(json.dumps(figures))
    print(f"{survived} / {args.kills} kills left a loadable model")
    return 0 if survived == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
