"""A crowd without browsers: N visitors arriving at once at one ResNet-50 server (random weights).

Each visitor is a real Streamlit session driven by benchmarks/streamlit_client.py (Streamlit's
websocket protocol, no Chromium on the server's cores). For each N in turn, N visitors open the
Explain page, upload a photo of their own at the same moment (a different photo for every
visitor of every round, so no visitor finds another's explanation in the shared cache), then
move the alpha slider at the same moment. The figures go to artifacts/crowd.json:

- upload → result and slider → redraw, p50 and p95 (the result: the prediction, the overlay, and
  every picture the run names fetched from /media, as a browser would);
- the server's CPU seconds per explanation (/proc/<pid>/stat, from the moment all upload to the
  moment all have their result, divided by N);
- p95 / (N × one explanation's CPU seconds ÷ usable cores): 1 when the crowd is served as fast
  as the cores allow, more when it waits on something else than the cores.

    .venv/bin/python benchmarks/bench_crowd.py [--visitors 1,2,4,8,16] [--side 1024] [--fairness]

--fairness: then one visitor's upload → result idle, and while another visitor runs each of the
expensive actions in turn: Score-CAM on the Explain page, the Compare page's full grid, a Folder
run of 400 photos (the issue asks for at most 2× idle). --browser: one headless Chromium visitor
alone, then uploading at the same moment as three light ones: what a person sees, beside what
the light clients time.

A visitor whose page shows an error or another visitor's photo never sees its result: the
benchmark then stops with a TimeoutError naming the wait.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.streamlit_client import Visitor  # noqa: E402
from core.config import ROOT  # noqa: E402
from core.models.build import build_classifier  # noqa: E402
from core.models.info import ModelInfo, save_classifier  # noqa: E402
from tests.support.photos import make_pets  # noqa: E402
from tests.support.servers import cpu_seconds, streamlit_server  # noqa: E402

# The Explain page's widgets, by the start of their labels.
UPLOADER, SLIDER = "A photo of", "Heatmap opacity (alpha)"
TIMEOUT = 600  # seconds a visitor waits for its result
SAMPLES = 4  # uploads idle, and as many during an expensive action


def photo(seed: int, side: int) -> bytes:
    """A JPEG of `side`×3/4·`side` of smooth random colours, different for every seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    picture = cv2.resize(small, (side, side * 3 // 4), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def children(pid: int) -> list[int]:
    """The process's children now (a Folder run's worker is one)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of the process and its children now."""
    return sum(cpu_seconds(p) for p in [pid, *children(pid)] if Path(f"/proc/{p}").exists())


def has_result(name: str):
    """A run that shows this visitor's photo (its caption), the prediction and the overlay."""

    def check(run) -> bool:
        own = any(caption.startswith(f"{name} (") for caption in _captions(run))
        predicted = any("Prediction:" in text for text in run.texts)
        return own and predicted and _overlay(run) is not None

    return check


def _captions(run) -> list[str]:
    return [caption for caption, _ in run.images]


def _overlay(run) -> str | None:
    return next((c for c in _captions(run) if c.startswith("Overlay, alpha")), None)


async def one_visitor(url: str, name: str, data: bytes, together: asyncio.Barrier, mark) -> dict:
    """Open the page; with the others, upload; with the others, move alpha one step. The first
    through each gate calls `mark` (the server's CPU seconds around the uploads)."""
    visitor = Visitor(url)
    try:
        await visitor.open()
        if await together.wait() == 0:
            mark("uploads")
        start = time.perf_counter()
        # Another visitor's photo, or none, would never satisfy has_result: the timeout says so.
        await asyncio.wait_for(visitor.upload(UPLOADER, name, data, has_result(name)), TIMEOUT)
        upload_s = time.perf_counter() - start
        if await together.wait() == 0:
            mark("sliders")
        alpha = round(list(visitor.run_widget(SLIDER).default)[0] + 0.05, 2)
        start = time.perf_counter()
        redrawn = f"Overlay, alpha {alpha:.2f}"
        await asyncio.wait_for(
            visitor.set_slider(SLIDER, alpha, lambda run: _overlay(run) == redrawn), TIMEOUT
        )
        slider_s = time.perf_counter() - start
        return {"photo": name, "upload_s": upload_s, "slider_s": slider_s}
    except BaseException:
        await together.abort()  # the others stop waiting for this one
        raise
    finally:
        await visitor.close()


async def crowd(url: str, pid: int, visitors: int, first_seed: int, side: int) -> dict:
    """`visitors` sessions at once; their times and the server's CPU seconds over the uploads."""
    together = asyncio.Barrier(visitors)
    photos = {f"photo-{first_seed + n}.jpg": photo(first_seed + n, side) for n in range(visitors)}
    marks = {}
    results = await asyncio.gather(
        *(
            one_visitor(url, name, data, together, lambda at: marks.update({at: cpu_seconds(pid)}))
            for name, data in photos.items()
        )
    )
    cpu = marks["sliders"] - marks["uploads"]
    uploads, sliders = [r["upload_s"] for r in results], [r["slider_s"] for r in results]
    return {
        "visitors": visitors,
        "upload_to_result_s": {"p50": statistics.median(uploads), "p95": p95(uploads)},
        "slider_to_redraw_s": {"p50": statistics.median(sliders), "p95": p95(sliders)},
        "server_cpu_s_per_upload": cpu / visitors,
    }


async def score_cam(visitor: Visitor) -> None:
    """Score-CAM of the visitor's photo, on the Explain page (in one of the slots)."""
    await visitor.choose("Method", lambda run: _overlay(run) is not None, string_value="Score-CAM")


async def compare_grid(visitor: Visitor) -> None:
    """The Compare page's default grid (every method at every layer) of the visitor's photo."""
    await visitor.go("compare", lambda run: True)
    filled = lambda run: any("deletion AUC" in caption for caption, _ in run.images)  # noqa: E731
    await visitor.click("Fill the grid", filled)


async def folder_run(visitor: Visitor) -> None:
    """A Folder run of the data root's validation folder, started (its worker runs on alone)."""
    await visitor.go("folder", lambda run: True)
    await visitor.click("Explain these photos", lambda run: True)


EXPENSIVE = {"Score-CAM": score_cam, "Compare grid": compare_grid, "Folder run": folder_run}


async def fairness(url: str, pid: int, side: int, action: str, first_seed: int) -> dict:
    """A visitor's upload → result idle, then while another visitor's `action` (EXPENSIVE) runs
    (issue #32, item 4: at most 2× idle). `SAMPLES` uploads idle, then as many during it; a Folder
    run's worker is given 15 s to start (a process of its own loading TensorFlow and the model),
    and stopped after. The cores the server and its children kept busy meanwhile say the action
    was running."""
    busy, other = Visitor(url), Visitor(url)
    await busy.open()
    await other.open()
    seeds = iter(range(first_seed, first_seed + 3 * SAMPLES))

    async def upload(visitor: Visitor) -> float:
        name = f"photo-{(seed := next(seeds))}.jpg"
        start = time.perf_counter()
        await visitor.upload(UPLOADER, name, photo(seed, side), has_result(name))
        return time.perf_counter() - start

    idle = [await upload(other) for _ in range(SAMPLES)]
    await upload(busy)
    expensive = asyncio.create_task(EXPENSIVE[action](busy))
    await asyncio.sleep(15 if action == "Folder run" else 2)  # under way
    cpu, start = tree_cpu_seconds(pid), time.perf_counter()
    during = [await upload(other) for _ in range(SAMPLES)]
    busy_cores = (tree_cpu_seconds(pid) - cpu) / (time.perf_counter() - start)
    running = not expensive.done() or action == "Folder run"
    await asyncio.wait_for(expensive, TIMEOUT)
    for worker in children(pid):  # a Folder run's: it would go on after the benchmark
        os.kill(worker, signal.SIGTERM)
    for visitor in (busy, other):
        await visitor.close()
    return {
        "expensive": action,
        "upload_idle_s": idle,
        "upload_during_s": during,
        "ratio": statistics.median(during) / statistics.median(idle),
        "expensive_still_running_after_uploads": running,
        "cores_busy_meanwhile": busy_cores,
    }


def browser_beside(url: str, pid: int, weights: Path, light: int, seed: int, side: int) -> dict:
    """One Chromium visitor (tests/support/browser.visitor: upload → the prediction and overlay
    drawn, then one alpha step) uploading at the same moment as `light` light visitors: what a
    person sees, beside what the light clients time. Chromium costs about a core while it draws,
    on the server's two: it slows the others a little."""
    from tests.support.browser import expected_predictions, visitor

    path = weights.parent / f"browser-{seed}.jpg"  # `weights`: the weights folder
    path.write_bytes(photo(seed, side))
    expected = expected_predictions(weights, [path])[path]
    together, seen = threading.Barrier(2), {}
    chromium = threading.Thread(target=lambda: seen.update(visitor(url, path, expected, together)))
    chromium.start()
    together.wait(300)  # the browser is on the page: all upload now
    crowd_ = asyncio.run(crowd(url, pid, light, seed + 1, side)) if light else None
    together.wait(300)
    chromium.join(300)
    return {
        "light_visitors": light,
        "browser_upload_to_result_s": seen.get("upload_s"),
        "browser_slider_to_redraw_s": seen.get("slider_s"),
        "light_upload_to_result_s": crowd_ and crowd_["upload_to_result_s"],
    }


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", default="1,2,4,8,16", help="crowd sizes, in turn")
    parser.add_argument("--side", type=int, default=1024, help="the photos' width in pixels")
    parser.add_argument(
        "--fairness", action="store_true", help="also: an upload during each expensive action"
    )
    parser.add_argument(
        "--browser", action="store_true", help="also: one Chromium visitor alone and beside 3"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.visitors.split(",")]
    cores = len(os.sched_getaffinity(0))
    rounds, seed = [], 1000
    with tempfile.TemporaryDirectory(prefix="bench-crowd-") as folder:
        weights = Path(folder) / "weights"
        model = build_classifier("none")
        save_classifier(model, ModelInfo(backbone_weights="none"), weights / "model.keras")
        del model
        # The Folder run's photos: 400 generated 224 px pets under the data root (validation/).
        data = make_pets(Path(folder) / "data", n_train=1, n_validation=200, size=224)
        env = {"CATDOG_WEIGHTS_DIR": str(weights), "CATDOG_DATA_DIR": str(data)}
        with streamlit_server(env) as (url, server):
            # One visitor first, alone: a new server's first session (not counted).
            warm = asyncio.run(crowd(url, server.pid, 1, 0, args.side))
            for visitors in sizes:
                rounds.append(asyncio.run(crowd(url, server.pid, visitors, seed, args.side)))
                seed += visitors
                print(json.dumps(rounds[-1]), flush=True)
            fair = [
                asyncio.run(fairness(url, server.pid, args.side, action, 90_000 + 100 * i))
                for i, action in enumerate(EXPENSIVE if args.fairness else ())
            ]
            for figures in fair:
                print(json.dumps(figures), flush=True)
            beside = [
                browser_beside(url, server.pid, weights, light, 95_000 + 10 * i, args.side)
                for i, light in enumerate((0, 3) if args.browser else ())
            ]
            for figures in beside:
                print(json.dumps(figures), flush=True)
    one = next((r for r in rounds if r["visitors"] == 1), warm)["server_cpu_s_per_upload"]
    for figures in rounds:
        limit = figures["visitors"] * one / cores
        figures["p95_over_cpu_limit"] = figures["upload_to_result_s"]["p95"] / limit
    result = {
        "usable_cores": cores,
        "photo_side_px": args.side,
        "one_explanation_cpu_s": one,
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "first_visitor_upload_s": warm["upload_to_result_s"]["p50"],
        "rounds": rounds,
        "fairness": fair,
        "browser_beside": beside,
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "crowd.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
