"""Driving the real app in Debian's Chromium: starting a browser, waiting for the page, reading it.

The browser tests, the load test, benchmarks/bench_browser.py and bench_load.py and
docs/screenshots.py use them; the app itself they start with tests/support/servers.py.

A test that needs Chromium is marked `browser` (`pytestmark = pytest.mark.browser`), and that is
all: tests/conftest.py skips every test so marked, with `MISSING`'s reason, where Debian's chromium
or chromium-driver is not installed.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from core.config import ROOT

SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# Why a browser test cannot run here (None: it can). The one skip of the browser tests.
MISSING = (
    None
    if CHROMIUM and DRIVER
    else "Debian's chromium and chromium-driver are not installed (make browser installs them as "
    "root)"
)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chrome(
    size: str = "1400,1000",
    profile: Path | None = None,
    downloads: Path | None = None,
    flags: tuple[str, ...] = (),
):
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        *FLAGS,
        f"--window-size={size}",
        *([f"--user-data-dir={profile}"] if profile else []),
        *flags,
    ):
        options.add_argument(flag)
    if downloads:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    for attempt in range(3):
        try:
            driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
            break
        # Chromedriver can lose the race for a port when many start at once.
        except WebDriverException:
            if attempt == 2:
                raise
            time.sleep(1 + attempt)
    driver.downloads = downloads
    return driver


def shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def wait(driver, condition, timeout: float = 60, poll: float = 0.25):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # An element read while a rerun redraws it goes stale: the condition is tried again.
    stale = (StaleElementReferenceException,)
    try:
        return WebDriverWait(driver, timeout, poll, ignored_exceptions=stale).until(
            lambda d: condition(d)
        )
    except Exception:
        shot(driver, "failed")  # what the page showed when the wait gave up
        raise


def text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def images(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [
        img.get_attribute("src")
        for img in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stImage'] img")
    ]


def press(driver, label: str, *keys) -> None:
    """Focus a slider (react-aria's hidden range input) and use the keyboard, as a keyboard user
    would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    handle = driver.find_element(By.CSS_SELECTOR, f"input[type='range'][aria-label='{label}']")
    driver.execute_script("arguments[0].focus()", handle)
    ActionChains(driver).send_keys(*keys).perform()


def upload(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    wait(driver, lambda d: d.find_element(By.XPATH, "//input[@type='file']")).send_keys(str(path))


def choose(driver, label: str, option: str) -> None:
    """Type into a selectbox (they are searchable) and take the first match, as a person would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = f"//div[@data-testid='stSelectbox'][.//*[text()='{label}']]//input"
    field = wait(driver, lambda d: d.find_element(By.XPATH, box))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
    field.click()
    field.send_keys(option)
    field.send_keys(Keys.ENTER)


def click_button(driver, label: str) -> None:
    """Click the enabled button labelled `label`, scrolled into view first."""
    from selenium.webdriver.common.by import By

    button = f"//button[.//p[text()='{label}']][not(@disabled)]"
    element = wait(driver, lambda d: next(iter(d.find_elements(By.XPATH, button)), None), 60)
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", element
    )


def expected_predictions(weights: Path, photos: list[Path]) -> dict[Path, str]:
    """The page's 'Prediction:' text for each photo, computed offline with the server's model."""
    from core.explain.explainer import Explainer
    from core.images import load_image
    from core.models.load import load_classifier

    explainer = Explainer(load_classifier(weights / "model.keras"))
    expected = {}
    for photo in photos:
        explanation = explainer.explain([load_image(photo)])[0]
        expected[photo] = (
            f"{explanation.label} ({explanation.probabilities[explanation.label]:.1%})"
        )
    return expected


def visitor(url: str, photo: Path, expected: str, together: threading.Barrier) -> dict:
    """A visitor uploads `photo`, checks its prediction, moves alpha once: its seconds.

    Every visitor sharing `together` uploads at the same moment, and checks its photo again
    once all have their prediction: a state shared between sessions would show there.
    """
    driver = chrome("1200,900", profile=Path(tempfile.mkdtemp(prefix="chromium-")))
    try:
        driver.get(url)
        wait(driver, lambda d: "Upload a photo, take one" in text(d), 120)
        together.wait(300)
        start = time.perf_counter()
        upload(driver, photo)
        wait(driver, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, 180)
        upload_seconds = time.perf_counter() - start
        together.wait(300)
        page = text(driver)
        assert f"{photo.name} (" in page, "another session's photo"
        assert f"Prediction: {expected}" in page, f"expected {expected!r}"
        overlay = images(driver)[2]
        start = time.perf_counter()
        press(driver, "Heatmap opacity (alpha)", "\ue014")  # arrow right
        wait(driver, lambda d: len(images(d)) >= 3 and images(d)[2] != overlay, 120)
        return {
            "photo": photo.name,
            "upload_s": upload_seconds,
            "slider_s": time.perf_counter() - start,
        }
    except Exception:
        together.abort()  # the others stop waiting for this one
        raise
    finally:
        driver.quit()


def visitors_at_once(url: str, expected: dict[Path, str]) -> tuple[list[dict], list[str]]:
    """One Chromium session per photo (`expected`: photo -> its 'Prediction:' text), uploading
    together: (their figures, their errors, one line each)."""
    together, results, errors = threading.Barrier(len(expected)), [], []

    def one(photo: Path) -> None:
        try:
            results.append(visitor(url, photo, expected[photo], together))
        except Exception as error:  # collected for the caller's assertion
            errors.append(f"{photo.name}: {type(error).__name__}: {str(error)[:200]}")

    threads = [threading.Thread(target=one, args=(photo,)) for photo in expected]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return results, errors
