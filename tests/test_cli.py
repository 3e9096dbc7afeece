"""`python -m core explain`: JSON lines, overlays at the photo's size, refusals, exit codes."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.images import load_image


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def write_photo(path, size=(30, 20)):
    rgb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def test_explain_writes_overlays_and_prints_json(capsys, tiny_weights, tmp_path):
    photos = [write_photo(tmp_path / "a.png", (30, 20)), write_photo(tmp_path / "b.jpg", (17, 41))]
    out = tmp_path / "out"
    code, records, _ = run(
        capsys,
        "explain",
        *photos,
        "--weights",
        tiny_weights / "model.keras",
        "--out",
        out,
        "--layer",
        "conv_a",
        "--target",
        "cat",
        "--raw",
    )
    assert code == 0 and [r["image"] for r in records] == [str(p) for p in photos]
    for record, photo, size in zip(records, photos, [(20, 30), (41, 17)]):
        assert record["layer"] == "conv_a" and record["target"] == "cat"
        assert (
            record["label"] in ("cat", "dog")
            and abs(sum(record["probabilities"].values()) - 1) < 1e-5
        )
        assert load_image(out / f"{photo.stem}_overlay.png").shape[:2] == size
        assert np.load(out / f"{photo.stem}_raw.npy").shape == (8, 8)


def test_refused_photo_gives_an_error_line_and_non_zero_exit(capsys, tiny_weights, tmp_path):
    good = write_photo(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code, records, _ = run(
        capsys,
        "explain",
        good,
        bad,
        tmp_path / "missing.png",
        "--weights",
        tiny_weights / "model.keras",
        "--out",
        tmp_path / "out",
    )
    assert code == 1
    errors = {r["image"]: r["error"] for r in records if "error" in r}
    assert set(errors) == {str(bad), str(tmp_path / "missing.png")}
    assert (
        "truncated or corrupt" in errors[str(bad)]
        and "no such file" in errors[str(tmp_path / "missing.png")]
    )
    assert [r["image"] for r in records if "label" in r] == [str(good)]


def test_missing_weights_and_bad_options_are_one_line(capsys, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    code, records, err = run(capsys, "explain", photo, "--weights", tmp_path / "absent.keras")
    assert code == 2 and records == [] and err.count("\n") == 1 and "No model at" in err
    code, _, err = run(
        capsys, "explain", photo, "--weights", tmp_path / "absent.keras", "--alpha", "3"
    )
    assert code == 2 and "--alpha" in err


def test_bad_target_and_layer_refused(capsys, tiny_weights, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    code, _, err = run(
        capsys, "explain", photo, "--weights", tiny_weights / "model.keras", "--target", "fox"
    )
    assert code == 2 and "Target 'fox'" in err
    code, _, err = run(
        capsys, "explain", photo, "--weights", tiny_weights / "model.keras", "--layer", "nope"
    )
    assert code == 2 and "Layer 'nope' is not in the model" in err


@pytest.mark.slow
def test_module_help_lists_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "core", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "explain" in result.stdout


def test_real_photos_through_the_cli(capsys, pets, tiny_weights, tmp_path):
    photos = (
        sorted((pets / "validation" / "cats").glob("*.jpg"))[:3]
        + sorted((pets / "validation" / "dogs").glob("*.jpg"))[:3]
    )
    code, records, _ = run(
        capsys, "explain", *photos, "--weights", tiny_weights / "model.keras", "--out", tmp_path
    )
    assert code == 0 and len(records) == 6
    assert all((tmp_path / f"{p.stem}_overlay.png").is_file() for p in photos)


def test_explain_with_another_method_and_smoothing(capsys, tiny_weights, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    code, records, _ = run(
        capsys,
        "explain",
        photo,
        "--weights",
        tiny_weights / "model.keras",
        "--out",
        tmp_path,
        "--method",
        "Score-CAM",
        "--top-n",
        "3",
        "--aug-smooth",
        "--eigen-smooth",
        "--raw",
    )
    assert code == 0 and records[0]["method"] == "Score-CAM"
    assert np.isfinite(np.load(tmp_path / "a_raw.npy")).all()


def test_evaluate_prints_a_table_per_method(capsys, tiny_weights, tmp_path):
    (tmp_path / "photos").mkdir()
    for i in range(3):
        write_photo(tmp_path / "photos" / f"p{i}.png")
    code = main(
        [
            "evaluate",
            "--data",
            str(tmp_path / "photos"),
            "--weights",
            str(tiny_weights / "model.keras"),
            "--method",
            "Grad-CAM",
            "Eigen-CAM",
            "--steps",
            "5",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0].startswith("3 photos from")
    rows = [
        line for line in out if line.startswith("| Grad-CAM") or line.startswith("| Eigen-CAM")
    ]
    assert len(rows) == 2 and all(len(row.split("|")) == 9 for row in rows)
    values = [float(v) for v in rows[0].split("|")[2:-1]]
    assert all(0 <= v <= 1 for v in values[:4])


def test_evaluate_refuses_an_empty_folder(capsys, tiny_weights, tmp_path):
    assert (
        main(["evaluate", "--data", str(tmp_path), "--weights", str(tiny_weights / "model.keras")])
        == 2
    )
    assert "No photos under" in capsys.readouterr().err
