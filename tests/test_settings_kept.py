"""Settings kept for the session (#30, item 4): the Explain sidebar and the Training form keep
their values after another page ran (Streamlit forgets a widget's value on a page that does
not draw it; ui/kept.py keeps them)."""

from __future__ import annotations

from core.training import jobs
from tests.support import apps
from tests.support.photos import make_pets


def test_the_explain_sidebar_keeps_its_settings_across_pages(catalogue):
    at = apps.open_page("app.py")
    at.sidebar.selectbox(key="method").set_value("Grad-CAM++").run()
    at.sidebar.slider(key="alpha").set_value(0.7).run()
    at.sidebar.selectbox(key="colormap").set_value("viridis").run()
    at.sidebar.checkbox(key="eigen_smooth").check().run()
    at.sidebar.select_slider(key="layer").set_value("conv_a").run()
    at.switch_page("pages/training.py").run()
    at.switch_page("pages/explain.py").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="method").value == "Grad-CAM++"
    assert at.sidebar.slider(key="alpha").value == 0.7
    assert at.sidebar.selectbox(key="colormap").value == "viridis"
    assert at.sidebar.checkbox(key="eigen_smooth").value
    assert at.sidebar.select_slider(key="layer").value == "conv_a"


def test_the_training_form_keeps_its_settings_across_pages(catalogue, tmp_path, monkeypatch):
    """A form sends its values when submitted: those are kept (no run started here)."""
    started = []
    monkeypatch.setattr(jobs, "start", lambda *args: started.append(args) or tmp_path / "run-1")
    make_pets(tmp_path / "data" / "more-pets")
    at = apps.open_page("app.py")
    at.switch_page("pages/training.py").run()
    at.number_input(key="epochs").set_value(7)
    at.number_input(key="patience").set_value(9)
    at.selectbox(key="backbone_weights").set_value("imagenet")
    at.button(key="start").click().run()
    assert not at.exception and started and started[0][2].epochs == 7
    at.switch_page("pages/explain.py").run()
    at.switch_page("pages/training.py").run()
    assert not at.exception
    assert at.number_input(key="epochs").value == 7
    assert at.number_input(key="patience").value == 9
    assert at.selectbox(key="backbone_weights").value == "imagenet"
