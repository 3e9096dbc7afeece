"""A folder at a glance: the worker, its cache, the table, the export, the bounds, the page."""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.atomic import write_json
from core.folder import jobs, run, table
from core.folder.table import Filters
from tests.support import apps
from tests.support.photos import make_pets

PAGE = "pages/folder.py"
LAYERS = ("conv_a", "conv_b", "fused")  # the tiny model's, and the two fused


def a_job(
    tmp_path: Path, weights: Path, n: int = 3, every_layer: bool = False
) -> tuple[jobs.FolderJob, Path, Path]:
    """A job over a generated validation split (n photos per class), its folder prepared."""
    from core.models.catalog import model_key

    data = make_pets(tmp_path / "data", n_train=1, n_validation=n)
    cache = tmp_path / "cache"
    photos = jobs.photos_in(data / "validation", (tmp_path / "data",), cache, None)
    model = weights / "model.keras"
    folder = str((data / "validation").resolve())
    job = jobs.FolderJob(
        folder, tuple(photos), str(model), model_key(model), every_layer=every_layer
    )
    job_dir = jobs.job_dir(job, cache)
    job_dir.mkdir(parents=True)
    write_json(job_dir / jobs.JOB, asdict(job))
    return job, job_dir, cache


def test_a_stopped_run_resumes_and_a_finished_one_computes_nothing_again(
    monkeypatch, tmp_path, tiny_weights
):
    job, job_dir, cache = a_job(tmp_path, tiny_weights)
    explained, original = [], run.explain_batch

    def then_stop(folder, job, explainer, indices, batch_size):
        explained.append(list(indices))
        skipped = original(folder, job, explainer, indices, batch_size)
        jobs.stop(folder)  # as the page's Stop button: after this batch
        return skipped

    monkeypatch.setattr(run, "explain_batch", then_stop)
    stopped = run.work(job_dir, background=False, batch_size=4)
    assert stopped.state == "stopped" and stopped.done == 4 and explained == [[0, 1, 2, 3]]
    first = (job_dir / "batch_000000.npz").stat().st_mtime_ns

    monkeypatch.setattr(run, "explain_batch", original)
    (job_dir / "stop").unlink()  # jobs.start removes it
    done = run.work(job_dir, background=False, batch_size=4)
    assert done.state == "done" and (done.done, done.total) == (6, 6)
    assert (job_dir / "batch_000000.npz").stat().st_mtime_ns == first  # kept, not redone
    assert [p.name for p in jobs.batches(job_dir)] == ["batch_000000.npz", "batch_000004.npz"]

    def no_worker(folder):
        raise AssertionError("a finished job started a worker")

    monkeypatch.setattr(jobs, "_launch", no_worker)
    assert jobs.start(job, cache) == job_dir  # the same folder and model: nothing new
    assert jobs.status(job_dir).state == "done"
    # Another model, or a photo changed since, is another job.
    assert jobs.job_dir(jobs.FolderJob(**{**asdict(job), "model_key": "other"}), cache) != job_dir
    photo = Path(job.folder) / job.photos[0]
    photo.write_bytes(photo.read_bytes() + b"\0")
    assert jobs.job_dir(job, cache) != job_dir


@pytest.mark.parametrize("every_layer", [False, True])
def test_each_photo_keeps_its_prediction_true_class_and_maps(tmp_path, tiny_weights, every_layer):
    job, job_dir, _ = a_job(tmp_path, tiny_weights, n=2, every_layer=every_layer)
    run.work(job_dir, background=False)
    rows, names = table.read_table(job_dir, job)
    assert names == ["cat", "dog"] and list(rows["photo"]) == list(job.photos)
    assert list(rows["true"]) == ["cat", "cat", "dog", "dog"]
    assert rows["confidence"].between(0.5, 1.0).all()
    assert (rows["right"] == (rows["true"] == rows["predicted"])).all()
    maps = table.raw_maps(job_dir, rows.iloc[0]["batch"], int(rows.iloc[0]["row"]))
    # The default layer's maps, or every layer's and their fusion.
    every = {"conv_a": (8, 8), "conv_b": (4, 4), "fused": (8, 8)}
    expected = every if every_layer else {"conv_b": (4, 4)}
    assert {layer: raw.shape for layer, raw in maps.items()} == expected


def by_hand() -> pd.DataFrame:
    """Five photos: three known right or wrong, one of an unknown class."""
    frame = pd.DataFrame(
        {
            "photo": ["cats/a.png", "cats/b.png", "dogs/c.png", "dogs/d.png", "e.png"],
            "true": ["cat", "cat", "dog", "dog", None],
            "predicted": ["cat", "dog", "dog", "cat", "dog"],
            "confidence": [0.9, 0.6, 0.75, 0.95, 0.7],
            "batch": ["batch_000000.npz"] * 5,
            "row": range(5),
        },
        index=pd.Index(range(5), name="index"),
    )
    frame["right"] = (frame["true"] == frame["predicted"]).where(frame["true"].notna(), None)
    return frame


def photos(rows: pd.DataFrame) -> list[str]:
    return [Path(photo).stem for photo in rows["photo"]]


def test_filters_and_sorting_on_a_small_example():
    rows = by_hand()
    assert photos(table.filtered(rows, Filters())) == ["d", "a", "c", "e", "b"]
    assert photos(table.filtered(rows, Filters(least_sure_first=True))) == list("becad")
    assert photos(table.filtered(rows, Filters(verdict="wrong"))) == ["d", "b"]
    assert photos(table.filtered(rows, Filters(verdict="right"))) == ["a", "c"]
    # A class: its true photos and those predicted as it.
    assert photos(table.filtered(rows, Filters(classes=("cat",)))) == ["d", "a", "b"]
    assert photos(table.filtered(rows, Filters(band=(0.7, 0.9)))) == ["a", "c", "e"]
    both = Filters(verdict="wrong", classes=("dog",), band=(0.0, 0.8))
    assert photos(table.filtered(rows, both)) == ["b"]


def test_accuracy_and_confusion_count_only_photos_of_a_known_class():
    rows = by_hand()
    assert table.accuracy(rows) == 0.5
    assert table.confusion(rows, ["cat", "dog"]).tolist() == [[1, 1], [1, 1]]
    unknown = rows.iloc[[4]]
    assert table.accuracy(unknown) is None and table.confusion(unknown, ["cat", "dog"]) is None
    assert table.true_class("cats/a.png", ["cat", "dog"]) == "cat"
    assert table.true_class("birds/a.png", ["birds", "cats", "dogs"]) == "birds"
    assert table.true_class("a.png", ["cat", "dog"]) is None
    assert table.true_class("dog.12.jpg", ["cat", "dog"]) == "dog"  # Kaggle's names
    assert table.true_class("x/Abyssinian_3.jpg", ["Abyssinian", "pug"]) == "Abyssinian"
    assert table.true_class("cats/IMG_1.jpg", ["bird", "fox"]) is None


def test_the_zip_holds_overlays_raw_maps_the_table_and_a_manifest(tmp_path, tiny_weights):
    from core.folder.export import export_zip

    job, job_dir, _ = a_job(tmp_path, tiny_weights, n=1, every_layer=True)
    run.work(job_dir, background=False)
    rows, _ = table.read_table(job_dir, job)
    look = {"max_side": 16, "alpha": 0.5, "colormap": "jet"}
    data = export_zip(job_dir, job, rows, "conv_b", look, {"folder": "data/validation"})
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {"overlays/cats/cat_000.png", "overlays/dogs/dog_000.png"} <= names
    assert {f"maps/cats/cat_000/{layer}.npy" for layer in LAYERS} <= names
    raw = np.load(io.BytesIO(archive.read("maps/dogs/dog_000/conv_b.npy")))
    expected = table.raw_maps(job_dir, rows.iloc[1]["batch"], int(rows.iloc[1]["row"]))["conv_b"]
    assert np.array_equal(raw, expected)
    csv = pd.read_csv(io.BytesIO(archive.read("table.csv")))
    assert list(csv.columns) == table.COLUMNS and list(csv["photo"]) == list(job.photos)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["overlay_layer"] == "conv_b" and manifest["photos"] == 2
    assert manifest["method"] == "Grad-CAM"
    assert str(tmp_path) not in archive.read("manifest.json").decode()
    # Written into a file instead, a photo at a time told: the same archive.
    photos = []
    into = tmp_path / "download.zip"
    look_and_about = (look, {"folder": "data/validation"})
    made = export_zip(
        job_dir, job, rows, "conv_b", *look_and_about, into=into, progress=lambda: photos.append(1)
    )
    assert made is None and len(photos) == len(rows) == 2
    assert set(zipfile.ZipFile(into).namelist()) == names


def test_a_folder_outside_the_roots_or_over_the_limit_is_refused_in_one_line(tmp_path):
    data = make_pets(tmp_path / "data", n_train=1, n_validation=3)
    elsewhere = make_pets(tmp_path / "elsewhere", n_train=1, n_validation=1)
    roots, cache = (tmp_path / "data",), tmp_path / "cache"
    with pytest.raises(jobs.FolderError, match="not under the data roots") as outside:
        jobs.photos_in(elsewhere / "validation", roots, cache, None)
    assert str(tmp_path) not in str(outside.value)
    with pytest.raises(jobs.FolderError) as many:
        jobs.photos_in(data / "validation", roots, cache, 5)
    assert str(many.value) == (
        "The folder data/validation holds 6 photos; one request may explain at most 5: choose a "
        "smaller folder or upload up to 5 photos."
    )
    assert len(jobs.photos_in(data / "validation", roots, cache, 6)) == 6
    # Uploads live under the cache, the same photos in the same folder.
    sent = [("a b.png", (data / "validation/cats/cat_000.png").read_bytes())]
    kept = jobs.keep_uploads(sent, cache)
    assert kept == jobs.keep_uploads(sent, cache)
    assert jobs.photos_in(kept, roots, cache, 1) == ["0000_a_b.png"]


def image_captions(node) -> set[str]:
    """The captions of every image at or below an AppTest node."""
    found = set(node.captions) if getattr(node, "type", None) == "image" else set()
    for child in getattr(node, "children", {}).values():
        found |= image_captions(child)
    return found


def wait_until_done(at: AppTest, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and not at.get("dataframe"):
        time.sleep(1)
        at.run()
        assert not at.exception, at.exception


def test_the_page_explains_a_folder_in_a_worker_then_filters_and_opens_a_photo(
    monkeypatch, tmp_path, tiny_weights
):
    data = make_pets(tmp_path / "data", n_train=1, n_validation=3)
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(data))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    at = apps.open_page(PAGE)
    assert not at.exception
    assert at.selectbox(key="folder_dir").value == (data / "validation").resolve()
    at.button(key="folder_explain").click().run()
    assert at.info[0].value == "Explaining 6 photos in the background."
    wait_until_done(at)
    assert (
        at.metric[0].label == "Accuracy"
        and not at.segmented_control(key="folder_verdict").disabled
    )
    frame = at.dataframe[0].value
    assert len(frame) == 6 and list(frame.columns) == table.COLUMNS
    captions = [caption.value for caption in at.caption]
    assert "Done: 6 photos." in captions and "6 of 6 photos, sorted by confidence." in captions
    assert len(image_captions(at.main)) == 1 + 6  # the confusion matrix, the gallery
    at.slider(key="folder_band").set_value((0.99, 1.0)).run()
    assert len(at.dataframe[0].value) == (frame["confidence"] >= 0.99).sum()
    at.slider(key="folder_band").set_value((0.0, 1.0)).run()
    at.button(key="folder_open 0").click().run()
    assert not at.exception
    dialog = next(iter(at._tree.children[2].children.values()))  # the event block: the dialog
    assert dialog.proto.dialog.title == "One photo, every layer"
    assert image_captions(dialog) == {f"cats/cat_000.png · {layer}" for layer in LAYERS}

    # The ZIP of the rows shown: made when asked for, beside the job, then offered; asked for
    # other rows (a filter), it must be made again.
    assert not at.get("download_button")
    at.button(key="folder_zip").click().run()
    assert not at.exception and not [c for c in at.caption if "Stopped" in c.value]
    [offered] = at.get("download_button")
    assert offered.proto.label.startswith("Download the ZIP (")
    assert len(list(tmp_path.rglob("download-*.zip"))) == 1  # named by the rows it holds
    at.slider(key="folder_band").set_value((0.99, 1.0)).run()
    assert not at.get("download_button")
    at.slider(key="folder_band").set_value((0.0, 1.0)).run()

    # The same folder and model again: nothing to compute.
    at.button(key="folder_explain").click().run()
    assert at.info[0].value == "6 photos already explained by this model."

    # The results name their model (with its digest) and folder; another folder chosen in the
    # sidebar leaves them labelled as made elsewhere, never as the chosen folder's.
    made = [m.value for m in at.markdown if m.value.startswith("Results of ")]
    assert made and "(SHA-256 " in made[0] and "on **data/validation**, Grad-CAM." in made[0]
    assert not [w for w in at.warning if "made by another model or folder" in w.value]
    at.selectbox(key="folder_dir").set_value((data / "train").resolve()).run()
    assert [w for w in at.warning if "made by another model or folder" in w.value]


def test_photos_of_no_known_class_are_not_offered_right_or_wrong(
    monkeypatch, tmp_path, tiny_weights
):
    # The operator's validation folder, of photos in no class folder, named as a phone names
    # them (cat_000.png would say its class: core/data/layouts.py's true_class).
    loose = tmp_path / "loose"
    loose.mkdir()
    photos = make_pets(tmp_path / "data", n_train=0, n_validation=2).rglob("*.png")
    for i, photo in enumerate(sorted(photos)):
        photo.rename(loose / f"IMG_{i:04d}.png")
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(loose))
    at = apps.open_page(PAGE)
    assert at.selectbox(key="folder_dir").value == loose.resolve()
    at.button(key="folder_explain").click().run()
    wait_until_done(at)
    assert len(at.dataframe[0].value) == 4 and at.dataframe[0].value["right"].isna().all()
    shown = at.segmented_control(key="folder_verdict")
    assert shown.disabled and "No photo has a true class" in shown.help
    assert "The photos' classes are unknown (no class folders): no accuracy." in [
        caption.value for caption in at.caption
    ]


def test_folder_runs_at_once_are_bounded_for_the_whole_server(tmp_path, tiny_weights, monkeypatch):
    """Another session's live run counts: at the bound a new run is refused in one line."""
    import os
    from types import SimpleNamespace

    job, job_dir, cache = a_job(tmp_path, tiny_weights)
    other = cache / "another-sessions-run"
    other.mkdir()
    write_json(other / "progress.json", {"state": "running", "pid": os.getpid()})  # alive
    launched = []
    monkeypatch.setattr(jobs, "_launch", lambda f: launched.append(f) or SimpleNamespace(pid=1))
    assert jobs.running_jobs(cache) == 1
    with pytest.raises(jobs.FolderError, match="1 folder run.*at once") as refused:
        jobs.start(job, cache, max_running=1)
    assert "\n" not in str(refused.value) and launched == []
    assert jobs.start(job, cache, max_running=2) == job_dir and launched == [job_dir]


def test_in_public_mode_uploading_many_photos_needs_the_training_sign_in(
    monkeypatch, tmp_path, tiny_weights
):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    at = apps.open_page(PAGE)
    assert not at.exception
    (uploader,) = [e for e in at.sidebar if getattr(e, "type", "") == "file_uploader"]
    assert uploader.proto.disabled and "sign-in" in uploader.proto.help
    monkeypatch.setenv("CATDOG_PUBLIC", "0")
    at = apps.open_page(PAGE)
    (uploader,) = [e for e in at.sidebar if getattr(e, "type", "") == "file_uploader"]
    assert not uploader.proto.disabled


def test_the_progress_line_says_what_the_run_waits_for():
    from core.workers.records import FolderProgress
    from ui.folder.present import progress_line

    assert progress_line(FolderProgress()).startswith("Starting: the worker loads TensorFlow")
    starting = progress_line(FolderProgress(state="running", done=0, total=200))
    assert starting.startswith("Starting for 200 photos:")
    going = FolderProgress(state="running", done=64, total=200, seconds_per_photo=0.1)
    assert progress_line(going) == "64/200 photos · 0.10 s a photo"
    assert progress_line(going, stopping=True).startswith("Stopping after this batch")


def test_the_zip_keeps_photos_of_one_name_apart(tmp_path, tiny_weights):
    """x.png beside x.jpg (one photo saved twice, as people do): two overlays, two map folders."""
    from core.folder.export import export_zip
    from core.models.catalog import model_key

    data = make_pets(tmp_path / "data", n_train=1, n_validation=1)
    cats = data / "validation" / "cats"
    Image.open(cats / "cat_000.png").save(cats / "cat_000.jpg")
    cache, model = tmp_path / "cache", tiny_weights / "model.keras"
    photos = jobs.photos_in(data / "validation", (tmp_path / "data",), cache, None)
    folder = str((data / "validation").resolve())
    job = jobs.FolderJob(folder, tuple(photos), str(model), model_key(model))
    job_dir = jobs.job_dir(job, cache)
    job_dir.mkdir(parents=True)
    write_json(job_dir / jobs.JOB, asdict(job))
    run.work(job_dir, background=False)
    rows, _ = table.read_table(job_dir, job)
    look = {"max_side": 16, "alpha": 0.5, "colormap": "jet"}
    archive = zipfile.ZipFile(io.BytesIO(export_zip(job_dir, job, rows, "conv_b", look, {})))
    names = set(archive.namelist())
    assert {"overlays/cats/cat_000.jpg.png", "overlays/cats/cat_000.png.png"} <= names
    assert {"maps/cats/cat_000.jpg/conv_b.npy", "maps/cats/cat_000.png/conv_b.npy"} <= names
    assert "overlays/dogs/dog_000.png" in names  # a name met once keeps its short form
