"""One photo, one model, one prediction: training's report, the Explain page, `explain` and the
Folder page's worker prepare a photo the same way (images.photo_for_model; `evaluate`, Compare,
Side by side and the watched photos call it too) and agree to the photo."""

from __future__ import annotations

import io
import json
from dataclasses import asdict

import numpy as np
from PIL import Image

from core.atomic import write_json
from core.cli.commands import main
from core.data.folders import Split
from core.explain.display import explain_photo, load_app_model
from core.folder import jobs, run, table
from core.models.catalog import model_key
from core.models.load import load_classifier
from core.training.recipe import predict_logits

# Odd sizes and aspect ratios, in the formats people send: a phone's 12-MP JPEG is decoded at a
# reduced DCT scale, a wide panorama and a tall strip are squashed, a tiny photo is upscaled.
PHOTOS = {
    "cats/phone.jpg": (4000, 3000),
    "cats/panorama.jpg": (1999, 37),
    "dogs/strip.png": (13, 900),
    "dogs/odd.webp": (333, 777),
    "dogs/tiny.jpg": (7, 5),
}


FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def write_photos(folder) -> dict[str, bytes]:
    written = {}
    for i, (name, (width, height)) in enumerate(PHOTOS.items()):
        y, x = np.mgrid[0:height, 0:width]
        rng = np.random.default_rng(i)
        rgb = np.stack([x * 255 // max(width, 1), y * 255 // max(height, 1), (x + y) % 256], -1)
        rgb = (rgb + rng.integers(-20, 20, rgb.shape)).clip(0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, FORMATS[name.rsplit(".", 1)[1]])
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(buffer.getvalue())
        written[name] = buffer.getvalue()
    return written


def test_every_route_gives_one_photo_the_same_probabilities(tmp_path, tiny_weights, capsys):
    folder = tmp_path / "data" / "validation"
    written = write_photos(folder)
    names = list(PHOTOS)
    weights = tiny_weights / "model.keras"
    classifier = load_classifier(weights)
    cat = classifier.info.class_names.index("cat")

    # Training's report: the validation split through tf.data, in batches.
    split = Split(tuple(str(folder / n) for n in names), tuple(0 for _ in names))
    logits = predict_logits(classifier.model, split, batch_size=4)
    report = classifier.probabilities(np.asarray(logits).reshape(len(names), -1))[:, cat]

    # The Explain page: the photo's bytes as uploaded.
    loaded = load_app_model(path=weights)
    explained = [explain_photo(loaded, written[n], n, "predicted")[1] for n in names]
    page = [explanation.probabilities["cat"] for explanation in explained]

    # python -m core explain FOLDER: one JSON record a photo.
    argv = ["explain", str(folder), "--weights", str(weights), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cli = {r["image"]: r["probabilities"]["cat"] for r in records}
    cli = [cli[str(folder / n)] for n in names]

    # The Folder page's worker, in batches with padding.
    photos = jobs.photos_in(folder, (tmp_path / "data",), tmp_path / "cache", None)
    job = jobs.FolderJob(str(folder.resolve()), tuple(photos), str(weights), model_key(weights))
    job_dir = jobs.job_dir(job, tmp_path / "cache")
    job_dir.mkdir(parents=True)
    write_json(job_dir / jobs.JOB, asdict(job))
    run.work(job_dir, background=False)
    rows, _ = table.read_table(job_dir, job)
    by_photo = dict(zip(rows["photo"], zip(rows["predicted"], rows["confidence"])))
    folder_page = [c if p == "cat" else 1 - c for p, c in (by_photo[n] for n in names)]

    np.testing.assert_allclose(page, report, atol=1e-5)
    np.testing.assert_allclose(cli, report, atol=2e-6)  # the CLI rounds to 6 digits
    np.testing.assert_allclose(folder_page, report, atol=1e-5)
    assert len(set(np.round(report, 3))) > 2  # the photos are told apart: not one constant
