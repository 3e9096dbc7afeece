"""Four outside models in a real browser: imported through the Training page, each explained.

The seed article's nested ResNet-50 (1/255: the proposed caffe overridden with rescale), a small
Sequential CNN (nothing proposed: the person picks), MobileNetV2 at 160 px (tf proposed and
confirmed) and a small ViT whose class-token layer the operator's module defines
(CATDOG_CUSTOM_OBJECTS) go in through "Bring your own model"; then the Explain page's Model picker
takes each, and a photo gets a prediction and a map. Random weights throughout: the journey, not
the accuracy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import keras
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support.browser import choose, chrome, click_button, images, shot, text, upload, wait
from tests.support.models import TINY_SIZE, mobilenet_v2, sequential_cnn, tiny_model
from tests.support.photos import jpeg_bytes
from tests.support.servers import streamlit_server
from tests.support.transformers import VIT_LAYERS, vit

pytestmark = [pytest.mark.browser, pytest.mark.resnet]


@dataclass(frozen=True)
class Brought:
    """A model file to import and what the person answers for it."""

    file: str
    classes: str
    preprocessing: str  # chosen in the form ("" keeps the proposal)
    proposed: str  # the backbone the page names for its proposal ("" for none)


def seed_style() -> keras.Model:
    """The seed article's model: ResNet-50 nested in a Sequential, a Dense(2, softmax) head."""
    keras.utils.set_random_seed(0)
    backbone = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(224, 224, 3)
    )
    return keras.Sequential(
        [
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


MODELS = {
    "seed": Brought("seed.keras", "cat, dog", "rescale", "ResNet"),
    "notebook-cnn": Brought("cnn.h5", "birds, cats, dogs", "rescale", ""),
    "mobilenet": Brought("mobilenet.keras", "cat, dog", "", "MobileNetV2"),
    "vit": Brought("vit.keras", "cat, dog", "none", ""),
}


def type_into(driver, label: str, value: str) -> None:
    field = wait(driver, lambda d: d.find_element(By.XPATH, f"//input[@aria-label='{label}']"))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
    field.click()
    field.send_keys(value)
    field.send_keys(Keys.TAB)  # a text input sends its value when it loses focus
    wait(driver, lambda d: field.get_attribute("value") == value, 10)


def import_through_the_page(driver, url: str, name: str, brought: Brought, folder) -> None:
    driver.get(f"{url}/training")
    wait(driver, lambda d: "Bring your own model" in text(d))
    driver.find_element(By.XPATH, "//summary[.//p[text()='Bring your own model']]").click()
    uploader = "//div[@data-testid='stFileUploader'][.//*[contains(text(), 'A Keras model')]]"
    field = wait(driver, lambda d: d.find_element(By.XPATH, f"{uploader}//input"))
    field.send_keys(str(folder / brought.file))
    wait(driver, lambda d: "Layers offered" in text(d), 180)  # ResNet-50 takes a while to read
    # Waited for, not read at once: a rerun still drawing the page may have the facts half shown.
    if brought.proposed:
        said = f"Proposed because the model contains {brought.proposed}"
    else:
        said = "No known backbone in this model: choose its preprocessing."
    wait(driver, lambda d: said in text(d) and "Layers offered" in text(d), 60)
    type_into(driver, "Class names, comma-separated, in output order", brought.classes)
    if brought.preprocessing:
        choose(driver, "Preprocessing", brought.preprocessing)
    type_into(driver, "Name (optional)", name)
    click_button(driver, "Import")
    done = f"Imported {name}: choose it in the Model picker on the Explain page."
    wait(driver, lambda d: done in text(d), 240)
    shot(driver, f"import-{name}")


def explain_with(driver, url: str, name: str, photo) -> None:
    driver.get(url)
    choose(driver, "Model", f"Imported: {name}")
    upload(driver, photo)
    classes = [each.strip() for each in MODELS[name].classes.split(",")]
    wait(driver, lambda d: any(f"Prediction: {c}" in text(d) for c in classes), 180)
    wait(driver, lambda d: "Grad-CAM for '" in text(d) and len(images(d)) >= 3, 120)
    shot(driver, f"import-explain-{name}")


def test_four_outside_models_import_through_the_page_and_each_is_explained(tmp_path):
    from core.models.info import ModelInfo, save_classifier

    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        tmp_path / "weights" / "model.keras",
    )
    files = tmp_path / "brought"
    files.mkdir()
    seed_style().save(files / "seed.keras")
    sequential_cnn().save(files / "cnn.h5")  # a legacy full-model .h5
    mobilenet_v2().save(files / "mobilenet.keras")
    vit(classes=2).save(files / "vit.keras")  # its class token: a layer of its own
    photo = tmp_path / "pet.jpg"
    photo.write_bytes(jpeg_bytes("cats", 7, size=96))
    (tmp_path / "data").mkdir()
    env = {
        "CATDOG_WEIGHTS_DIR": str(tmp_path / "weights"),
        "CATDOG_DATA_DIR": str(tmp_path / "data"),
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "KERAS_HOME": str(tmp_path / "keras"),
        "CATDOG_CUSTOM_OBJECTS": str(VIT_LAYERS),  # the operator's module, never a visitor's
    }
    with streamlit_server(env) as (url, _):
        driver = chrome(profile=tmp_path / "profile")
        try:
            for name, brought in MODELS.items():
                import_through_the_page(driver, url, name, brought, files)
            for name, kept in {
                "seed": "rescale",
                "notebook-cnn": "rescale",
                "mobilenet": "tf",
                "vit": "none",
            }.items():
                sidecar = tmp_path / "weights" / "imported" / name / "model.json"
                assert json.loads(sidecar.read_text())["preprocessing"] == kept
            for name in MODELS:
                explain_with(driver, url, name, photo)
                assert "Traceback" not in text(driver) and str(tmp_path) not in text(driver)
        finally:
            driver.quit()
