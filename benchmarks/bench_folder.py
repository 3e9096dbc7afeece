"""The Folder page's cost: a ResNet-50 explaining a folder, as its worker does.

    .venv/bin/python benchmarks/bench_folder.py [--photos 2000] [--worker 200] [--browser]
    .venv/bin/python benchmarks/bench_folder.py --browser-only    # part 3 alone

F is a compiled batch-1 forward pass measured in this process, before and after each folder run
(median of both). The folder is generated 224 x 224 JPEGs.

1. The worker's body (core.folder.jobs.work: decode, explain in batches of 16, write the maps) in
   this process at normal priority, so that it and F see the same machine: its cost per photo as
   its progress.json reports it, target <= 1.3 F; this process's resident memory at 200, 1,000 and
   2,000 photos, which should stay flat.
2. With --worker N: N photos explained the page's way (jobs.start: a process of its own, niced),
   wall clock from the start to the last photo, the model's loading included. On a machine that
   others use too, a niced process gets what they leave: the load average is printed beside it.
3. With --browser: `streamlit run app.py` in Chromium, photos uploaded to the Explain page, then
   their alpha and layer sliders stepped (bench_browser's machinery), first with no folder run,
   then while one goes on (past its start-up). Target: <= 0.25 s a step.

Random weights (offline machines cannot download ImageNet's); speed does not depend on them.
"""

# The imports below follow the sys.path entry that lets them work from a checkout.
# ruff: noqa: E402

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import tensorflow as tf
from PIL import Image

from benchmarks.timing import interleaved
from core.atomic import read_json, write_json
from core.config import STAGE_LAYERS
from core.folder import jobs, run
from core.models.build import build_classifier
from core.models.catalog import model_key
from core.models.info import ModelInfo, save_classifier
from core.models.load import load_classifier
from core.workers.records import PROGRESS

CHECKPOINTS = (200, 1000, 2000)


def make_photos(folder: Path, count: int) -> Path:
    """`count` seeded 224 x 224 JPEGs in validation/cats and validation/dogs."""
    rng = np.random.default_rng(0)
    for index in range(count):
        kind = ("cats", "dogs")[index % 2]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / kind / f"{index:05d}.jpg", quality=90)
    return folder


def forward_seconds(model_file: Path, repeats: int = 20) -> float:
    """F: the median compiled forward pass of one photo (batch 1)."""
    model = load_classifier(model_file).model
    forward = tf.function(lambda x: model(x, training=False))
    image = np.zeros((1, 224, 224, 3), np.float32)
    return statistics.median(interleaved({"F": lambda: forward(image).numpy()}, repeats)["F"])


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def prepared(job: jobs.FolderJob, cache: Path) -> Path:
    """The job's folder with its job.json, as jobs.start leaves it, without a worker."""
    job_dir = jobs.job_dir(job, cache)
    job_dir.mkdir(parents=True, exist_ok=True)
    write_json(job_dir / jobs.JOB, asdict(job))
    return job_dir


def body_run(job: jobs.FolderJob, cache: Path) -> tuple[dict, dict[int, tuple[int, float]]]:
    """The worker's body in this process; its last progress, and RSS (MB) at CHECKPOINTS."""
    job_dir, memory, done = prepared(job, cache), {}, threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            photos = (read_json(job_dir / PROGRESS) or {}).get("done", 0)
            for mark in CHECKPOINTS:
                if photos >= mark and mark not in memory:
                    memory[mark] = (photos, rss_mb(os.getpid()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        progress = run.work(job_dir, background=False)
    finally:
        done.set()
        watcher.join()
    memory.setdefault(len(job.photos), (len(job.photos), rss_mb(os.getpid())))
    return progress, memory


def worker_run(job: jobs.FolderJob, cache: Path) -> tuple[dict, float]:
    """The page's way: jobs.start, followed to its end; its last progress and wall seconds."""
    started = time.perf_counter()
    job_dir = jobs.start(job, cache)
    while (progress := jobs.status(job_dir)) and progress["running"]:
        time.sleep(0.2)
    return progress, time.perf_counter() - started


def slider_steps(folder: Path, model_file: Path, job: jobs.FolderJob, cache: Path) -> None:
    """The Explain page's alpha and layer steps in Chromium while a folder run goes on."""
    from benchmarks.bench_browser import PAGE, measure
    from tests.support.browser import chrome, wait
    from tests.support.photos import PETS
    from tests.support.servers import streamlit_server

    pool = sorted((PETS / "validation").rglob("*.jpg")) or sorted(Path(job.folder).rglob("*.jpg"))
    photos = pool[:: max(1, len(pool) // 7)][:7]  # one warm-up, three idle, three during the run
    env = {"CATDOG_WEIGHTS_DIR": str(model_file.parent), "CATDOG_DATA_DIR": str(folder)}
    with streamlit_server(env, folder / "server.log") as (url, _):
        driver = chrome()
        try:
            driver.get(url)
            wait(driver, lambda d: "Upload a photo, take one" in d.execute_script(PAGE)[0], 180)
            # Warm-up on a photo not measured after: the same photo again would change nothing.
            measure(driver, photos[-1:], list(STAGE_LAYERS))
            idle = measure(driver, photos[:3], list(STAGE_LAYERS))
            job_dir = jobs.start(job, cache)
            deadline = time.time() + 300
            # Past the worker's start-up (TensorFlow, the model, the trace), into its batches.
            while (jobs.status(job_dir) or {}).get("done", 0) < 16 and time.time() < deadline:
                time.sleep(1)
            steps = measure(driver, photos[3:6], list(STAGE_LAYERS))
            progress = jobs.status(job_dir) or {}
            jobs.stop(job_dir)
        finally:
            driver.quit()
    for name in ("alpha", "layer"):
        print(
            f"{name} step while a folder runs: median {statistics.median(steps[name]):.2f} s, "
            f"max {max(steps[name]):.2f} s (target <= 0.25 s); with no folder run: median "
            f"{statistics.median(idle[name]):.2f} s"
        )
    print(
        f"The folder run was at {progress.get('done', '?')} photos, still running; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=2000, help="photos in the folder")
    parser.add_argument("--worker", type=int, default=0, help="photos for the worker's figure")
    parser.add_argument("--browser", action="store_true", help="also the Explain page's sliders")
    parser.add_argument(
        "--browser-only", action="store_true", help="only the sliders while a folder runs"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        model_file = folder / "weights" / "model.keras"
        save_classifier(build_classifier("none"), ModelInfo(backbone_weights="none"), model_file)
        photos_dir = make_photos(folder / "data" / "validation", args.photos)
        cache = folder / "cache"
        photos = jobs.photos_in(photos_dir, (folder / "data",), cache, None)
        job = jobs.FolderJob(
            str(photos_dir), tuple(photos), str(model_file), model_key(model_file)
        )
        print(f"ResNet-50 (random weights), {len(photos):,} photos of 224 x 224, batches of 16")
        if args.browser_only:
            slider_steps(folder, model_file, job, cache)
            return
        before = forward_seconds(model_file)
        progress, memory = body_run(job, cache)
        after = forward_seconds(model_file)
        F, each = statistics.median([before, after]), progress["seconds_per_photo"]
        print(
            f"F (compiled forward, batch 1): {F * 1000:.1f} ms (before {before * 1000:.1f}, "
            f"after {after * 1000:.1f})"
        )
        print(
            f"Worker's body, per photo (decode, explain, write): {each * 1000:.1f} ms = "
            f"**{each / F:.2f} F** (target <= 1.3 F)"
        )
        for mark, (done, rss) in sorted(memory.items()):
            print(f"RSS at {mark:,} photos (read at {done:,}): {rss:,.0f} MB")
        if args.worker:
            small = jobs.FolderJob(**{**asdict(job), "photos": job.photos[: args.worker]})
            F = forward_seconds(model_file)
            progress, wall = worker_run(small, cache)
            load, per_photo = os.getloadavg()[0], wall / args.worker
            own = progress["seconds_per_photo"]
            print(
                f"The page's worker (niced), {args.worker} photos: {per_photo * 1000:.1f} ms a "
                f"photo wall clock, start-up included = {per_photo / F:.2f} F (F now "
                f"{F * 1000:.1f} ms); its own figure {own * 1000:.1f} ms a photo = "
                f"{own / F:.2f} F; load average {load:.1f} on {os.cpu_count()} cores"
            )
        if args.browser:
            second = jobs.FolderJob(**{**asdict(job), "method": "HiResCAM"})  # another job
            slider_steps(folder, model_file, second, cache)


if __name__ == "__main__":
    main()
