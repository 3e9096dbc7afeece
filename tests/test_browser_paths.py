"""In Chromium: the Explain page and its downloaded manifest name no server path (issue 18).

The model came from a backbone .h5 file under a data root, is the current run under weights/, and
the server runs in public mode; the page's text and the manifest the browser saves must name
neither the temporary server folder nor an operator's setting.
"""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import chrome, text, upload, wait
from tests.support.photos import make_pets
from tests.support.servers import streamlit_server

pytestmark = pytest.mark.browser


def test_the_manifest_a_visitor_downloads_names_no_server_path(tmp_path):
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model

    root = tmp_path / "server"
    data = make_pets(root / "data" / "pets", n_train=2, n_validation=2, size=32).parent
    backbone = data / "weights" / "resnet50_notop.h5"
    backbone.parent.mkdir()
    backbone.write_bytes(b"not really weights")
    run = root / "weights" / "runs" / "20260101-000000"
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights=str(backbone))
    save_classifier(tiny_model(), info, run / "model.keras")
    (root / "weights" / "current").symlink_to(run)
    env = {
        "CATDOG_WEIGHTS_DIR": str(root / "weights"),
        "CATDOG_DATA_DIR": str(data),
        "CATDOG_VALIDATION_DIR": str(data / "pets" / "validation"),
        "KERAS_HOME": str(root / "keras"),
        "CATDOG_PUBLIC": "1",
    }
    downloads = tmp_path / "downloads"
    with streamlit_server(env) as (url, _):
        driver = chrome(profile=tmp_path / "profile", downloads=downloads)
        try:
            driver.get(url)
            wait(driver, lambda d: "Upload a photo, take one" in text(d))
            photo = next((data / "pets" / "validation" / "dogs").iterdir())
            upload(driver, photo)
            wait(driver, lambda d: "Prediction:" in text(d))
            page = text(driver)
            button = "//button[.//p[text()='Manifest (JSON)']]"
            wait(driver, lambda d: d.find_elements(By.XPATH, button))
            driver.find_element(By.XPATH, button).click()
            manifest = downloads / f"{photo.stem}_manifest.json"
            wait(driver, lambda d: manifest.is_file() and manifest.stat().st_size > 0, 30)
        finally:
            driver.quit()
    saved = manifest.read_text()
    for shown in (page, saved):
        assert str(root) not in shown and str(root.resolve()) not in shown
        assert str(tmp_path) not in shown and "CATDOG_" not in shown
    assert "backbone weights: resnet50_notop.h5" in page
    record = json.loads(saved)
    assert record["model"]["file"] == "runs/20260101-000000/model.keras"
    assert record["model"]["backbone_weights"] == "resnet50_notop.h5"
