"""Small slips a newcomer met in the first ten minutes (#30, item 6), each with its test."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.pets import DownloadError, download_pets
from tests.support import apps


def open_explain(monkeypatch, weights, tmp_path):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "no-validation"))
    return apps.open_page("app.py")


def test_the_layer_sliders_end_labels_do_not_run_together(monkeypatch, tiny_weights, tmp_path):
    """The browser sets the first and last labels flush under the slider's ends: with no space
    between them, a narrow sidebar read "56×56fused"."""
    at = open_explain(monkeypatch, tiny_weights, tmp_path)
    options = at.select_slider(key="layer").options
    assert not at.exception and len(options) > 1
    assert options[0][-1].isspace() and options[-1][0].isspace()


def test_the_started_run_box_goes_when_the_run_ends(monkeypatch, tmp_path, generated_pets):
    from core.training import jobs
    from ui.training import start

    run_dir, holder = tmp_path / "weights" / "runs" / "20261207-221500", {}
    monkeypatch.setattr(jobs, "start", lambda *args: run_dir)
    lease = lambda weights_dir: holder.get("lease")  # noqa: E731
    monkeypatch.setattr(start, "lock_holder", lease, raising=False)
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(generated_pets))
    at = apps.open_page("pages/training.py")
    holder["lease"] = {"run_dir": str(run_dir)}
    at.button(key="start").click().run()

    def said() -> bool:
        return any(info.value.startswith("Started run") for info in at.info)

    assert not at.exception and said()
    at.run()
    assert said()  # still running: still said
    holder.pop("lease")  # the run ended and let go of the lease
    at.run()
    assert not at.exception and not said()


def test_names_needed_goes_once_the_names_are_typed(monkeypatch, tmp_path):
    from tests.support.models import sequential_cnn

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    model = tmp_path / "cnn.keras"
    sequential_cnn().save(model)  # three outputs
    at = apps.open_page("pages/training.py")
    upload = ("cnn.keras", model.read_bytes(), "application/octet-stream")
    at.file_uploader(key="import_file").set_value(upload).run()

    def needed() -> list[str]:
        return [caption.value for caption in at.caption if "names needed" in caption.value]

    assert not at.exception and needed() == ["3 names needed."]
    names = next(each for each in at.text_input if each.key.startswith("import_classes "))
    names.input("birds, cats").run()
    assert needed() == ["3 names needed, 2 typed."]
    names.input("birds, cats, dogs").run()
    assert not at.exception and needed() == []


def test_an_offline_download_says_why_in_words_not_urllibs(tmp_path, monkeypatch):
    monkeypatch.setenv("CATDOG_PETS_URL", "http://127.0.0.1:9/")  # nothing listens
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DownloadError) as caught:
        download_pets(tmp_path / "data")
    said = str(caught.value)
    assert said == (
        "Could not download http://127.0.0.1:9/images.tar.gz: its server refused the connection. "
        "Connect this machine to the internet, or point CATDOG_PETS_URL at a copy it can reach."
    )
    assert "<" not in said and "Errno" not in said


def test_a_run_is_named_by_its_start_everywhere(monkeypatch, tmp_path):
    """The Training page named a run by its folder's stamp (its start), the model pickers by its
    sidecar's trained_at (its end): two names for one run."""
    import json

    from core.models.catalog import models
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model

    run = tmp_path / "weights" / "runs" / "20260305-141500"
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", trained_at="2026-03-05 14:52")
    save_classifier(tiny_model(), info, run / "model.keras")
    progress = {"state": "failed", "message": "Stopped by a test.", "history": {}}
    (run / "progress.json").write_text(json.dumps(progress))
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    (entry, _zero_shot) = models()
    assert entry.label == "Run 2026-03-05 14:15"
    at = apps.open_page("pages/training.py")
    assert not at.exception and at.subheader[0].value == "Run 2026-03-05 14:15: failed"


def test_a_signed_map_has_a_legend_of_its_colours(monkeypatch, tiny_weights, tmp_path):
    from core.explain.overlay import DIVERGING, colorize
    from tests.support.photos import png_bytes

    at = open_explain(monkeypatch, tiny_weights, tmp_path)
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=3), "image/png")).run()

    def legends() -> list[str]:
        return [caption.value for caption in at.caption if caption.value.startswith("Signed")]

    assert not at.exception and legends() == []  # ReLU on: one colormap, no sign
    at.sidebar.checkbox(key="relu").uncheck().run()
    predicted = at.subheader[0].value.split("**")[1]
    assert legends() == [f"Signed map: red for '{predicted}', blue against, white neither."]
    # What the legend says is what DIVERGING draws: the top of the scale red, the bottom blue.
    low, high = colorize(np.array([[0.0, 1.0]]), 1, 2, DIVERGING, False)[0]
    assert low[2] > low[0] and high[0] > high[2]
