"""A finished run becomes the current model only when it is better on the same validation photos,
or when the person says so; nothing is deleted either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.atomic import write_json
from core.cli.options import parser
from core.training import jobs, publishing, store
from core.workers.records import PROGRESS
from tests.support.models import tiny_model
from tests.support.photos import make_pets
from tests.support.runs import FAST

SAME = {"data": "/d/pets", "photos": 200, "sha256": "a" * 64}
OTHER = {"data": "/d/mine", "photos": 12, "sha256": "b" * 64}


def current_run(weights: Path, report: dict | None) -> Path:
    run = weights / store.RUNS / "20260101-000000"
    run.mkdir(parents=True)
    (run / "model.keras").write_bytes(b"model")
    write_json(run / PROGRESS, {"state": "done", "message": "Done.", "report": report})
    store.publish(run, weights)
    return run


@pytest.mark.parametrize(
    "theirs, mine, rule, published, said",
    [
        (None, (0.3, 0.9, SAME), "if-better", True, "none to compare it with"),
        ((0.57, 0.6, SAME), (0.333, 0.9, OTHER), "if-better", False, "measured on other photos"),
        ((0.57, 0.6, SAME), (0.60, 0.9, SAME), "if-better", True, "better than run"),
        ((0.57, 0.6, SAME), (0.50, 0.1, SAME), "if-better", False, "does as well or better"),
        ((0.57, 0.6, SAME), (0.57, 0.5, SAME), "if-better", True, "better than run"),  # loss
        ((0.57, 0.6, SAME), (0.57, 0.6, SAME), "if-better", False, "does as well or better"),
        ((0.57, 0.6, SAME), (0.333, 0.9, OTHER), "always", True, "as asked"),
    ],
)
def test_the_publishing_rule(tmp_path, theirs, mine, rule, published, said):
    weights = tmp_path / "weights"
    keys = ("accuracy", "val_loss", "validation_set")
    current_run(weights, dict(zip(keys, theirs)) if theirs else None)
    decision = publishing.decide(dict(zip(keys, mine)), weights, rule)
    assert decision.publish is published and said in decision.why


@pytest.mark.slow
def test_a_run_on_other_photos_is_kept_beside_the_current_model_until_asked(tmp_path):
    weights = tmp_path / "weights"
    first = jobs.run(make_pets(tmp_path / "pets", 12, 4), weights, FAST, build=tiny_model)
    assert first.published
    assert "It is now the current model (none to compare it with)." in first.message
    small = make_pets(tmp_path / "mine", 4, 2, seed=5)
    second = jobs.run(small, weights, FAST, build=tiny_model)
    assert second.state == "done" and second.published is False
    assert "Not made current: the current model (run" in second.message
    assert "8 photos of pets; this run: 4 photos of mine" in second.message
    assert store.in_use(weights) == Path(first.run_dir).resolve()
    assert (Path(second.run_dir) / "model.keras").is_file()  # kept, not deleted
    rows = publishing.comparison(Path(second.run_dir), weights)
    assert [row["measured on"] for row in rows] == ["4 photos of mine", "8 photos of pets"]
    publishing.make_current(Path(second.run_dir), weights)  # the person says so
    assert store.in_use(weights) == Path(second.run_dir).resolve()
    assert (Path(first.run_dir) / "model.keras").is_file()


def test_the_cli_takes_the_rule():
    args = parser().parse_args(["train", "--data", "d"])
    assert args.publish == "if-better"
    assert parser().parse_args(["train", "--data", "d", "--publish", "always"]).publish == "always"
