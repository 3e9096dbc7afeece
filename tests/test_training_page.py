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
    at.text_input(key="backbone_weights").set_value("none")
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


def test_page_refuses_a_folder_without_train(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path / "weights", tmp_path)
    at.button[0].click().run()
    assert not at.exception and "has no train/ folder" in at.warning[0].value


def test_page_refuses_a_missing_weights_file(monkeypatch, tmp_path, generated_pets):
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    at.text_input(key="backbone_weights").set_value("imagenetnone")
    at.button[0].click().run()
    assert not at.exception and at.warning[0].value == "Backbone weights file imagenetnone does not exist."
    assert not (tmp_path / "weights" / "runs").exists()


def test_page_refuses_a_folder_outside_the_data_roots(monkeypatch, tmp_path, generated_pets):
    at = open_page(monkeypatch, tmp_path / "weights", generated_pets)
    at.text_input(key="data_dir").set_value("/etc")
    at.button[0].click().run()
    assert not at.exception and "/etc is outside the data folders this app may read" in at.warning[0].value
