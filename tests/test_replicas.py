"""Two app replicas (`streamlit run` twice) on one weights folder, as behind a load balancer.

One run at a time across both, a run published by one is used by the other, and a stale lease is
reclaimed. Driven in Chromium.
"""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import chrome, shot, text, wait
from tests.support.photos import make_pets
from tests.support.servers import streamlit_server

# The run trains a ResNet-50 (random weights).
pytestmark = [pytest.mark.browser, pytest.mark.resnet]


START = "//button[.//p[text()='Start training']]"


def start_training(driver, url: str) -> str:
    driver.get(f"{url}/training")
    wait(
        driver,
        lambda d: (
            d.find_elements(By.XPATH, START) and d.find_element(By.XPATH, START).is_enabled()
        ),
    )
    driver.find_element(By.XPATH, START).click()
    wait(driver, lambda d: "Started run" in text(d) or "already in progress" in text(d))
    return text(driver)


def test_two_replicas_share_one_weights_folder(tmp_path, tiny_weights):
    from core.training.lease import LEASE_SECONDS, LOCK

    weights = tiny_weights
    env = {
        "CATDOG_WEIGHTS_DIR": str(weights),
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "CATDOG_DATA_DIR": str(make_pets(tmp_path / "data", n_train=30, n_validation=10, size=32)),
    }
    with streamlit_server(env) as (one, _), streamlit_server(env) as (two, _):
        driver = chrome(profile=tmp_path / "profile")
        try:
            driver.get(two)
            # The model copied in by hand, until a run is published.
            copied = "model.keras (current) · fine-tuned tiny"
            wait(driver, lambda d: copied in text(d) and "trained on" not in text(d))
            assert "Started run" in start_training(driver, one)
            # One run at a time across both.
            assert "already in progress" in start_training(driver, two)
            driver.get(f"{one}/training")
            wait(driver, lambda d: ": done" in text(d), 300)
            # The other replica's next rerun loads the published model (a ResNet-50: a minute or
            # more when the whole suite shares the cores), and names its dataset only.
            driver.get(two)
            wait(driver, lambda d: "trained on data at" in text(d), 240)
            shot(driver, "replicas-published")

            stale = {
                "host": "replica-on-another-host",
                "pid": 1,
                "since": 0,
                "run_dir": None,
                "heartbeat": time.time() - LEASE_SECONDS - 1,
            }
            # A holder that stopped renewing its lease.
            (weights / LOCK).write_text(json.dumps(stale))
            assert "Started run" in start_training(driver, two)  # reclaimed
            discard = "//button[.//p[text()='Stop, discard this run']]"
            wait(driver, lambda d: d.find_elements(By.XPATH, discard), 120)
            driver.find_element(By.XPATH, discard).click()
            wait(driver, lambda d: ": stopped" in text(d), 180)
        finally:
            driver.quit()
