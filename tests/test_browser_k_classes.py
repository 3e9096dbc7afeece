"""Three classes, in a real browser: a Roboflow export of birds, cats and dogs zipped on Windows
(backslash names), a run that reports its test split apart, each class explained.

Debian's Chromium, Selenium and `streamlit run` on loopback, as in test_browser.py; the run trains
ResNet-50 with a random backbone (no ImageNet weights offline), so the test checks the journey, not
the accuracy.
"""

from __future__ import annotations

import zipfile

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support.browser import choose, chrome, click_button, shot, text, upload, wait
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import jpeg_bytes, make_pets
from tests.support.servers import streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.resnet]


CLASSES = ("birds", "cats", "dogs")
CHARTS = "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']"


def three_class_zip(path):
    """birds/cats/dogs as Roboflow exports them (train/ valid/ test/, 12, 2 and 2 JPEGs each),
    zipped by PowerShell's CreateFromDirectory: "\\" in the entry names."""
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("flock\\README.roboflow.txt", b"Exported via roboflow.com")
        for c in CLASSES:
            for i in range(16):
                split = "train" if i < 12 else "valid" if i < 14 else "test"
                name = f"flock\\{split}\\{c}\\{i}_jpg.rf.{i:08x}.jpg"
                out.writestr(name, jpeg_bytes(c, 100 * len(c) + i))
    return path


def test_three_classes_from_a_roboflow_zip_trained_and_each_explained_by_name(tmp_path):
    from core.models.info import ModelInfo, save_classifier

    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        tmp_path / "weights" / "model.keras",
    )
    env = {
        "CATDOG_WEIGHTS_DIR": str(tmp_path / "weights"),
        "CATDOG_DATA_DIR": str(make_pets(tmp_path / "data", n_train=4, n_validation=2)),
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "KERAS_HOME": str(tmp_path / "keras"),
    }
    archive = three_class_zip(tmp_path / "flock.zip")
    with streamlit_server(env) as (url, _):
        driver = chrome(profile=tmp_path / "profile")
        try:
            driver.get(f"{url}/training")
            wait(driver, lambda d: "Start training" in text(d))
            driver.find_element(By.XPATH, "//summary[.//p[text()='Bring data']]").click()
            tab = "//*[@role='tab'][contains(., 'Upload a ZIP')]"
            driver.execute_script(
                "arguments[0].click()", wait(driver, lambda d: d.find_element(By.XPATH, tab))
            )
            zip_input = (
                "//div[@data-testid='stFileUploader'][.//*[contains(text(), 'A ZIP of a "
                "dataset')]]//input"
            )
            wait(driver, lambda d: d.find_element(By.XPATH, zip_input)).send_keys(str(archive))
            click_button(driver, "Add this ZIP")
            wait(driver, lambda d: "New dataset data/flock." in text(d), 120)
            assert "Kept train 12 birds, 12 cats, 12 dogs; validation 2 birds" in text(driver)
            assert "valid/ → validation · test/ → test, not trained on" in text(driver)

            head = "//input[@aria-label='Head epochs']"
            box = wait(driver, lambda d: d.find_element(By.XPATH, head))
            box.click()
            box.send_keys(Keys.CONTROL + "a")
            box.send_keys("3")
            box.send_keys(Keys.TAB)
            wait(driver, lambda d: box.get_attribute("value") == "3", 10)
            click_button(driver, "Start training")
            wait(driver, lambda d: "The Explain page now uses this model" in text(d), 600)
            assert "birds" in text(driver) and "Traceback" not in text(driver)
            assert "Test accuracy" in text(driver) and "Test split (6 photos)" in text(driver)
            shot(driver, "k-classes-trained")

            driver.get(url)
            for name in CLASSES:
                photo = tmp_path / "data" / "flock" / "validation" / name
                upload(driver, sorted(photo.iterdir())[0])
                wait(driver, lambda d: "Prediction:" in text(d), 60)
                choose(driver, "Explain the class", name)
                caption = f"Grad-CAM for '{name}' at"
                wait(driver, lambda d: caption in text(d), 60)
                # The top classes as a bar chart, the three of them named in its alt text.
                charts = driver.find_elements(By.CSS_SELECTOR, CHARTS)
                assert charts, "no top-5 chart"
                shot(driver, f"k-classes-explain-{name}")
            choose(driver, "Explain the class", "top-1 vs top-2")
            wait(driver, lambda d: " minus " in text(d), 60)
            assert "Traceback" not in text(driver) and str(tmp_path) not in text(driver)
        finally:
            driver.quit()
