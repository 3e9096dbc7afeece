"""The real app in a real browser: Debian's Chromium driven by Selenium, against `streamlit run` on
loopback.

Screenshots of each state go to artifacts/screenshots/ (not committed: they show the licensed dev
photos).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.browser_support import (
    CHROMIUM,
    DRIVER,
    chrome,
    images,
    press,
    shot,
    streamlit_server,
    text,
    upload,
    wait,
)
from tests.conftest import make_pets

pytestmark = pytest.mark.browser
if not (CHROMIUM and DRIVER):
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed (make browser installs them as "
        "root)",
        allow_module_level=True,
    )

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """`streamlit run app.py` on a free loopback port, a small model in a temporary weights
    folder."""
    from core.model import ModelInfo, save_classifier
    from tests.conftest import TINY_SIZE, tiny_model

    root = tmp_path_factory.mktemp("browser")
    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        root / "weights" / "model.keras",
    )
    pets = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets"
    validation = (
        pets / "validation"
        if (pets / "validation").is_dir()
        else make_pets(root / "gen", 2, 4) / "validation"
    )
    env = {
        "CATDOG_WEIGHTS_DIR": str(root / "weights"),
        "CATDOG_VALIDATION_DIR": str(validation),
        # the operator's default: the Training page's choice starts there
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "CATDOG_DATA_DIR": str(make_pets(root / "data", n_train=60, n_validation=20, size=32)),
    }
    with streamlit_server(env) as (url, _):
        yield {"url": url, "root": root, "validation": validation, "pets": pets}


@pytest.fixture
def browser(tmp_path):
    driver = chrome(profile=tmp_path / "profile", downloads=tmp_path / "downloads")
    yield driver
    driver.quit()


def test_explain_page_upload_sliders_download_random_and_corrupt(server, browser, tmp_path):
    browser.get(server["url"])
    wait(browser, lambda d: "Upload a photo or pick" in text(d))
    photo = sorted((server["validation"]).rglob("*.*"))[0]
    upload(browser, photo)
    wait(browser, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3)
    shot(browser, "explain-uploaded")
    overlay = images(browser)[2]

    press(browser, "Heatmap opacity (alpha)", Keys.RIGHT, Keys.RIGHT)  # two steps of 0.05
    wait(
        browser,
        lambda d: (
            len(images(d)) >= 3 and images(d)[2] != overlay and "Overlay, alpha 0.50" in text(d)
        ),
    )
    overlay = images(browser)[2]

    press(browser, "Layer (fine → coarse)", Keys.LEFT)
    wait(browser, lambda d: "at conv_a" in text(d) and images(d)[2] != overlay)
    shot(browser, "explain-layer-changed")

    browser.find_element(By.XPATH, "//button[.//p[text()='Overlay (PNG)']]").click()
    download = browser.downloads / f"{photo.stem}_overlay.png"
    wait(browser, lambda d: download.is_file() and download.stat().st_size > 0, 30)
    assert Image.open(download).size == Image.open(photo).size

    random_source = "//label[.//p[text()='Random validation photo']]"
    # Click until the page has rerun with the new source (a click during a redraw can be lost).
    wait(
        browser,
        lambda d: (
            d.find_element(By.XPATH, random_source).click()
            or d.find_elements(By.XPATH, "//button[.//p[contains(., 'Pick a random photo')]]")
        ),
    )
    browser.find_element(By.XPATH, "//button[.//p[contains(., 'Pick a random photo')]]").click()
    wait(browser, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3)
    shot(browser, "explain-random")

    browser.get(server["url"])  # a fresh visit that uploads a corrupt file
    wait(browser, lambda d: "Upload a photo or pick" in text(d))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    upload(browser, broken)
    wait(browser, lambda d: "broken.jpg is truncated or corrupt" in text(d))
    assert "Traceback" not in text(browser)
    shot(browser, "explain-corrupt")


def test_training_page_progress_curves_stop_and_settle(server, browser):
    browser.get(f"{server['url']}/Training")
    wait(browser, lambda d: "Start training" in text(d))
    fields = {"Head epochs": "2000", "Early-stopping patience": "2000"}
    for label, value in fields.items():
        box = wait(browser, lambda d: d.find_element(By.XPATH, f"//input[@aria-label='{label}']"))
        box.click()
        box.send_keys(Keys.CONTROL + "a")
        box.send_keys(value)
        box.send_keys(Keys.TAB)
        wait(browser, lambda d: box.get_attribute("value") == value, 10)
    browser.find_element(By.XPATH, "//button[.//p[text()='Start training']]").click()
    wait(browser, lambda d: "Started run" in text(d))
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid='stProgress']"), 120)
    shot(browser, "training-progress")
    wait(browser, lambda d: "val_loss (epoch" in text(d), 180)
    first = int(text(browser).split("val_loss (epoch ")[1].split(")")[0])
    wait(
        browser, lambda d: int(text(d).split("val_loss (epoch ")[1].split(")")[0]) > first, 60
    )  # the curves move
    charts = "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']"
    wait(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, charts)) == 2, 30
    )  # accuracy and loss (it redraws each second)
    shot(browser, "training-curves")
    browser.find_element(
        By.XPATH, "//button[.//p[text()='Stop, keep the best model so far']]"
    ).click()
    # The status redraws every second: wait for each part of the settled page rather than catch it
    # mid-draw.
    wait(
        browser,
        lambda d: (
            ": done" in text(d) and "Stopped early" in text(d) and "Validation accuracy" in text(d)
        ),
        120,
    )
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='stProgress']"), 30)
    assert "Traceback" not in text(browser)
    shot(browser, "training-stopped")


def test_phone_width_and_dark_theme(server, browser):
    browser.set_window_size(390, 844)
    browser.get(server["url"])
    wait(browser, lambda d: "Upload a photo or pick" in text(d))
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )
    shot(browser, "explain-phone")
    browser.set_window_size(1400, 1000)
    browser.get(f"{server['url']}/?embed_options=dark_theme")
    wait(browser, lambda d: "Upload a photo or pick" in text(d))
    background = browser.execute_script(
        "return "
        "getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"
    )
    channels = [
        int(v)
        for v in background[background.index("(") + 1 : background.index(")")].split(",")[:3]
    ]
    assert sum(channels) < 150, background  # a dark background
    shot(browser, "explain-dark")


def test_public_demo_trains_only_with_the_password(tmp_path):
    from core.model import ModelInfo, save_classifier
    from tests.conftest import TINY_SIZE, tiny_model

    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        tmp_path / "weights" / "model.keras",
    )
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('training_password = "s3cret"\n')
    env = {
        "CATDOG_WEIGHTS_DIR": str(tmp_path / "weights"),
        "CATDOG_PUBLIC": "1",
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "CATDOG_DATA_DIR": str(make_pets(tmp_path / "data", n_train=40, n_validation=10, size=32)),
    }
    start = "//button[.//p[text()='Start training']]"
    with streamlit_server(env, args=("--secrets.files", str(secrets))) as (url, _):
        driver = chrome(profile=tmp_path / "profile")
        try:
            driver.get(f"{url}/Training")
            wait(driver, lambda d: "the training password starts or stops one" in text(d))
            assert not driver.find_element(
                By.XPATH, start
            ).is_enabled()  # an anonymous visitor cannot start
            shot(driver, "public-training-locked")
            box = driver.find_element(By.XPATH, "//input[@aria-label='Training password']")
            box.send_keys("s3cret")
            driver.find_element(By.XPATH, "//button[.//p[text()='Unlock training']]").click()
            wait(
                driver,
                lambda d: (
                    "unlocked for this session" in text(d)
                    and d.find_element(By.XPATH, start).is_enabled()
                ),
            )
            driver.find_element(By.XPATH, start).click()
            wait(driver, lambda d: "Started run" in text(d))
            discard = "//button[.//p[text()='Stop, discard this run']]"
            wait(
                driver,
                lambda d: (
                    d.find_elements(By.XPATH, discard)
                    and d.find_element(By.XPATH, discard).is_enabled()
                ),
                120,
            )
            driver.find_element(By.XPATH, discard).click()
            wait(driver, lambda d: "discarded" in text(d) or ": stopped" in text(d), 180)
            shot(driver, "public-training-unlocked")
        finally:
            driver.quit()


def test_public_demo_login_with_an_identity_provider(tmp_path):
    """The st.login branch end to end: a mock OpenID Connect provider on loopback, Chromium through
    its login."""
    oidc = pytest.importorskip(
        "oidc_provider_mock", reason="oidc-provider-mock (requirements-dev.txt) is not installed"
    )
    from core.model import ModelInfo, save_classifier
    from tests.browser_support import free_port
    from tests.conftest import TINY_SIZE, tiny_model

    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        tmp_path / "weights" / "model.keras",
    )
    env = {
        "CATDOG_WEIGHTS_DIR": str(tmp_path / "weights"),
        "CATDOG_PUBLIC": "1",
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "CATDOG_DATA_DIR": str(make_pets(tmp_path / "data", n_train=4, n_validation=2, size=16)),
    }
    start = "//button[.//p[text()='Start training']]"
    with oidc.run_server_in_thread(
        user_claims=[oidc.User(sub="ada", claims={"email": "ada@example.com"})]
    ) as provider:
        port = free_port()
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\ncookie_secret = '
            f'"{"c" * 32}"\n'
            'client_id = "catdog"\nclient_secret = "catdog-secret"\n'
            f"server_metadata_url = "
            f'"http://127.0.0.1:{provider.server_port}/.well-known/openid-configuration"\n'
        )
        with streamlit_server(env, args=("--secrets.files", str(secrets)), port=port) as (url, _):
            driver = chrome(profile=tmp_path / "profile")
            try:
                driver.get(f"{url}/Training")
                wait(driver, lambda d: "log in to start or stop one" in text(d))
                assert not driver.find_element(
                    By.XPATH, start
                ).is_enabled()  # anonymous: no training
                driver.find_element(By.XPATH, "//button[.//p[text()='Log in']]").click()
                wait(
                    driver, lambda d: d.find_elements(By.XPATH, "//button[text()='ada']"), 60
                )  # the provider's page
                driver.find_element(By.XPATH, "//button[text()='ada']").click()
                wait(driver, lambda d: d.current_url.startswith(url), 60)
                driver.get(f"{url}/Training")
                wait(
                    driver,
                    lambda d: (
                        "Signed in as ada@example.com" in text(d)
                        and d.find_element(By.XPATH, start).is_enabled()
                    ),
                )
                shot(driver, "public-training-logged-in")
            finally:
                driver.quit()
