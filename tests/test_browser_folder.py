"""A folder at a glance, in Chromium: from a finished run's mistakes on the Training page to the
Folder page's 200 validation photos, filtered, paged, one opened in full, the ZIP downloaded.

Generated photos and a tiny model saved as a run (no ResNet-50): the test follows the journey.
"""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from core.atomic import write_json
from tests.support.browser import chrome, text, wait
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import make_pets
from tests.support.servers import streamlit_server

pytestmark = [pytest.mark.browser]


RUN = "20260101-090000"


def a_finished_run(weights, data) -> None:
    """A run folder as a finished run leaves it: its model (a tiny one, about half right on the
    generated photos) and progress.json with its report."""
    from core.models.info import ModelInfo, save_classifier

    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none")
    save_classifier(tiny_model(seed=1), info, weights / "runs" / RUN / "model.keras")
    save_classifier(tiny_model(), info, weights / "model.keras")  # the app's own model
    wrong = [{"path": "x.png", "true": 0, "predicted": 1, "confidence": 0.8}] * 3
    report = {"accuracy": 0.5, "confusion": [[1, 1], [1, 1]], "class_names": ["cat", "dog"]}
    write_json(
        weights / "runs" / RUN / "progress.json",
        {
            "state": "done",
            "message": "Done.",
            "data": str(data),
            "history": {},
            "report": {**report, "misclassified": wrong},
        },
    )


def click(driver, xpath: str, timeout: float = 60) -> None:
    """Click the first element `xpath` finds, finding it again if the page redraws it meanwhile."""

    def clicked(d) -> bool:
        element = next(iter(d.find_elements(By.XPATH, xpath)), None)
        if element is None:
            return False
        try:
            d.execute_script(
                "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", element
            )
        except StaleElementReferenceException:
            return False  # redrawn between finding and clicking (a rerun): find it again
        return True

    wait(driver, clicked, timeout)


def button(label: str) -> str:
    return f"//button[not(@disabled)][.//p[text()='{label}'] or normalize-space(.)='{label}']"


def shown_rows(driver) -> tuple[int, int]:
    """The page's "N of M photos" caption as (N, M)."""
    line = next(x for x in text(driver).splitlines() if x.endswith("sorted by confidence."))
    shown, _, total, *_ = line.replace(",", "").split()
    return int(shown), int(total)


def test_a_runs_mistakes_open_on_the_folder_page_filtered_paged_opened_and_exported(tmp_path):
    data = make_pets(tmp_path / "data", n_train=1, n_validation=100)  # 200 validation photos
    weights, downloads = tmp_path / "weights", tmp_path / "downloads"
    a_finished_run(weights, data)
    env = {
        "CATDOG_WEIGHTS_DIR": str(weights),
        "CATDOG_DATA_DIR": str(data),
        "CATDOG_VALIDATION_DIR": str(tmp_path / "none"),
        "KERAS_HOME": str(tmp_path / "keras"),
    }
    with streamlit_server(env) as (url, _):
        driver = chrome(profile=tmp_path / "profile", downloads=downloads)
        try:
            driver.get(f"{url}/training")
            click(driver, button("See them on the Folder page"), 90)
            # The Folder page, on the run's model and validation photos, filtered to the wrong.
            wait(driver, lambda d: "sorted by confidence." in text(d), 90)
            wrong, total = shown_rows(driver)
            assert total == 200 and 0 < wrong < 200
            # The run was started here, in the background, and has ended (its notice said once).
            wait(driver, lambda d: "Done: 200 photos." in text(d), 30)
            assert "Accuracy" in text(driver)
            click(driver, button("all"))
            wait(driver, lambda d: shown_rows(d) == (200, 200))
            # The gallery's second page, then one photo opened at every layer.
            click(driver, "//*[@data-testid='stPagination']//button[normalize-space(.)='2']")
            click(driver, button("Open"))
            dialog = "//*[@role='dialog']"
            wait(driver, lambda d: len(d.find_elements(By.XPATH, f"{dialog}//img")) == 3)
            captions = driver.find_element(By.XPATH, dialog).text
            assert all(f" · {layer}" in captions for layer in ("conv_a", "conv_b", "fused"))
            click(driver, f"{dialog}//button[@aria-label='Close']")
            wait(driver, lambda d: not d.find_elements(By.XPATH, dialog))
            # The ZIP, made when asked for (under a bar), then downloaded.
            click(driver, button("Make the ZIP of these 200 (overlays, raw maps, CSV, manifest)"))
            wait(driver, lambda d: "Download the ZIP (" in text(d), 60)
            click(driver, "//*[@data-testid='stDownloadButton']//button")
            wait(driver, lambda d: any(downloads.glob("folder_*.zip")), 60)
            archive = next(downloads.glob("folder_*.zip"))
            with zipfile.ZipFile(archive) as opened:
                names = opened.namelist()
                table = pd.read_csv(io.BytesIO(opened.read("table.csv")))
            assert (
                len(table) == 200 and len([n for n in names if n.startswith("overlays/")]) == 200
            )
            assert len([n for n in names if n.endswith(".npy")]) == 200  # the default layer
            assert "manifest.json" in names
        finally:
            driver.quit()
