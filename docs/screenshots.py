"""Make the README's screenshots from the running app in Debian's Chromium: `make screenshots`.

Rerun it after any change to what a page shows, then look at every PNG before committing them.

    docs/explain.png   the Explain page with a photo uploaded
    docs/guided.png    the same photo by Guided Grad-CAM: its gradient beside the overlay
    docs/compare.png   the Compare page with its grid filled
    docs/training.png  the Training page during a run started from the page
    docs/watch.png     that run's "where the model looks, epoch by epoch" maps
    docs/dark.png      the Explain page in the dark theme
    docs/breeds.png    the Explain page with a three-class model picked, one class explained
    docs/side.png      the Side by side page: the two-class and the three-class model on one photo
    docs/folder.png    the Folder page after a run over the generated validation folder

Everything the app reads lives in a temporary folder, deleted at the end: a ResNet-50 with a random
backbone (this project cannot assume internet for ImageNet weights, so its maps mean little) saved
with core.models.info.save_classifier, a small generated dataset in the Kaggle layout
(tests/support/photos.py), and a three-class model (birds, cats, dogs; a random backbone too)
saved as an earlier run, with generated pictures of its classes. The committed screenshots show
only generated pictures: the shared development photos' licence forbids re-publishing them, and a
screenshot would. With --pets, a few of them (../shared/data/pets) are copied into the temporary
dataset instead, for a look on this machine only; the PNGs then go to artifacts/screenshots/, never
docs/.

The script fails, saying where, when the page shows a temporary or repository path, a Python
exception, or a sidebar that does not read Explain, Training, Compare, Side by side, Folder.
Pages are found by their visible labels only.

    .venv/bin/python docs/screenshots.py [--tiny] [--keep] [--pets]

--tiny uses tests/support/models.py's 8x8 model instead of ResNet-50 (a quick check of the
script, not screenshots for the README); --keep leaves the temporary folder in place and prints it;
--pets uses the shared development photos (not for the README, see above).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `core` and `tests` are importable from the repo

from tests.support.browser import chrome, images, text, upload, wait  # noqa: E402
from tests.support.servers import streamlit_server  # noqa: E402

DOCS = REPO / "docs"
PETS = REPO.parent / "shared" / "data" / "pets"  # the shared development photos, if present
PER_CLASS = {"train": 12, "validation": 4}  # photos per class copied into the temporary dataset
NAVIGATION = ("Explain", "Training", "Compare", "Side by side", "Folder")
WIDE, TALL, TALLER = (1400, 1000), (1400, 1500), (1400, 2300)
STALE = "[data-stale='true']"  # what a rerun in progress dims


class ScreenshotError(RuntimeError):
    """The page is not fit to be a screenshot; the message says why and where."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the 8x8 test model: a quick check")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--pets", action="store_true", help="the shared photos (artifacts/ only, never docs/)"
    )
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="catdog-screens-"))
    try:
        env = prepare(root, args.tiny, not args.pets)
        with streamlit_server(env, log=root / "server.log") as (url, _):
            driver = chrome(size=f"{WIDE[0]},{WIDE[1]}", profile=root / "profile")
            try:
                Screens(driver, url, forbidden(root), photo(root), root).take_all()
            finally:
                driver.quit()
        # Only once every page passed its checks; the shared photos never reach docs/.
        out = REPO / "artifacts" / "screenshots" if args.pets or args.tiny else DOCS
        out.mkdir(parents=True, exist_ok=True)
        for name in Screens.NAMES:
            shutil.copyfile(root / f"{name}.png", out / f"{name}.png")
    except ScreenshotError as error:
        print(f"screenshots: {error}", file=sys.stderr)
        if (root / "server.log").is_file():
            print((root / "server.log").read_text()[-3000:], file=sys.stderr)
        return 1
    finally:
        stop_worker(root)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("wrote " + ", ".join(f"{out.relative_to(REPO)}/{name}.png" for name in Screens.NAMES))
    return 0


def prepare(root: Path, tiny: bool, generated: bool = False) -> dict[str, str]:
    """The model and the dataset in `root`; returns the app's environment pointing there."""
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model
    from tests.support.photos import make_located_pets

    data = root / "data"
    if tiny:
        model, info = tiny_model(), ModelInfo(image_size=TINY_SIZE, backbone="tiny")
        info = replace(info, backbone_weights="none")
    else:
        model, info = squares_model(root / "squares")
    save_classifier(model, info, root / "weights" / "model.keras")
    if (PETS / "validation").is_dir() and not generated:
        for split, count in PER_CLASS.items():
            for label in ("cats", "dogs"):
                folder = data / split / label
                folder.mkdir(parents=True)
                # The largest files: photos big enough to show (some are thumbnails).
                photos = sorted((PETS / split / label).iterdir(), key=lambda p: -p.stat().st_size)
                for source in photos[:count]:
                    shutil.copyfile(source, folder / source.name)
    else:  # photos of the kind the app's model learnt: a square of its class's colour
        make_located_pets(data, PER_CLASS["train"], PER_CLASS["validation"], size=96, seed=7)
    three_classes(root, data, tiny)
    return {
        "CATDOG_WEIGHTS_DIR": str(root / "weights"),
        "CATDOG_DATA_DIR": str(data),
        "CATDOG_VALIDATION_DIR": str(data / "validation"),
        "CATDOG_BACKBONE_WEIGHTS": "none",  # offline: the Training page's default backbone
        "KERAS_HOME": str(root / "keras"),
    }


def squares_model(folder: Path):
    """The app's model for the screenshots: a small CNN trained here on generated photos whose
    class is the colour of a square at a random place (tests/support/photos.py
    make_located_pets: bluish cats, reddish dogs), so the evidence is known and the map shows
    it. Returns (model, ModelInfo)."""
    import keras
    import numpy as np

    from core.images import load_image
    from core.models.info import ModelInfo
    from tests.support.photos import make_located_pets

    make_located_pets(folder, n_train=120, n_validation=20, size=96)
    splits = {}
    for split in ("train", "validation"):
        paths = sorted((folder / split).rglob("*.png"))
        splits[split] = (
            np.stack([load_image(p) for p in paths]).astype("float32"),
            np.array([float(p.parent.name == "dogs") for p in paths]),
        )
    keras.utils.set_random_seed(0)
    inputs = keras.Input((96, 96, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    for index, filters in enumerate((16, 32, 32)):
        conv = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")
        x = conv(x)
        x = keras.layers.MaxPooling2D(name=f"pool{index}")(x) if index < 2 else x
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name="logit")(x), name="squares_cnn")
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(*splits["train"], epochs=15, batch_size=16, verbose=0)
    images, labels = splits["validation"]
    accuracy = float(((model.predict(images, verbose=0)[:, 0] > 0) == (labels > 0.5)).mean())
    info = ModelInfo(
        image_size=96,
        backbone="small CNN",
        backbone_weights="trained from scratch on generated squares",
        trained_on="generated squares",
        val_accuracy=accuracy,
    )
    return model, info


def three_classes(root: Path, data: Path, tiny: bool) -> None:
    """A three-class model as an earlier run (the picker lists it), and pictures of its classes."""
    import keras

    from core.models.build import build_classifier
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model
    from tests.support.photos import class_names, make_pets

    make_pets(data.parent / "flock", 2, 2, size=96, classes=3)
    names = tuple(class_names(3))
    keras.utils.set_random_seed(0)  # the same random model, so the same screenshot, every time
    model = tiny_model(classes=3) if tiny else build_classifier("none", num_classes=3)
    info = ModelInfo(
        class_names=names,
        image_size=TINY_SIZE if tiny else 224,
        backbone="tiny" if tiny else "ResNet50",
        backbone_weights="none",
        trained_on=str(data.parent / "flock"),
        trained_at="2026-11-30 09:00",
    )
    save_classifier(model, info, root / "weights" / "runs" / "20261130-090000" / "model.keras")


def stop_worker(root: Path) -> None:
    """End the training run this script started, if it still works (its worker outlives the
    server: it runs in a session of its own)."""
    from core.atomic import read_json

    holder = read_json(root / "weights" / "train.lock") or {}
    if holder.get("pid") and holder.get("host") == socket.gethostname():
        with contextlib.suppress(OSError):
            os.kill(holder["pid"], signal.SIGTERM)


def photo(root: Path) -> Path:
    """The photo uploaded on the Explain and Compare pages: the largest validation cat."""
    return max((root / "data" / "validation" / "cats").iterdir(), key=lambda p: p.stat().st_size)


def forbidden(root: Path) -> list[str]:
    """Paths a visitor must never see: the temporary folder's, the repository's, the photos'."""
    paths = {str(root), str(root.resolve()), str(REPO), str(PETS.resolve())}
    return sorted(paths | {tempfile.gettempdir().rstrip("/") + "/"})  # any temporary path


class Screens:
    NAMES = (
        "explain",
        "guided",
        "breeds",
        "side",
        "compare",
        "folder",
        "training",
        "watch",
        "dark",
    )

    def __init__(self, driver, url: str, forbidden_paths: list[str], photo_path: Path, out: Path):
        self.driver, self.url, self.out = driver, url, out
        self.forbidden_paths, self.photo = forbidden_paths, photo_path

    def take_all(self) -> None:
        self.explain()
        self.guided()
        self.breeds()
        self.side_by_side()
        self.compare()
        self.folder()  # before the training run, which would share the CPU with its worker
        self.training()
        self.dark()

    # -- the pages ---------------------------------------------------------------------------

    def explain(self) -> None:
        self.open(self.url, "Upload a photo, take one")
        sources = self.labels("[data-testid='stRadio'] label")
        for source in ("Upload a photo", "Take a photo", "Random validation photo"):
            if source not in sources:
                raise ScreenshotError(f"Explain: photo source {source!r} missing, saw {sources}")
        upload(self.driver, self.photo)
        self.until(lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, "a prediction")
        self.save("explain")

    def guided(self) -> None:
        """explain.png's photo by Guided Grad-CAM: a fourth picture, the gradient."""
        self.choose("Method", "Guided Grad-CAM")
        self.until(
            lambda d: "The gradient × the Grad-CAM map" in text(d) and len(images(d)) >= 4,
            "the gradient picture",
            300,
        )
        self.save("guided")
        self.choose("Method", "Grad-CAM")  # the other screens show Grad-CAM
        self.until(
            lambda d: "Grad-CAM for" in text(d) and "The gradient" not in text(d), "Grad-CAM"
        )

    def breeds(self) -> None:
        """The three-class run picked under Model, a bird explained by name, its top classes."""
        self.choose("Model", "2026-11-30 09:00")
        self.until(lambda d: "Which of 3 classes" in text(d), "the three-class model")
        bird = min((self.out / "flock" / "validation" / "birds").iterdir())
        upload(self.driver, bird)
        self.until(lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, "a prediction")
        # The predicted class, by name: a random head's map for another class may be empty.
        predicted = text(self.driver).split("Prediction: ")[1].split(" (")[0]
        self.choose("Explain the class", predicted)
        self.until(lambda d: f"Grad-CAM for '{predicted}'" in text(d), f"the map for {predicted}")
        self.save("breeds")

    def side_by_side(self) -> None:
        """The three-class model (A, still picked) beside the two-class one (B) on one photo."""
        self.resize(TALLER)  # down to the difference map
        self.navigate("Side by side", "Two models side by side")
        self.choose("Second model", "Copied in by hand")
        self.until(lambda d: "A minus B" in text(d) and len(images(d)) >= 3, "the difference")
        self.save("side")
        self.choose("Model", "Copied in by hand")  # the other screens show the two-class model
        self.until(lambda d: "Two models side by side" in text(d), "the page again")

    def compare(self) -> None:
        self.resize(TALL)
        self.navigate("Compare", "Compare methods and layers")
        time.sleep(2)  # the page's first run: a photo chosen on Explain may still be chosen here
        if "Fill the grid" not in text(self.driver):
            upload(self.driver, self.photo)
        self.until(lambda d: "Fill the grid" in text(d), "'Fill the grid'")
        # The first three methods (Grad-CAM, Grad-CAM++, HiResCAM): the grid stays quick.
        methods = "//div[@data-testid='stMultiSelect'][.//*[text()='Methods']]//input"
        chips = methods.replace("//input", "//*[starts-with(@aria-label, 'Remove ')]")
        for _ in range(len(self.driver.find_elements("xpath", chips)) - 3):
            box = self.until(lambda d: d.find_element("xpath", methods), "the Methods box")
            box.click()
            box.send_keys("\ue003")  # Backspace: drops the last chosen method
            time.sleep(2)  # its rerun
        self.driver.find_element("xpath", methods).send_keys("\ue00c")  # Escape: close the list
        if len(self.driver.find_elements("xpath", chips)) != 3:
            raise ScreenshotError("Compare: could not leave three methods chosen")
        self.click_button("Fill the grid")
        self.until(self.grid_filled, "the grid", 600)
        self.save("compare")

    def folder(self) -> None:
        """The two-class model over the generated validation folder (the list's first): the
        accuracy, the confusion matrix, the filters, the table and the gallery's first row."""
        self.resize(TALLER)
        self.navigate("Folder", "A folder at a glance")
        self.click_button("Explain these photos")
        self.until(lambda d: "sorted by confidence" in text(d), "the folder's results", 600)
        self.until(lambda d: self.gallery_cells(d) >= 4 and "Accuracy" in text(d), "the gallery")
        self.save("folder")

    def training(self) -> None:
        self.navigate("Training", "Start training")
        # Enough epochs that the run is still going when the screenshot is taken.
        for label, value in {"Head epochs": "200", "Early-stopping patience": "200"}.items():
            self.type_number(label, value)
        self.click_button("Start training")
        self.until(lambda d: "Started run" in text(d), "the run to start")
        self.until(lambda d: self.epochs_watched(d) >= 4, "four epochs of maps", 600)
        self.save("training")
        self.click_button("Stop, keep the best model so far")
        self.until(
            lambda d: ": done" in text(d) and "Validation accuracy" in text(d),
            "the run to finish",
            300,
        )
        heading = self.driver.find_element(
            "xpath", "//*[contains(text(), 'Where the model looks')]"
        )
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", heading)
        time.sleep(1)
        self.save("watch")

    def dark(self) -> None:
        self.resize(WIDE)
        self.open(f"{self.url}/?embed_options=dark_theme", "Upload a photo, take one")
        upload(self.driver, self.photo)
        self.until(lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, "a prediction")
        self.save("dark")

    # -- helpers -----------------------------------------------------------------------------

    def open(self, url: str, expected: str) -> None:
        self.driver.get(url)
        self.until(lambda d: expected in text(d), repr(expected))
        sidebar = self.labels("[data-testid='stSidebarNav'] a")
        if [next((n for n in NAVIGATION if n in s), s) for s in sidebar] != list(NAVIGATION):
            raise ScreenshotError(f"the sidebar reads {sidebar}, expected {list(NAVIGATION)}")

    def navigate(self, page: str, expected: str) -> None:
        """Click the sidebar's link to `page`, as a person would."""
        links = self.driver.find_elements("css selector", "[data-testid='stSidebarNav'] a")
        link = next((a for a in links if page in a.text), None)
        if link is None:
            raise ScreenshotError(f"no sidebar link {page!r}")
        link.click()
        self.until(lambda d: expected in text(d), repr(expected))

    def choose(self, label: str, option: str) -> None:
        """Type into a (searchable) selectbox and click the option named so, else take the first
        match, as a person would (Enter alone keeps the current choice when it matches too)."""
        box = f"//div[@data-testid='stSelectbox'][.//*[text()='{label}']]//input"
        field = self.until(lambda d: d.find_element("xpath", box), f"the {label!r} box")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
        field.click()
        field.send_keys(option)
        time.sleep(0.5)  # the list filters
        named = f"//*[@role='option'][normalize-space()='{option}']"
        exact = [o for o in self.driver.find_elements("xpath", named) if o.is_displayed()]
        if exact:
            exact[0].click()
        else:
            field.send_keys("\ue007")  # Enter
        time.sleep(2)  # its rerun

    def labels(self, selector: str) -> list[str]:
        return [e.text.strip() for e in self.driver.find_elements("css selector", selector)]

    def click_button(self, label: str) -> None:
        button = self.until(
            lambda d: next(
                (
                    b
                    for b in d.find_elements("xpath", f"//button[.//p[text()='{label}']]")
                    if b.is_displayed() and b.is_enabled()
                ),
                None,
            ),
            f"the button {label!r}",
        )
        self.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", button
        )

    def type_number(self, label: str, value: str) -> None:
        box = self.until(
            lambda d: d.find_element("xpath", f"//input[@aria-label='{label}']"), repr(label)
        )
        box.click()
        box.send_keys("\ue009" + "a")  # Ctrl+A
        box.send_keys(value, "\ue004")  # then Tab, so the form keeps it
        self.until(lambda d: box.get_attribute("value") == value, f"{label} = {value}")

    @staticmethod
    def grid_filled(driver) -> bool:
        """The Compare grid drawn: captioned cells, and no progress bar left."""
        captions = driver.find_elements("css selector", "[data-testid='stImageCaption']")
        cells = sum("deletion AUC" in caption.text for caption in captions)
        return cells > 0 and not driver.find_elements("css selector", "[data-testid='stProgress']")

    @staticmethod
    def gallery_cells(driver) -> int:
        """The Folder page's overlays drawn, captioned "cats/cat_003.png · cat 81% · right"."""
        captions = driver.find_elements("css selector", "[data-testid='stImageCaption']")
        return sum(" · right" in c.text or " · wrong" in c.text for c in captions)

    @staticmethod
    def epochs_watched(driver) -> int:
        captions = driver.find_elements("css selector", "[data-testid='stImageCaption']")
        epochs = [c.text.rsplit("epoch", 1)[-1].strip() for c in captions if "epoch" in c.text]
        return max((int(e) for e in epochs if e.isdigit()), default=0)

    def until(self, condition, what: str, timeout: float = 180):
        try:
            return wait(self.driver, lambda d: self.checked(d) and condition(d), timeout)
        except ScreenshotError:
            raise
        except Exception as error:
            raise ScreenshotError(f"gave up waiting for {what} ({type(error).__name__})") from None

    def checked(self, driver) -> bool:
        """Fail at once on what a screenshot must never show."""
        page = text(driver)
        shown = [path for path in self.forbidden_paths if path in page]
        if shown:
            raise ScreenshotError(f"the page shows the server path {shown[0]}")
        if driver.find_elements("css selector", "[data-testid='stException']"):
            raise ScreenshotError("the page shows a Python exception")
        return True

    def resize(self, size: tuple[int, int]) -> None:
        self.driver.set_window_size(*size)

    def save(self, name: str) -> None:
        """A screenshot of a settled page: no element dimmed as stale by a rerun in progress (the
        Training page redraws every second), no focus ring or tooltip."""
        time.sleep(1.5)  # the last rerun's images and charts load
        self.driver.execute_script("document.activeElement && document.activeElement.blur()")
        for _ in range(60):
            self.until(lambda d: not d.find_elements("css selector", STALE), "a settled page")
            self.driver.save_screenshot(str(self.out / f"{name}.png"))
            if not self.driver.find_elements("css selector", STALE):
                print(f"{name}.png taken", flush=True)
                return
            time.sleep(0.2)
        raise ScreenshotError(f"{name}: the page never stayed settled for a screenshot")


if __name__ == "__main__":
    sys.exit(main())
