"""Timing shared by the benchmarks: warm up, then run every candidate in turn, round after
round."""

from __future__ import annotations

import time
from typing import Callable


def interleaved(
    runs: dict[str, Callable], repeats: int, warmups: int = 2
) -> dict[str, list[float]]:
    """Seconds of each run per round. Interleaving spreads the machine's noise over all candidates
    alike."""
    for run in runs.values():
        for _ in range(warmups):
            run()  # compile and warm up
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    return timings
