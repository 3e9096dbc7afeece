"""Small slips a newcomer met in the first ten minutes (#30, item 6), each with its test."""

from __future__ import annotations

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
