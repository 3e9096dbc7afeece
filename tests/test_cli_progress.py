"""Long commands say how long (#30, item 5): `evaluate` and `explain` over a folder report photo i
of N, the method, the seconds elapsed and left on stderr (core/cli/progress.py)."""

from __future__ import annotations

import io
import itertools
import re

import numpy as np
from PIL import Image

from core.cli.commands import main
from core.cli.progress import Progress

LINE = re.compile(r"photo (\d+) of (\d+) · (.+) · (\d+\.\d) s elapsed · about (\d+) s left")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_per_photo_and_a_terminal_one_updating_line():
    ticks = itertools.count(0.0, 2.0)  # two seconds per photo
    log = io.StringIO()
    progress = Progress(3, "Grad-CAM", log, clock=lambda: next(ticks))
    for _ in range(3):
        progress.step()
    assert log.getvalue().splitlines() == [
        "photo 1 of 3 · Grad-CAM · 2.0 s elapsed · about 4 s left",
        "photo 2 of 3 · Grad-CAM · 4.0 s elapsed · about 2 s left",
        "photo 3 of 3 · Grad-CAM · 6.0 s elapsed · about 0 s left",
    ]
    ticks, terminal = itertools.count(0.0, 2.0), Terminal()
    progress = Progress(2, "Score-CAM", terminal, clock=lambda: next(ticks))
    progress.step()
    progress.step()
    said = terminal.getvalue()
    assert said.count("\r") == 2 and said.count("\n") == 1 and said.endswith("0 s left\n")


def photos(folder, count=3):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(folder / f"{i}.png")
    return folder


def test_evaluate_over_a_folder_says_how_far_it_has_got(capsys, tiny_weights, tmp_path):
    folder = photos(tmp_path / "photos")
    weights = str(tiny_weights / "model.keras")
    argv = ["evaluate", "--data", str(folder), "--weights", weights, "--steps", "3"]
    assert main([*argv, "--method", "Grad-CAM", "Eigen-CAM"]) == 0
    out, err = capsys.readouterr()
    lines = [LINE.fullmatch(line) for line in err.splitlines()]
    # Method by method (one method's CAM alive at a time): each goes over the photos in turn.
    assert all(lines) and [m.group(1, 2, 3) for m in lines] == [
        (str(i), "3", f"{method} (method {n} of 2)")
        for n, method in enumerate(["Grad-CAM", "Eigen-CAM"], 1)
        for i in (1, 2, 3)
    ]
    assert not LINE.search(out)  # stdout is the table alone


def test_explain_over_a_folder_says_how_far_it_has_got_and_one_photo_says_nothing(
    capsys, tiny_weights, tmp_path
):
    folder = photos(tmp_path / "photos")
    weights = str(tiny_weights / "model.keras")
    out_dir = str(tmp_path / "out")
    assert main(["explain", str(folder), "--weights", weights, "--out", out_dir]) == 0
    out, err = capsys.readouterr()
    lines = [LINE.fullmatch(line) for line in err.splitlines()]
    assert len(out.splitlines()) == 3 and all(lines) and len(lines) == 3
    assert lines[-1].group(1, 2, 3) == ("3", "3", "Grad-CAM")
    assert main(["explain", str(folder / "0.png"), "--weights", weights, "--out", out_dir]) == 0
    assert capsys.readouterr().err == ""
