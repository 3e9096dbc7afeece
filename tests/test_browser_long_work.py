"""Long work on the page says how long and can stop (#30, item 5), in Chromium on ResNet-50
(random weights): Score-CAM over 2,048 channels and the faithfulness check show a bar with the
passes done and the seconds left; Cancel stops the work itself (the server's CPU goes quiet), says
so in one line and offers it again."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support.browser import choose, chrome, click_button, press, text, upload, wait
from tests.support.photos import jpeg_bytes
from tests.support.servers import cpu_seconds, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.resnet]


def quiet(pid: int, seconds: float = 3.0) -> float:
    """The CPU seconds `pid` spends over the next `seconds`."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def bar(driver) -> str:
    """The progress bar's line, or "" when none is shown."""
    found = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stProgress']")
    return found[0].text if found else ""


def test_score_cam_and_faithfulness_show_their_progress_and_stop_on_cancel(
    resnet50_weights, tmp_path
):
    env = {
        "CATDOG_WEIGHTS_DIR": str(resnet50_weights),
        "CATDOG_VALIDATION_DIR": str(tmp_path / "none"),
    }
    photo = tmp_path / "pet.jpg"
    photo.write_bytes(jpeg_bytes("cat", seed=3, size=224))
    driver = chrome(profile=tmp_path / "profile", downloads=tmp_path / "downloads")
    with streamlit_server(env) as (url, server):
        try:
            driver.get(url)
            upload(driver, photo)
            wait(driver, lambda d: "Prediction:" in text(d), 120)
            # Score-CAM over every one of the last layer's 2,048 channels: minutes on 2 cores.
            choose(driver, "Method", "Score-CAM")
            wait(driver, lambda d: "Score-CAM channels tried" in text(d))
            press(driver, "Score-CAM channels tried", Keys.END)
            line = wait(driver, lambda d: "s left" in bar(d) and bar(d), 120)
            # 2,048 masked passes and the photo's own.
            assert "Explaining with Score-CAM" in line and "of 2,049 forward passes" in line
            click_button(driver, "Cancel")
            wait(driver, lambda d: "Stopped: Score-CAM for pet.jpg was cancelled." in text(d), 30)
            assert not bar(driver) and quiet(server.pid) < 1.0
            assert "Explain with Score-CAM after all" in text(driver)

            # Back to Grad-CAM; then the faithfulness check, cancelled in its turn.
            choose(driver, "Method", "Grad-CAM")
            wait(driver, lambda d: "Is this map faithful?" in text(d), 60)
            summary = "//summary[.//*[text()='Is this map faithful?']]"
            driver.execute_script("arguments[0].click()", driver.find_element(By.XPATH, summary))
            click_button(driver, "Measure faithfulness (208 forward passes)")
            # Once a batch is done (the first compiles the model's forward pass), it says how long.
            line = wait(driver, lambda d: "s left" in bar(d) and bar(d))
            assert "Deleting and inserting pixels" in line and "of 208 forward passes" in line
            click_button(driver, "Cancel")
            stopped = "Stopped: cancelled before it could measure faithfulness."
            wait(driver, lambda d: stopped in text(d), 30)
            assert not bar(driver) and quiet(server.pid) < 1.0
            assert "Traceback" not in text(driver)
        finally:
            driver.quit()
