"""Strategies across a folder (SpRAy) and the shortcuts among them.

A tiny CNN is trained in the test on generated 32 x 32 photos: grey noise and a coloured square
(the "pet") near the centre. In the tagged set, one class also carries a small white tag in the
top-left corner and the squares' colours tell nothing, so the tag is the model's only evidence: its
maps for that class form one cluster, flagged, and hiding the tag flips most of its predictions.
In the control set the classes differ by the square's colour and nothing is tagged: nothing is
flagged. The eigengap's choice is checked on maps built by hand, and so is the rule that the
pets' masks (Oxford-IIIT Pet's trimaps) make where they are known: evidence off the pet is flagged,
evidence on it is not.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from core.explain.explainer import Explainer
from core.explain.localization import read_trimap
from core.explain.shortcuts import check, hidden, region
from core.explain.strategies import (
    Strategy,
    cluster,
    downsized,
    eigengap,
    on_the_pet,
    strategies,
)
from core.models.info import Classifier, ModelInfo
from tests.support.photos import trimap

SIDE = 32
SQUARE = 9  # the "pet": a 9 x 9 square
TAG = (slice(1, 7), slice(1, 7))  # a 6 x 6 white tag in the top-left corner
VALIDATION_SEED = 1  # the seed of the validation photos `trained` returns


def photo(rng, colour, tagged: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """(pixels, (top, left) of the square)."""
    pixels = rng.integers(60, 190, (SIDE, SIDE, 3)).astype(np.uint8)
    top, left = rng.integers(10, 14, 2)  # the square near the centre, where subjects are
    pixels[top : top + SQUARE, left : left + SQUARE] = colour
    if tagged:
        pixels[TAG] = 255
    return pixels, (int(top), int(left))


def generated(rng, count: int, tagged_set: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """(photos, labels, the squares' (top, left)): class 1 is the tagged one (tagged set) or the
    reddish one (control)."""
    photos, labels, places = [], [], []
    for i in range(count):
        label = i % 2
        if tagged_set:
            colour = rng.integers(0, 256, 3)  # the square's colour tells nothing
        else:
            colour = (200, 60, 60) if label else (60, 60, 200)
        pixels, place = photo(rng, colour, tagged_set and label == 1)
        photos.append(pixels)
        labels.append(label)
        places.append(place)
    return np.stack(photos), np.array(labels), places


def trained(tagged_set: bool) -> tuple[Classifier, np.ndarray, np.ndarray]:
    """A small CNN trained on a generated set; (classifier, validation photos, their labels)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y, _ = generated(rng, 240, tagged_set)
    inputs = keras.Input((SIDE, SIDE, 3))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_last")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(1, name="logit")(h))
    model.compile(keras.optimizers.Adam(0.01), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x.astype(np.float32), y.astype(np.float32), epochs=40, batch_size=16, verbose=0)
    names = ("plain", "tagged") if tagged_set else ("blue", "red")
    info = ModelInfo(kind="imported", class_names=names, image_size=SIDE, backbone="tiny")
    validation, labels, _ = generated(np.random.default_rng(VALIDATION_SEED), 60, tagged_set)
    return Classifier(model, info), validation, labels


def found(classifier, photos, labels):
    explainer = Explainer(classifier, ["conv_last"])
    explained = explainer.explain(list(photos), "predicted")
    names = list(classifier.info.class_names)
    predicted = [e.label for e in explained]
    truth = [names[i] for i in labels]
    maps = np.stack([e.raw_maps["conv_last"] for e in explained])
    return strategies(maps, predicted, truth, photos), predicted


@pytest.fixture(scope="module")
def tagged():
    return trained(tagged_set=True)


@pytest.fixture(scope="module")
def control():
    return trained(tagged_set=False)


def test_the_tag_is_one_flagged_strategy_and_hiding_it_flips_most(tagged):
    classifier, photos, labels = tagged
    found_, predicted = found(classifier, photos, labels)
    assert np.mean([p == ["plain", "tagged"][t] for p, t in zip(predicted, labels)]) >= 0.9
    tagged_photos = set(np.flatnonzero(labels == 1).tolist())
    flagged = [s for s in found_ if s.flagged]
    assert len(flagged) == 1, [s.record() for s in found_]
    (tag,) = flagged
    assert tag.label == "tagged" and len(tagged_photos & set(tag.members)) >= 0.9 * 30
    assert tag.peak[0] < 0.3 and tag.peak[1] < 0.3 and "the top left" in tag.reason
    record = json.loads(json.dumps(tag.record()))
    assert set(record) == {
        "class", "size", "accuracy", "peak", "spread", "on_object", "flagged", "reason"
    }  # fmt: skip
    assert record["accuracy"] >= 0.9 and record["flagged"] is True
    assert record["on_object"] is None  # no masks
    for how in ("blur", "mean"):
        members = [photos[i] for i in tag.members]
        result = check(classifier, members, tag, how)
        assert result["photos"] == tag.size and result["flipped"] >= 0.5 * tag.size, result


def test_a_set_without_a_shortcut_flags_nothing(control):
    classifier, photos, labels = control
    found_, _ = found(classifier, photos, labels)
    assert found_ and not [s.record() for s in found_ if s.flagged]


def hand_maps(peaks, per_group=12, side=7, seed=0) -> np.ndarray:
    """`per_group` maps per (y, x) peak: a bump there, a little noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side]
    maps = []
    for y, x in peaks:
        for _ in range(per_group):
            bump = np.exp(-((ys - y) ** 2 + (xs - x) ** 2) / 2.0)
            maps.append(bump + 0.01 * rng.random((side, side)))
    return np.stack(maps)


@pytest.mark.parametrize("peaks", [[(0, 0)], [(0, 0), (6, 6)], [(0, 0), (6, 6), (0, 6)]])
def test_the_eigengap_chooses_as_many_clusters_as_there_are_peaks(peaks):
    features = downsized(hand_maps(peaks)).reshape(len(peaks) * 12, -1)
    labels = cluster(features)
    assert len(set(labels)) == len(peaks)
    groups = [set(labels[i * 12 : (i + 1) * 12]) for i in range(len(peaks))]
    assert all(len(g) == 1 for g in groups) and len(set().union(*groups)) == len(peaks)


def test_eigengap_of_a_graph_of_three_parts_by_hand():
    # Three triangles, no edge between them: the Laplacian has three zero eigenvalues, then 1.5.
    block = np.ones((3, 3)) - np.eye(3)
    graph = np.kron(np.eye(3), block)
    assert eigengap(graph) == 3


def test_hiding_keeps_the_photo_and_changes_only_the_region():
    rng = np.random.default_rng(2)
    picture = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    before = picture.copy()
    mask = np.zeros((20, 30), bool)
    mask[:5, :5] = True
    for how in ("blur", "mean"):
        out = hidden(picture, mask, how)
        assert np.array_equal(picture, before)
        assert np.array_equal(out[~mask], picture[~mask]) and not np.array_equal(out, picture)
    with pytest.raises(ValueError):
        hidden(picture, mask, "paint")


@pytest.mark.parametrize("shape", [(224, 224), (37, 301)])
def test_hiding_is_the_whole_photos_blur_or_mean_colour_inside_the_mask(shape):
    # The reference: what the docstrings say, computed on the whole photo (hiding blurs only the
    # region and a margin, and writes straight into the model's batch).
    import cv2

    height, width = shape
    picture = np.random.default_rng(4).integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros(shape, bool)
    mask[5:30, 100:160] = True
    small = cv2.resize(picture, (width // 16, max(1, height // 16)), interpolation=cv2.INTER_AREA)
    stretched = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    blur = cv2.GaussianBlur(stretched, (0, 0), sigmaX=4)
    mean = picture.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    for how, filler in (("blur", blur), ("mean", mean)):
        expected = np.where(mask[..., None], filler, picture)
        np.testing.assert_array_equal(hidden(picture, mask, how), expected)


def test_the_check_traces_its_forward_once_for_any_number_of_photos(tagged):
    from core.models.info import compiled_forward

    classifier, photos, labels = tagged
    corner = np.zeros((8, 8))
    corner[0, 0] = 1.0
    strategy = Strategy("tagged", tuple(range(17)), corner, None, (0.06, 0.06), 0.0, (0,))
    for count in (17, 3, 1):  # a full batch and a short one, then shorter ones
        result = check(classifier, list(photos[:count]), strategy, "mean")
        assert result["photos"] == count
    assert compiled_forward(classifier.model).experimental_get_tracing_count() == 1


def test_the_region_is_where_the_mean_map_is_high(tagged):
    mean = np.zeros((8, 8))
    mean[0, 0] = 1.0
    strategy = Strategy("x", (0,), mean / mean.sum(), None, (0.06, 0.06), 0.0, (0,))
    mask = region(strategy, 32, 32)
    assert mask[0, 0] and not mask[16, 16] and mask.mean() < 0.1


def masks_of(folder, boxes, side: int = 224) -> list[np.ndarray]:
    """A pet mask per (top, left, size) box: its trimap written as Oxford-IIIT Pet ships it (PNG)
    and read back."""
    from PIL import Image

    masks = []
    for i, (top, left, size) in enumerate(boxes):
        Image.fromarray(trimap(side, top, left, size)).save(folder / f"{i:03d}.png")
        masks.append(read_trimap(folder / f"{i:03d}.png"))
    return masks


def test_evidence_off_the_pet_is_flagged_with_its_reason(tmp_path):
    # Every map peaks at the centre, where the centre prior expects the subject; but in 9 of the 10
    # photos the pet sits in the bottom-right corner: the trimaps see what the prior cannot.
    maps = hand_maps([(3, 3)], per_group=10)
    masks = masks_of(tmp_path, [(80, 80, 64)] + [(160, 160, 60)] * 9)
    on_pet = [on_the_pet(m, mask) for m, mask in zip(maps, masks)]
    assert on_pet == [True] + [False] * 9
    (by_the_prior,) = strategies(maps, ["dog"] * 10)
    assert not by_the_prior.flagged and by_the_prior.on_object is None
    (found,) = strategies(maps, ["dog"] * 10, on_pet=on_pet)
    assert found.flagged and json.loads(json.dumps(found.record()))["on_object"] == 0.1
    assert "their evidence is off the pet in 9 of 10 photos (trimaps" in found.reason


def test_evidence_on_the_pet_is_not_flagged_even_off_centre(tmp_path):
    # Every map peaks in the top-left corner, and so does every pet: the centre prior's rule alone
    # flags this cluster (same place, off centre); the trimaps say it looks at the pet.
    maps = hand_maps([(0, 0)], per_group=10)
    masks = masks_of(tmp_path, [(0, 0, 70 + 2 * i) for i in range(10)])
    on_pet = [on_the_pet(m, mask) for m, mask in zip(maps, masks)]
    assert on_pet == [True] * 10
    (found,) = strategies(maps, ["cat"] * 10, on_pet=on_pet)
    assert not found.flagged and found.reason == "" and found.record()["on_object"] == 1.0
    for unknown in (None, [None] * 10):  # no masks: the centre prior's rule alone, on_object null
        (by_the_prior,) = strategies(maps, ["cat"] * 10, on_pet=unknown)
        assert by_the_prior.flagged and "the top left" in by_the_prior.reason
        assert json.loads(json.dumps(by_the_prior.record()))["on_object"] is None
    assert on_the_pet(np.zeros((7, 7)), masks[0]) is None and on_the_pet(maps[0], None) is None


def write_folder(root, photos, labels, names) -> None:
    from PIL import Image

    for i, (pixels, label) in enumerate(zip(photos, labels)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def test_the_command_line_finds_flags_and_checks_the_tag(tagged, tmp_path, capsys):
    from core.cli.commands import main
    from core.models.info import save_classifier

    classifier, photos, labels = tagged
    weights = save_classifier(classifier.model, classifier.info, tmp_path / "model.keras")
    write_folder(tmp_path / "photos", photos, labels, classifier.info.class_names)
    out = tmp_path / "strategies.json"
    code = main(
        ["strategies", "--data", str(tmp_path / "photos"), "--weights", str(weights),
         "--layer", "conv_last", "--json", str(out), "--check", "--hide", "mean"]
    )  # fmt: skip
    assert code == 0
    records = json.loads(out.read_text())
    flagged = [r for r in records if r["flagged"]]
    assert len(flagged) == 1 and flagged[0]["class"] == "tagged" and flagged[0]["size"] >= 27
    assert flagged[0]["check"]["flipped"] >= 0.5 * flagged[0]["size"]
    assert all(r["typical"][0].startswith(r["class"] if r["flagged"] else "") for r in records)
    assert "FLAGGED:" in capsys.readouterr().out


def strategies_with_trimaps(classifier, tagged_set: bool, tmp_path) -> list[dict]:
    """`python -m core strategies --annotations` over the validation photos, 4 times their size
    (128 px, so the pointing game's 15 px is a small part of them; the model still sees the same
    32 px photos), each with its trimap as Oxford-IIIT Pet ships it:
    annotations/trimaps/<stem>.png."""
    from PIL import Image

    from core.cli.commands import main
    from core.models.info import save_classifier

    photos, labels, places = generated(np.random.default_rng(VALIDATION_SEED), 60, tagged_set)
    scale = 4
    large = photos.repeat(scale, axis=1).repeat(scale, axis=2)
    write_folder(tmp_path / "photos", large, labels, classifier.info.class_names)
    trimaps = tmp_path / "annotations" / "trimaps"
    trimaps.mkdir(parents=True)
    for i, (top, left) in enumerate(places):
        mask = trimap(SIDE * scale, top * scale, left * scale, SQUARE * scale)
        Image.fromarray(mask).save(trimaps / f"{i:03d}.png")
    weights = save_classifier(classifier.model, classifier.info, tmp_path / "model.keras")
    out = tmp_path / "strategies.json"
    code = main(
        ["strategies", "--data", str(tmp_path / "photos"), "--weights", str(weights),
         "--layer", "conv_last", "--annotations", str(tmp_path / "annotations"),
         "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    return json.loads(out.read_text())


def test_the_command_line_with_trimaps_flags_the_tag_off_the_pet(tagged, tmp_path):
    records = strategies_with_trimaps(tagged[0], True, tmp_path)
    tags = [r for r in records if r["class"] == "tagged" and r["size"] >= 27]
    assert len(tags) == 1 and tags[0]["on_object"] <= 0.2, records
    # The squares' colours tell nothing in this set: no cluster, tagged or plain, looks at them.
    for record in records:
        assert record["flagged"] and record["on_object"] <= 0.2, records
        assert "their evidence is off the pet in" in record["reason"], records
        assert "(trimaps" in record["reason"]


def test_the_command_line_with_trimaps_flags_nothing_that_looks_at_the_pet(control, tmp_path):
    records = strategies_with_trimaps(control[0], False, tmp_path)
    assert records and not [r for r in records if r["flagged"]], records
    assert all(r["on_object"] >= 0.8 for r in records), records


@pytest.mark.resnet
def test_strategies_of_a_few_photos_on_resnet50_make_well_formed_json(resnet50_weights, tmp_path):
    from core.cli.commands import main

    rng = np.random.default_rng(3)
    photos, labels, _ = generated(rng, 6, tagged_set=False)
    write_folder(tmp_path / "photos", photos, labels, ("cats", "dogs"))
    out = tmp_path / "strategies.json"
    code = main(["strategies", "--data", str(tmp_path / "photos"),
                 "--weights", str(resnet50_weights / "model.keras"),
                 "--json", str(out)])  # fmt: skip
    assert code == 0
    records = json.loads(out.read_text())
    assert records and sum(r["size"] for r in records) == 6
    for record in records:
        assert record["class"] in ("cat", "dog") and 0 <= record["peak"][0] <= 1
        assert record["accuracy"] is None or 0 <= record["accuracy"] <= 1
        assert isinstance(record["flagged"], bool) and isinstance(record["reason"], str)


def folder_run(classifier, tmp_path):
    """A Folder run of `classifier` over tmp_path/photos, done: (its folder, its job)."""
    from dataclasses import asdict

    from core.atomic import write_json
    from core.folder import jobs
    from core.folder.run import work
    from core.models.catalog import model_key
    from core.models.info import save_classifier

    weights = save_classifier(classifier.model, classifier.info, tmp_path / "run.keras")
    folder = (tmp_path / "photos").resolve()
    names = jobs.photos_in(folder, (tmp_path,), tmp_path / "cache", None)
    job = jobs.FolderJob(str(folder), tuple(names), str(weights), model_key(weights))
    job_dir = jobs.job_dir(job, tmp_path / "cache")
    job_dir.mkdir(parents=True)
    write_json(job_dir / jobs.JOB, asdict(job))
    assert work(job_dir, background=False).state == "done"
    return job_dir, job


def test_a_folder_runs_kept_maps_give_the_strategies_without_a_model_pass(
    tagged, tmp_path, monkeypatch
):
    from core.folder.strategies import from_run

    classifier, photos, labels = tagged
    write_folder(tmp_path / "photos", photos, labels, classifier.info.class_names)
    job_dir, job = folder_run(classifier, tmp_path)

    def no_model(*args, **kwargs):
        raise AssertionError("a model pass")

    monkeypatch.setattr("core.explain.explainer.Explainer.explain", no_model)
    monkeypatch.setattr("core.models.load.load_classifier", no_model)
    found = from_run(job_dir, job)
    flagged = [s for s in found.strategies if s.flagged]
    assert len(flagged) == 1 and flagged[0].label == "tagged"
    assert {found.photos[i].split("/")[0] for i in flagged[0].members} == {"tagged"}
    assert found.mean_photo(flagged[0]).shape == (64, 64, 3)
    assert all(s.on_object is None for s in found.strategies)  # no trimaps beside the folder


def test_a_folder_run_beside_oxford_pets_annotations_reads_their_trimaps(tagged, tmp_path):
    """photos/ beside annotations/trimaps/, as download-data lays them out: the Folder page's
    strategies (from_run) judge off the pet as the command line's do."""
    from core.folder.strategies import from_run

    records = strategies_with_trimaps(tagged[0], True, tmp_path)
    found = from_run(*folder_run(tagged[0], tmp_path))
    assert found.strategies and all(s.on_object is not None for s in found.strategies)
    tags = [s for s in found.strategies if s.label == "tagged" and s.size >= 27]
    assert len(tags) == 1 and tags[0].flagged and "(trimaps" in tags[0].reason
    assert tags[0].on_object <= 0.2 and len(records) >= 1


def test_annotations_beside_a_folder_count_only_inside_the_data_roots(tmp_path):
    from core.folder.strategies import annotations_near

    (tmp_path / "photos").mkdir()
    (tmp_path / "annotations" / "trimaps").mkdir(parents=True)
    photos = tmp_path / "photos"
    assert annotations_near(photos) == tmp_path / "annotations"  # the command line: no roots
    assert annotations_near(photos, (tmp_path,)) == tmp_path / "annotations"
    assert annotations_near(photos, (photos,)) is None  # above the page's data root: not read


def test_the_folder_page_shows_the_tag_flagged_and_checks_it(tagged, tmp_path, monkeypatch):
    import time

    from core.models.info import save_classifier
    from tests.support import apps

    classifier, photos, labels = tagged
    weights = tmp_path / "weights"
    save_classifier(classifier.model, classifier.info, weights / "model.keras")
    for split in ("train", "validation"):  # a dataset as the page lists them
        write_folder(tmp_path / "data" / split, photos, labels, ("plain", "tagged"))
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    at = apps.open_page("pages/folder.py")
    assert at.selectbox(key="folder_dir").value == (tmp_path / "data" / "validation").resolve()
    at.button(key="folder_explain").click().run()
    assert not at.exception and not at.error, (at.error, at.info)
    deadline = time.time() + 120
    while time.time() < deadline and not at.get("dataframe"):
        time.sleep(1)
        at.run()
    assert not at.exception and at.get("dataframe"), [c.value for c in at.caption]
    at.button(key="folder_find").click().run()
    assert not at.exception
    flagged = [w.value for w in at.warning if "put their evidence at the same place" in w.value]
    assert len(flagged) == 1 and "the top left" in flagged[0]
    (check_button,) = [b for b in at.button if b.key and b.key.endswith(" check")]
    check_button.click().run()
    said = [s.value for s in at.success if s.value.startswith("Hidden by blur:")]
    assert said and "of this strategy leans on that region" in said[0], at.success
    flips = int(said[0].split(": ")[1].split(" of ")[0])
    assert flips >= 0.5 * int(said[0].split(" of ")[1].split(" ")[0])


@pytest.mark.browser
def test_in_chromium_the_folder_page_finds_flags_and_checks_the_tag(tagged, tmp_path):
    """A person's way (#31, item 6): the Folder page over a tagged folder, its strategies, the
    flagged one, and the check, in Chromium against `streamlit run`."""
    from selenium.webdriver.common.by import By

    from core.models.info import save_classifier
    from tests.support.browser import chrome, click_button, shot, text, wait
    from tests.support.servers import streamlit_server

    classifier, photos, labels = tagged
    save_classifier(classifier.model, classifier.info, tmp_path / "weights" / "model.keras")
    for split in ("train", "validation"):
        write_folder(tmp_path / "data" / split, photos, labels, ("plain", "tagged"))
    env = {
        "CATDOG_WEIGHTS_DIR": str(tmp_path / "weights"),
        "CATDOG_DATA_DIR": str(tmp_path / "data"),
        "CATDOG_VALIDATION_DIR": str(tmp_path / "none"),
    }
    driver = chrome(profile=tmp_path / "profile")
    with streamlit_server(env) as (url, _):
        try:
            driver.get(f"{url}/folder")
            click_button(driver, "Explain these photos")
            wait(driver, lambda d: "sorted by confidence." in text(d), 180)
            click_button(driver, "Find its strategies")
            flagged = "put their evidence at the same place"
            wait(driver, lambda d: flagged in text(d) and "the top left" in text(d), 120)
            shot(driver, "folder-strategies")
            check = "//button[.//p[starts-with(., 'Is it really the shortcut?')]]"
            buttons = wait(driver, lambda d: d.find_elements(By.XPATH, check))
            driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", buttons[0]
            )
            wait(driver, lambda d: "Hidden by blur:" in text(d), 120)
            said = next(line for line in text(driver).splitlines() if "Hidden by blur:" in line)
            assert "of this strategy leans on that region" in said
            assert "Traceback" not in text(driver)
            shot(driver, "folder-strategies-checked")
        finally:
            driver.quit()
