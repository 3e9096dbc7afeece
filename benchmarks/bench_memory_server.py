"""bench_memory.py --server: the app's server RSS while three visitors explain distinct 12-MP
photos, each seen in several looks (benchmarks/streamlit_client.py, no browser)."""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.bench_crowd import SLIDER, UPLOADER, has_result
from benchmarks.streamlit_client import Visitor
from core.config import ROOT, Config
from core.explain.overlay import COLORMAPS
from core.models.build import build_classifier
from core.models.info import ModelInfo, save_classifier
from tests.support.servers import streamlit_server

SESSIONS = 3
WIDTH, HEIGHT = 4032, 3024  # 12 MP, as a phone takes them


def twelve_mp(seed: int) -> bytes:
    """A distinct 12-MP JPEG: smooth random colours with grain, about a phone photo's size."""
    rng = np.random.default_rng(seed)
    smooth = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (WIDTH, HEIGHT))
    grain = rng.integers(-12, 13, (HEIGHT, WIDTH, 1), dtype=np.int16)
    picture = np.clip(smooth.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_figures(figures: dict) -> None:
    """Into artifacts/memory.json, beside the other mode's figures already there."""
    path = ROOT / "artifacts" / "memory.json"
    path.parent.mkdir(exist_ok=True)
    kept = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**kept, **figures}, indent=2))


def rss_of(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line.split()[1] for line in status if line.startswith("VmRSS"))) / 1024


def looks_of(count: int) -> list[tuple[str, float]]:
    """`count` distinct looks, (colormap, alpha), the default's first: each colormap in turn, at
    alphas from the default up in the slider's steps of 0.05 (a new overlay drawn for each)."""
    cycle = len(COLORMAPS)
    alphas = [round(Config.alpha + 0.05 * (i // cycle), 2) for i in range(count)]
    return [(COLORMAPS[i % cycle], alpha) for i, alpha in enumerate(alphas)]


async def visitor_in_turn(url: str, seeds: list[int], looks: int, after) -> None:
    """Upload each seed's photo (made as it is needed), see it in `looks` looks (`looks_of`);
    `after(index)` once each photo is done."""
    visitor = Visitor(url)
    try:
        await visitor.open()
        for index, seed in enumerate(seeds):
            name = f"phone-{seed}.jpg"
            await visitor.upload(UPLOADER, name, twelve_mp(seed), has_result(name))
            shown = looks_of(looks)[0]
            for colormap, alpha in looks_of(looks)[1:]:  # the first look is the default's
                if alpha != shown[1]:
                    await visitor.set_slider(SLIDER, alpha, has_result(name))
                await visitor.choose("Colormap", has_result(name), string_value=colormap)
                shown = (colormap, alpha)
            await after(index)
    finally:
        await visitor.close()


async def sessions(url: str, pid: int, per_visitor: int, looks: int, warm: float) -> list:
    """Three visitors at once; the server's RSS above `warm` once all are done with photo i."""
    together, curve = asyncio.Barrier(SESSIONS), []

    async def after(index: int) -> None:
        if await together.wait() == 0:
            curve.append(round(rss_of(pid) - warm, 1))
            print(f"photo {index + 1} of each visitor: RSS {curve[-1]:+.0f} MiB", flush=True)

    seeds = list(range(10_000, 10_000 + SESSIONS * per_visitor))
    await asyncio.gather(
        *(visitor_in_turn(url, seeds[n::SESSIONS], looks, after) for n in range(SESSIONS))
    )
    return curve


def server_memory(per_visitor: int, looks: int, limit_mib: float) -> int:
    """The figures and the verdict: under `limit_mib` above warm, and levelling off."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        weights = Path(folder) / "weights"
        save_classifier(
            build_classifier("none"), ModelInfo(backbone_weights="none"), weights / "model.keras"
        )
        with streamlit_server({"CATDOG_WEIGHTS_DIR": str(weights)}) as (url, server):
            # Warm: the model loaded, one visitor's photo explained and drawn in every look.
            asyncio.run(_one(url, [1], looks))
            time.sleep(1)
            warm = rss_of(server.pid)
            curve = asyncio.run(sessions(url, server.pid, per_visitor, looks, warm))
    last_third = curve[-1] - curve[len(curve) * 2 // 3 - 1] if len(curve) >= 3 else None
    levelled = last_third is not None and last_third <= limit_mib / 10
    verdict = "ok" if max(curve) <= limit_mib and levelled else "MISSED"
    write_figures(
        {
            "server": {
                "sessions": SESSIONS,
                "photos_per_session": per_visitor,
                "looks_per_photo": looks,
                "photo": f"{WIDTH}x{HEIGHT} JPEG",
                "warm_rss_mib": round(warm, 1),
                "rss_above_warm_mib_after_each_photo": curve,
                "rise_over_last_third_mib": last_third,
                "limit_mib": limit_mib,
                "load_average": Path("/proc/loadavg").read_text().split()[:3],
                "verdict": verdict,
            }
        }
    )
    print(f"warm {warm:.0f} MiB; above warm {curve}; last third {last_third} MiB: {verdict}")
    return 0 if verdict == "ok" else 1


async def _one(url: str, seeds: list[int], looks: int) -> None:
    async def nothing(index: int) -> None:
        return None

    await visitor_in_turn(url, seeds, looks, nothing)
