"""The Training page through AppTest: a real background run (ResNet-50, random weights, tiny data)."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "1_Training.py")


def test_page_starts_a_real_run_shows_progress_and_refuses_a_second(monkeypatch, tmp_path, generated_pets):
    weights = tmp_path / "weights"
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(generated_pets))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and "No training run yet" in at.info[-1].value
    at.selectbox(key="backbone_weights").set_value("none")
    at.number_input(key="epochs").set_value(4)
    at.button[0].click().run()
    assert not at.exception and at.info[0].value.startswith("Started run")

    at.button[0].click().run()  # a second request while the first runs
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
    return AppTest.from_file(PAGE, default_timeout=60).run()


def test_page_without_a_dataset_says_so(monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    at = open_page(monkeypatch, tmp_path / "weights", tmp_path / "data")
    assert at.selectbox(key="data_dir").options == []
    at.button[0].click().run()
    assert not at.exception and at.warning[0].value.startswith("No dataset under the data roots")


def test_weights_files_are_choices_and_a_vanished_one_is_refused(monkeypatch, tmp_path, generated_pets):
    (generated_pets / "resnet50_notop.h5").write_bytes(b"weights")
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    options = at.selectbox(key="backbone_weights").options
    assert options[:2] == ["imagenet", "none"] and options[2:] == ["resnet50_notop.h5"]
    at.selectbox(key="backbone_weights").select_index(2)
    (generated_pets / "resnet50_notop.h5").unlink()  # gone between the choice and the click
    at.button[0].click().run()
    assert not at.exception and at.warning[0].value.endswith("resnet50_notop.h5 does not exist.")
    assert not (tmp_path / "weights" / "runs").exists()


def test_only_datasets_inside_the_data_roots_are_offered(monkeypatch, tmp_path, generated_pets):
    from tests.conftest import make_pets

    outside = make_pets(tmp_path / "outside", 1, 1)
    (generated_pets / "escape").symlink_to(outside)  # a link out of the root: never offered
    make_pets(generated_pets / "more" / "second", 1, 1)  # a second dataset inside: offered
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    offered = at.selectbox(key="data_dir").options
    assert offered == ["pets", "pets/more/second"], offered
