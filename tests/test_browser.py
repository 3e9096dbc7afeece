"""The real app in a real browser: Debian's Chromium, Selenium, `streamlit run` on loopback.

Screenshots of each state go to artifacts/screenshots/ (not committed: they show the licensed dev
photos).
"""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support.browser import chrome, images, press, shot, text, upload, wait
from tests.support.downloads import pets_archives
from tests.support.photos import PETS, jpeg_bytes, make_pets
from tests.support.servers import serve_folder, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """`streamlit run app.py` on a free loopback port, a small model in a temporary weights
    folder."""
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model

    root = tmp_path_factory.mktemp("browser")
    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        root / "weights" / "model.keras",
    )
    pets = PETS
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
        # "Download Oxford-IIIT Pet" fetches a small generated copy from a loopback server.
        "CATDOG_PETS_MD5": pets_archives(root / "served"),
        "KERAS_HOME": str(root / "keras"),
    }
    with (
        serve_folder(root / "served") as served,
        streamlit_server({**env, "CATDOG_PETS_URL": served}) as (url, _),
    ):
        yield {"url": url, "root": root, "validation": validation, "pets": pets}


@pytest.fixture
def browser(tmp_path):
    driver = chrome(profile=tmp_path / "profile", downloads=tmp_path / "downloads")
    yield driver
    driver.quit()


def test_explain_page_upload_sliders_download_random_and_corrupt(server, browser, tmp_path):
    browser.get(server["url"])
    wait(browser, lambda d: "Upload a photo, take one" in text(d))
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

    press(browser, "Layer (fine → coarse, then all fused)", Keys.LEFT)
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
    wait(browser, lambda d: "Upload a photo, take one" in text(d))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    upload(browser, broken)
    wait(browser, lambda d: "broken.jpg is truncated or corrupt" in text(d))
    assert "Traceback" not in text(browser)
    shot(browser, "explain-corrupt")


@pytest.mark.resnet  # the page's worker trains ResNet-50 (random weights)
def test_bring_data_train_watch_it_learn_stop_and_explain(server, browser, tmp_path):
    """A person with only a browser: data in (download, then a ZIP), a run started, its progress,
    curves and maps epoch by epoch, stopped, and the result used on the Explain page."""
    browser.get(f"{server['url']}/training")
    wait(browser, lambda d: "Start training" in text(d))
    download_pets(browser, server["root"])
    add_a_zip(browser, tmp_path)
    start_a_long_run(browser)
    watch_it_learn_then_stop(browser)

    # The result, on the Explain page: the new model, a validation photo of the new dataset.
    browser.get(server["url"])
    wait(browser, lambda d: "Upload a photo, take one" in text(d))
    assert "trained on my-pets at" in text(browser) and "/tmp/" not in text(browser)
    photo = sorted((server["root"] / "data" / "my-pets" / "validation" / "dogs").iterdir())[0]
    upload(browser, photo)
    wait(browser, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, 60)
    shot(browser, "explain-with-the-new-model")


def download_pets(browser, root: Path) -> None:
    """Bring data: "Download Oxford-IIIT Pet" (from the loopback copy) lands under data/."""
    browser.find_element(By.XPATH, "//summary[.//p[text()='Bring data']]").click()
    button = "//button[.//p[text()='Download Oxford-IIIT Pet']]"
    click(browser, wait(browser, lambda d: visible(d, button)))
    wait(browser, lambda d: "Oxford-IIIT Pet is in data/oxford-iiit-pet" in text(d), 120)
    assert (root / "data" / "oxford-iiit-pet" / "annotations" / "trimaps").is_dir()
    shot(browser, "training-downloaded")


def add_a_zip(browser, tmp_path: Path) -> None:
    """Upload a ZIP over the 25 MB photo cap (its own cap is larger), with one entry that is no
    photo: a new dataset, its counts, chosen for the next run."""
    files = {
        f"mine/train/{c}/{i}.jpg": jpeg_bytes(c, i) for c in ("cats", "dogs") for i in range(12)
    }
    files |= {
        f"mine/validation/{c}/{i}.jpg": jpeg_bytes(c, 50 + i)
        for c in ("cats", "dogs")
        for i in range(4)
    }
    files["mine/train/cats/filler.bin"] = np.random.default_rng(0).bytes(26 * 1024 * 1024)
    archive = tmp_path / "my pets.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for name, data in files.items():
            out.writestr(name, data)
    tab = "//*[@role='tab'][contains(., 'Upload a ZIP')]"
    click(browser, wait(browser, lambda d: visible(d, tab)))
    zip_input = (
        "//div[@data-testid='stFileUploader'][.//*[contains(text(), 'A ZIP of a dataset')]]//input"
    )
    wait(browser, lambda d: d.find_element(By.XPATH, zip_input)).send_keys(str(archive))
    add = "//button[.//p[text()='Add this ZIP']][not(@disabled)]"
    wait(browser, lambda d: visible(d, add), 120)
    name = "//input[@aria-label='Name of the new dataset']"
    wait(browser, lambda d: visible(d, name)).send_keys("My Pets!", Keys.TAB)
    time.sleep(1)  # the name's rerun
    click(browser, wait(browser, lambda d: visible(d, add)))
    wait(browser, lambda d: "New dataset data/my-pets" in text(d), 120)
    assert (
        "Kept train 12 cats, 12 dogs; validation 4 cats, 4 dogs. Skipped 1 not an image"
        in text(browser)
    )
    # Chosen for the next run, with its counts.
    mine = "data/my-pets · train 12 cats / 12 dogs · validation 4 cats / 4 dogs"
    boxes = (
        "return [...document.querySelectorAll('[data-testid=stSelectbox]')]"
        ".map(e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value))"
    )
    wait(browser, lambda d: any(mine in box for box in d.execute_script(boxes)), 10)
    shot(browser, "training-zip-added")


def start_a_long_run(browser) -> None:
    """A run of 2000 head epochs (stopped by hand later), started, its progress bar shown."""
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


def watch_it_learn_then_stop(browser) -> None:
    """The curves move, the four fixed photos' maps come epoch by epoch; stopped, the run is done
    and the Epoch slider goes back to the untrained head's maps."""
    wait(browser, lambda d: "val_loss (epoch" in text(d), 180)
    first = int(text(browser).split("val_loss (epoch ")[1].split(")")[0])
    # The curves move.
    wait(browser, lambda d: int(text(d).split("val_loss (epoch ")[1].split(")")[0]) > first, 60)
    charts = "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']"
    # accuracy and loss (it redraws each second)
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, charts)) == 2, 30)
    # Watch it learn: the four fixed photos' maps, with a slider over the epochs so far.
    wait(browser, lambda d: "Where the model looks, epoch by epoch" in text(d), 60)
    wait(browser, lambda d: sum("head epoch" in c for c in captions(d)) == 4, 30)
    shot(browser, "training-curves-and-maps")
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
    slider = "input[type='range'][aria-label='Epoch']"
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, slider), 30)
    press(browser, "Epoch", Keys.HOME)  # back to the first epoch: the maps of an untrained head
    # The four pictures redraw one by one: wait for all four rather than for the first change.
    wait(
        browser,
        lambda d: [c.endswith("head epoch 1") for c in captions(d) if "epoch" in c] == [True] * 4,
        30,
    )
    assert "Traceback" not in text(browser)
    shot(browser, "training-stopped")


def visible(driver, xpath: str):
    """The first element at `xpath` that is on screen (tabs and expanders keep hidden copies)."""
    return next((e for e in driver.find_elements(By.XPATH, xpath) if e.is_displayed()), None)


def click(driver, element) -> None:
    """A click the page cannot miss while an expander or tab is still sliding open."""
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", element
    )


def captions(driver) -> list[str]:
    return [
        e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stImageCaption']")
    ]


def test_phone_width_and_dark_theme(server, browser):
    browser.set_window_size(390, 844)
    browser.get(server["url"])
    wait(browser, lambda d: "Upload a photo, take one" in text(d))
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )
    shot(browser, "explain-phone")
    browser.set_window_size(1400, 1000)
    browser.get(f"{server['url']}/?embed_options=dark_theme")
    wait(browser, lambda d: "Upload a photo, take one" in text(d))
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


def test_public_demo_trains_only_with_the_password(tmp_path, tiny_weights):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('training_password = "s3cret"\n')
    env = {
        "CATDOG_WEIGHTS_DIR": str(tiny_weights),
        "CATDOG_PUBLIC": "1",
        "CATDOG_BACKBONE_WEIGHTS": "none",
        "CATDOG_DATA_DIR": str(make_pets(tmp_path / "data", n_train=40, n_validation=10, size=32)),
    }
    start = "//button[.//p[text()='Start training']]"
    with streamlit_server(env, args=("--secrets.files", str(secrets))) as (url, _):
        driver = chrome(profile=tmp_path / "profile")
        try:
            driver.get(f"{url}/training")
            # The page may still be drawing the button after the sentence above it.
            wait(
                driver,
                lambda d: (
                    "the training password starts or stops one" in text(d)
                    and d.find_elements(By.XPATH, start)
                ),
            )
            # An anonymous visitor cannot start.
            assert not driver.find_element(By.XPATH, start).is_enabled()
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


def test_public_demo_login_with_an_identity_provider(tmp_path, tiny_weights):
    """The st.login branch end to end: a mock OpenID Connect provider on loopback, Chromium through
    its login."""
    oidc = pytest.importorskip(
        "oidc_provider_mock", reason="oidc-provider-mock (requirements-dev.txt) is not installed"
    )
    from tests.support.servers import free_port

    env = {
        "CATDOG_WEIGHTS_DIR": str(tiny_weights),
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
                driver.get(f"{url}/training")
                login = "//button[.//p[text()='Log in']]"
                # The page draws top to bottom: wait for the button too, not the text alone.
                wait(
                    driver,
                    lambda d: (
                        "log in to start or stop one" in text(d)
                        and d.find_elements(By.XPATH, start)
                        and d.find_elements(By.XPATH, login)
                    ),
                )
                # Anonymous: no training.
                assert not driver.find_element(By.XPATH, start).is_enabled()
                driver.find_element(By.XPATH, login).click()
                # The provider's page.
                wait(driver, lambda d: d.find_elements(By.XPATH, "//button[text()='ada']"), 60)
                driver.find_element(By.XPATH, "//button[text()='ada']").click()
                wait(driver, lambda d: d.current_url.startswith(url), 60)
                driver.get(f"{url}/training")
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


def test_camera_in_chromium_with_a_fake_device(server, tmp_path):
    """Chromium's fake camera plays a pet photo; a click on "Take Photo" and the map is there."""
    import cv2

    photos = sorted(server["validation"].rglob("*.jpg")) or sorted(
        server["validation"].rglob("*.png")
    )
    frame = cv2.resize(cv2.imread(str(photos[0])), (640, 480))
    video = tmp_path / "pet.y4m"  # one frame of YUV 4:2:0, which the fake device loops
    header = b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\nFRAME\n"
    video.write_bytes(header + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    flags = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",  # allows the camera without asking
        f"--use-file-for-fake-video-capture={video}",
    )
    driver = chrome(profile=tmp_path / "profile", flags=flags)
    try:
        driver.get(server["url"])
        wait(driver, lambda d: "Upload a photo, take one" in text(d))
        source = "//label[.//p[text()='Take a photo']]"
        click(driver, wait(driver, lambda d: d.find_element(By.XPATH, source)))
        take = "//button[contains(., 'Take Photo')]"
        wait(driver, lambda d: visible(d, take) and visible(d, take).is_enabled(), 60)
        time.sleep(1)  # the fake stream's first frames
        click(driver, visible(driver, take))
        wait(driver, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, 60)
        size = re.search(r"camera\.jpg \((\d+)×(\d+)\)", text(driver))
        assert size and int(size[2]) >= 480, "the shot, at the camera's resolution"
        assert "Traceback" not in text(driver)
        shot(driver, "explain-camera")
    finally:
        driver.quit()


def test_a_first_visitor_who_opens_a_page_directly_gets_the_app_navigation(tmp_path):
    """On a fresh server, /compare first: the sidebar is app.py's (Explain, Training, Compare, Side
    by side), not the pages/ folder's ("app", "explain", ...), and there is no "Page not found"."""
    with streamlit_server({"CATDOG_WEIGHTS_DIR": str(tmp_path / "weights")}) as (url, _):
        driver = chrome()
        try:
            driver.get(f"{url}/compare")
            wait(driver, lambda d: "Compare methods and layers" in text(d), 90)
            nav = driver.find_element(By.CSS_SELECTOR, '[data-testid="stSidebarNav"]').text
            names = [re.sub(r"[^A-Za-z ]", "", line).strip() for line in nav.splitlines()]
            assert [name for name in names if name] == [
                "Explain",
                "Training",
                "Compare",
                "Side by side",
                "Folder",
            ]
            assert "Page not found" not in text(driver)
        finally:
            driver.quit()
