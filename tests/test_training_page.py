"""The Training page through AppTest: a real background run, refusals, public mode, data in."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import apps

PAGE = "pages/training.py"


@pytest.mark.resnet  # the page's worker trains ResNet-50 (random weights)
def test_page_starts_a_real_run_shows_progress_and_refuses_a_second(
    monkeypatch, tmp_path, generated_pets
):
    weights = tmp_path / "weights"
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(generated_pets))
    at = apps.open_page(PAGE)
    assert not at.exception and "No training run yet" in at.info[-1].value
    at.selectbox(key="backbone_weights").set_value("none")
    at.number_input(key="epochs").set_value(4)
    at.button(key="start").click().run()
    assert not at.exception and at.info[0].value.startswith("Started run")

    at.button(key="start").click().run()  # a second request while the first runs
    assert "already in progress" in at.warning[0].value

    seen, deadline = set(), time.time() + 240
    while time.time() < deadline:
        at.run()
        assert not at.exception
        heading = at.subheader[0].value if at.subheader else ""
        seen.add(heading.split(": ")[-1])
        if heading.endswith(": done"):
            break
        time.sleep(1)
    assert {"starting", "running"} & seen and "done" in seen, seen
    assert "The Explain page now uses this model" in at.success[0].value
    labels = [metric.label for metric in at.metric]
    assert "Validation accuracy" in labels and "val_loss (epoch 4)" in labels
    assert (weights / "current" / "model.keras").is_file()


def open_page(monkeypatch, weights, data) -> AppTest:
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(data))
    return apps.open_page(PAGE)


def test_page_without_a_dataset_says_so(monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    at = open_page(monkeypatch, tmp_path / "weights", tmp_path / "data")
    assert at.selectbox(key="data_dir").options == []
    at.button(key="start").click().run()
    assert not at.exception and at.warning[0].value.startswith("No dataset under the data roots")


def test_weights_files_are_choices_and_a_vanished_one_is_refused(
    monkeypatch, tmp_path, generated_pets
):
    (generated_pets / "resnet50_notop.h5").write_bytes(b"weights")
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    options = at.selectbox(key="backbone_weights").options
    assert options[:2] == ["imagenet (not on this machine)", "none"]
    assert options[2:] == ["resnet50_notop.h5"]
    at.selectbox(key="backbone_weights").select_index(2)
    (generated_pets / "resnet50_notop.h5").unlink()  # gone between the choice and the click
    at.button(key="start").click().run()
    assert not at.exception and at.warning[0].value.endswith("resnet50_notop.h5 does not exist.")
    assert not (tmp_path / "weights" / "runs").exists()


def cli_refusal(capsys, data: Path, weights: Path, backbone: str) -> str:
    """`python -m core train`'s one line for the same choice, as the operator sees it."""
    from core.cli.commands import main

    argv = ["train", "--data", str(data), "--out", str(weights), "--backbone-weights", backbone]
    code, err = main(argv), capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err.removeprefix("error: ").strip()


def test_page_and_cli_refuse_a_bad_dataset_and_a_missing_backbone_with_one_sentence(
    monkeypatch, tmp_path, capsys
):
    from tests.support.photos import make_pets

    data, weights = tmp_path / "data", tmp_path / "weights"
    make_pets(data / "pets", 2, 1)
    for name in ("cats", "dogs", "foxes"):  # three classes without photos: refused
        (data / "three" / "train" / name).mkdir(parents=True)
    (data / "resnet50_notop.h5").write_bytes(b"weights")
    at = open_page(monkeypatch, weights, data)
    at.selectbox(key="data_dir").set_value((data / "three").resolve())
    at.selectbox(key="backbone_weights").set_value("none")
    at.button(key="start").click().run()
    sentence = at.warning[0].value
    assert not at.exception and sentence == (
        "Class folder cats/ in data/three/train has no photos: add some or remove it."
    )
    assert str(tmp_path) not in sentence  # no server paths for a visitor
    assert cli_refusal(capsys, data / "three", weights, "none") == sentence

    at.selectbox(key="data_dir").set_value((data / "pets").resolve())
    at.selectbox(key="backbone_weights").set_value(str(data / "resnet50_notop.h5"))
    (data / "resnet50_notop.h5").unlink()  # gone between the choice and the click
    at.button(key="start").click().run()
    sentence = at.warning[0].value
    assert sentence == "Backbone weights file resnet50_notop.h5 does not exist."
    assert cli_refusal(capsys, data / "pets", weights, str(data / "resnet50_notop.h5")) == sentence
    # Both refused before a run folder or the lease was made.
    assert not (weights / "runs").exists() and not (weights / "train.lock").exists()


def test_only_datasets_inside_the_data_roots_are_offered(monkeypatch, tmp_path, generated_pets):
    from tests.support.photos import make_pets

    outside = make_pets(tmp_path / "outside", 1, 1)
    (generated_pets / "escape").symlink_to(outside)  # a link out of the root: never offered
    make_pets(generated_pets / "more" / "second", 1, 1)  # a second dataset inside: offered
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    offered = at.selectbox(key="data_dir").options
    # Each with its photos per split and class.
    assert offered == [
        "pets · train 12 cats / 12 dogs · validation 4 cats / 4 dogs",
        "pets/more/second · train 1 cats / 1 dogs · validation 1 cats / 1 dogs",
    ], offered


def public_page(monkeypatch, tmp_path, data, **secrets) -> tuple[AppTest, list]:
    """The page in public mode, with jobs.start recorded instead of run."""
    from core.training import jobs

    started = []
    monkeypatch.setattr(
        jobs,
        "start",
        lambda *args: started.append(args) or tmp_path / "weights" / "runs" / "r",
    )
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(data))
    at = apps.open_page(PAGE, run=False)
    for key, value in secrets.items():
        at.secrets[key] = value
    return at, started


def start_button(at):
    return next(button for button in at.button if button.label == "Start training")


def test_public_mode_password_unlocks_training(monkeypatch, tmp_path, generated_pets):
    at, started = public_page(monkeypatch, tmp_path, generated_pets, training_password="s3cret")
    at.run()
    # An anonymous visitor cannot start a run.
    assert not at.exception and start_button(at).disabled
    assert "the training password starts or stops one" in at.info[0].value
    at.text_input(key="password").set_value("guess")
    next(b for b in at.button if b.label == "Unlock training").click().run()
    assert at.warning[0].value == "Wrong password." and start_button(at).disabled
    at.text_input(key="password").set_value("s3cret")
    next(b for b in at.button if b.label == "Unlock training").click().run()
    assert not start_button(at).disabled and any("unlocked" in c.value for c in at.caption)
    start_button(at).click().run()
    assert not at.exception and len(started) == 1 and at.info[-2].value.startswith("Started run")


def test_public_mode_wrong_passwords_are_rate_limited(monkeypatch, tmp_path, generated_pets):
    at, _ = public_page(monkeypatch, tmp_path, generated_pets, training_password="s3cret")
    at.run()
    for _ in range(5):
        at.text_input(key="password").set_value("guess")
        next(b for b in at.button if b.label == "Unlock training").click().run()
    at.text_input(key="password").set_value("s3cret")  # right, but too soon after five wrong ones
    next(b for b in at.button if b.label == "Unlock training").click().run()
    assert at.warning[0].value.startswith("Too many wrong passwords") and start_button(at).disabled


@pytest.mark.parametrize("logged_in", [False, True])
def test_public_mode_with_an_identity_provider(monkeypatch, tmp_path, generated_pets, logged_in):
    auth = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "demo",
        "client_secret": "demo",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at, started = public_page(monkeypatch, tmp_path, generated_pets, auth=auth)
    at.user = {"is_logged_in": logged_in, "email": "ada@example.com"}
    at.run()
    assert not at.exception and start_button(at).disabled is not logged_in
    labels = [button.label for button in at.button]
    assert ("Log out" if logged_in else "Log in") in labels and "Training password" not in [
        t.label for t in at.text_input
    ]
    if logged_in:
        start_button(at).click().run()
        assert len(started) == 1


def test_public_mode_without_password_or_provider_keeps_training_off(
    monkeypatch, tmp_path, generated_pets
):
    at, _ = public_page(monkeypatch, tmp_path, generated_pets)
    at.run()
    assert start_button(at).disabled and "training is off here" in at.info[0].value
    # Nor may an anonymous visitor bring data: the download and both uploads are off too.
    for key in ("download", "add_photos", "add_zip"):
        assert at.button(key=key).disabled, key


def test_photos_per_class_become_a_dataset_and_offline_download_is_one_sentence(
    monkeypatch, tmp_path
):
    from tests.support.photos import png_bytes

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CATDOG_PETS_URL", "http://127.0.0.1:9/")  # nothing listens: offline
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    at = open_page(monkeypatch, tmp_path / "weights", tmp_path / "data")
    assert at.selectbox(key="data_dir").options == []
    at.button(key="download").click().run()
    assert not at.exception and at.error[0].value.startswith(
        "Could not download http://127.0.0.1:9/images.tar.gz: its server refused the connection."
    )
    assert "\n" not in at.error[0].value and not (tmp_path / "data" / "oxford-iiit-pet").exists()
    from ui import slots  # the page's own module: one download per process, whichever session asks

    with slots.DOWNLOAD:  # another session's download under way
        at.button(key="download").click().run()
    assert at.warning[0].value.startswith("Another download is under way on this server")

    at.text_input(key="new_dataset").set_value("Garden pets")
    at.file_uploader(key="photos_0").set_value(
        [(f"cat{i}.png", png_bytes(seed=i), "image/png") for i in range(3)]
    )
    at.file_uploader(key="photos_1").set_value(
        [(f"dog{i}.png", png_bytes(seed=10 + i), "image/png") for i in range(3)]
        + [
            ("broken.png", b"not a photo", "image/png"),
            ("again.png", png_bytes(seed=10), "image/png"),
        ]
    )
    at.button(key="add_photos").click().run()
    assert not at.exception
    assert at.success[0].value == (
        "New dataset data/garden-pets. Kept train 3 cats, 3 dogs. "
        "Skipped 1 corrupt or unreadable, 1 duplicates. 6 photos under 56 px kept: upscaled 4× "
        "or more for the model, they teach it little."
    )
    assert at.selectbox(key="data_dir").value == (tmp_path / "data" / "garden-pets").resolve()


def test_what_the_page_shows_of_a_run(generated_pets):
    from core.training import status
    from core.workers.records import TrainingProgress

    progress = TrainingProgress.from_json(
        {
            "state": "running",
            "phase": "features",
            "step": 1200,
            "steps": 3000,
            "eta_seconds": 75,
            "summary": "cats: 12 train / 4 validation",
            "config": {"backbone_weights": "/srv/models/resnet50_notop.h5"},
            "data": str(generated_pets),
            "history": {"head": {"loss": [0.9, 0.5], "val_loss": [1.0, 0.6]}, "fine-tune": {}},
        }
    )
    assert status.progress_text(progress) == "features · 1,200/3,000 photos · ETA 1m 15s"
    # The dataset below its data root, the weights by file name: no server paths.
    assert status.caption(progress, (generated_pets.parent,)) == (
        f"cats: 12 train / 4 validation · backbone weights: resnet50_notop.h5 · data: "
        f"{generated_pets.parent.name}/pets"
    )
    frame = status.curves(progress)
    assert list(frame.index) == [1, 2] and list(frame["phase"]) == ["head", "head"]
    assert status.latest_figures(frame) == {
        "loss (epoch 2)": "0.500",
        "val_loss (epoch 2)": "0.600",
    }
    assert status.curves(TrainingProgress(history={"head": {}})) is None
    done = TrainingProgress(state="done", message="Done: validation accuracy 75.0%.")
    assert status.outcome(done) == status.Notice(
        "success", "Done: validation accuracy 75.0%. The Explain page now uses this model."
    )


def test_a_finished_runs_mistakes_open_on_the_folder_page(monkeypatch, tmp_path, generated_pets):
    # A run's mistakes are no longer drawn here, one pair per row: the page counts them and opens
    # the Folder page's gallery on the run's validation photos, filtered to the wrong ones.
    from core.atomic import write_json

    run_dir = tmp_path / "weights" / "runs" / "20260101-090000"
    run_dir.mkdir(parents=True)
    wrong = [{"path": "x.png", "true": 0, "predicted": 1, "confidence": 0.8}] * 3
    report = {"accuracy": 0.625, "confusion": [[1, 3], [0, 4]], "class_names": ["cat", "dog"]}
    progress = {"state": "done", "message": "Done.", "data": str(generated_pets), "history": {}}
    write_json(
        run_dir / "progress.json", {**progress, "report": {**report, "misclassified": wrong}}
    )
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    assert not at.exception
    assert at.success[0].value == "Done. The Explain page now uses this model."
    assert "**3 misclassified validation photos**" in [m.value for m in at.markdown]
    assert at.button(key="open_mistakes").label == "See them on the Folder page"


def test_the_run_says_what_the_explain_page_uses_for_this_person(
    monkeypatch, tmp_path, generated_pets
):
    """A person who picked another model on the Explain page keeps it: the sentence says so."""
    from core.atomic import write_json
    from ui.models import KEPT_MODEL

    run_dir = tmp_path / "weights" / "runs" / "20260101-090000"
    run_dir.mkdir(parents=True)
    report = {"accuracy": 0.5, "confusion": [[1, 1], [1, 1]], "class_names": ["cat", "dog"]}
    progress = {"state": "done", "message": "Done.", "data": str(generated_pets), "history": {}}
    write_json(run_dir / "progress.json", {**progress, "report": {**report, "misclassified": []}})
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(generated_pets))
    for kept, said in (
        ("runs/20260101-090000", "The Explain page now uses this model."),
        ("imported/mine", "The Explain page keeps the model you chose there: pick this run"),
    ):
        at = apps.open_page(PAGE, run=False)
        at.session_state[KEPT_MODEL] = kept
        at.run()
        assert not at.exception and said in at.success[0].value


def test_a_run_not_made_current_shows_both_figures_and_can_be_made_current(
    monkeypatch, tmp_path, generated_pets
):
    from core.atomic import write_json
    from core.training import store

    weights = tmp_path / "weights"
    figures = {"confusion": [[1, 1], [1, 1]], "class_names": ["cat", "dog"], "misclassified": []}
    for name, accuracy, photos in (("20260101-090000", 0.57, 200), ("20260102-090000", 0.333, 12)):
        run_dir = weights / "runs" / name
        run_dir.mkdir(parents=True)
        (run_dir / "model.keras").write_bytes(b"a model")
        measured = {"data": f"/d/set{photos}", "photos": photos, "sha256": str(photos)}
        report = {**figures, "accuracy": accuracy, "validation_set": measured}
        write_json(
            run_dir / "progress.json",
            {
                "state": "done",
                "message": "Done. Not made current: …",
                "data": str(generated_pets),
                "history": {},
                "report": report,
                "published": photos == 200,
            },
        )
    store.publish(weights / "runs" / "20260101-090000", weights)
    at = open_page(monkeypatch, weights, generated_pets)
    assert not at.exception and at.info[0].value == "Done. Not made current: …"
    table = at.dataframe[0].value
    assert list(table["measured on"]) == ["12 photos of set12", "200 photos of set200"]
    at.button(key="make_current").click().run()
    assert not at.exception
    assert store.in_use(weights).name == "20260102-090000"
    assert at.success[0].value == (
        "Done: validation accuracy 33.3%. Made the current model at your request. The Explain "
        "page now uses this model."
    )


def test_the_zip_uploaders_cap_is_the_servers_one_setting(monkeypatch, tmp_path):
    """.streamlit/config.toml's server.maxUploadSize is the ZIP cap's one home: the uploader
    offers what the server accepts, not a second number that could drift from it."""
    import tomllib

    from core.config import ROOT

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    (tmp_path / "data").mkdir()
    at = open_page(monkeypatch, tmp_path / "weights", tmp_path / "data")
    (uploader,) = [u for u in at.get("file_uploader") if "ZIP of a dataset" in u.proto.label]
    assert uploader.proto.max_upload_size_mb == server["maxUploadSize"]
    assert f"up to {server['maxUploadSize']} MB" in uploader.proto.label
