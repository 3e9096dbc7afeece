"""bench_memory.py --commands: the peak RSS of `python -m core evaluate` and `explain` over a
folder, each run a fresh process, few photos against many and one method against all nine.

The model is ResNet-50 with random weights at 224 x 224, saved and loaded as a run's; the photos
are generated 500 x 375 JPEGs (Oxford-IIIT Pet's usual size). evaluate runs with --steps 16, not
its default 50: its deletion/insertion batch is already full (32 images, the largest pass) at 16
steps, at a third of the time. explain explains BATCH (16) photos per pass, so its few photos are
one full batch, its many three.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from benchmarks.bench_memory_server import write_figures
from core.cams import METHODS
from core.cli.commands import BATCH
from core.config import ROOT
from core.models.build import build_classifier
from core.models.info import ModelInfo, save_classifier

STEPS = 16  # evaluate's curve steps: the 32-image pass of the default 50, a third of the time
FEW, MANY = 2, 10  # evaluate's photos
PHOTO_GROWTH = 0.15  # many photos' peak over few photos': at most 15 % more
# All nine methods' peak over Grad-CAM's alone: the guided clone of the model (ResNet-50's 25.6 M
# weights, 98 MiB), its compiled gradient pass (about as much again) and a half of that for the
# allocator's slack. Measured: +211 MiB; with every method's CAM kept (the fault it bounds), +534.
METHOD_ALLOWANCE_MIB = 300


def photos(folder: Path, count: int) -> Path:
    """`count` distinct 500 x 375 JPEGs (smooth random colours) in `folder`, made once."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        path = folder / f"photo-{seed:03d}.jpg"
        if not path.exists():
            rng = np.random.default_rng(seed)
            smooth = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (500, 375))
            cv2.imwrite(str(path), smooth)
    return folder


def peak_mib(arguments: list[str]) -> float:
    """`python -m core ARGUMENTS`'s peak resident set size in MiB (its own, from wait4)."""
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a full pipe would block it
        process = subprocess.Popen(
            [sys.executable, "-m", "core", *arguments],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN would be the largest child's.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"python -m core {' '.join(arguments)}: {errors.read().decode()}")
    return usage.ru_maxrss / 1024


def runs(folder: Path, weights: Path, out: Path) -> dict[str, list[str]]:
    """Each run's name -> its arguments."""
    few, many = photos(folder / "few", FEW), photos(folder / "many", MANY)
    batch, batches = photos(folder / "batch", BATCH), photos(folder / "batches", 3 * BATCH)
    evaluate = ["evaluate", "--weights", str(weights), "--steps", str(STEPS), "--data"]
    explain = ["explain", "--weights", str(weights), "--out", str(out), "--method", "Grad-CAM"]
    grad_cam = ["--method", "Grad-CAM"]
    return {
        f"evaluate {FEW} photos, Grad-CAM": [*evaluate, str(few), *grad_cam],
        f"evaluate {MANY} photos, Grad-CAM": [*evaluate, str(many), *grad_cam],
        f"evaluate {FEW} photos, all {len(METHODS)} methods": [*evaluate, str(few)],
        f"explain {BATCH} photos, Grad-CAM": [*explain, str(batch)],
        f"explain {3 * BATCH} photos, Grad-CAM": [*explain, str(batches)],
    }


def commands_memory() -> int:
    """Each run's peak, the table, and the verdict: flat in photos, bounded in methods."""
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as temporary:
        folder = Path(temporary)
        weights = folder / "model.keras"
        save_classifier(build_classifier("none"), ModelInfo(backbone_weights="none"), weights)
        peaks = {}
        for name, arguments in runs(folder, weights, folder / "out").items():
            peaks[name] = round(peak_mib(arguments), 1)
            print(f"{name}: peak {peaks[name]:,.0f} MiB", flush=True)
    few, many, methods, batch, batches = peaks.values()
    checks = {
        f"evaluate: {MANY} photos within {PHOTO_GROWTH:.0%} of {FEW}": many
        <= few * (1 + PHOTO_GROWTH),
        f"evaluate: all methods within {METHOD_ALLOWANCE_MIB} MiB of one": methods - few
        <= METHOD_ALLOWANCE_MIB,
        f"explain: {3 * BATCH} photos within {PHOTO_GROWTH:.0%} of {BATCH}": batches
        <= batch * (1 + PHOTO_GROWTH),
    }
    verdict = "ok" if all(checks.values()) else "MISSED"
    write_figures(
        {
            "commands": {
                "peak_rss_mib": peaks,
                "checks": checks,
                "evaluate_steps": STEPS,
                "load_average": Path("/proc/loadavg").read_text().split()[:3],
                "verdict": verdict,
            }
        }
    )
    print("\n| run | peak RSS (MiB) |\n| --- | --- |")
    print("\n".join(f"| {name} | {peak:,.0f} |" for name, peak in peaks.items()))
    print("\n".join(f"{'ok' if held else 'MISSED'}: {check}" for check, held in checks.items()))
    return 0 if verdict == "ok" else 1
