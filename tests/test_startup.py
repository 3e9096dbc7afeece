"""`streamlit run app.py` loads the model when the server starts, not when the first visitor comes.

The server's log has one line per model load (ui.loading._model): it must appear before anyone
visits, and stay alone once a visitor's page has run. The browser, too, has the code that draws an
explanation before the first photo arrives: the first upload fetches no script.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import ROOT
from tests.support.browser import chrome, images, text, upload, wait
from tests.support.photos import make_pets
from tests.support.servers import streamlit_server
from ui.streamlit_internals import result_chunks

LOADED, NO_MODEL = "Model loaded in", "No model:"
# The scripts the browser has fetched so far (Streamlit's frontend loads most element kinds' code
# on first use).
ENTRIES = "return performance.getEntriesByType('resource').map(e => e.name)"
SCRIPTS = ENTRIES + ".filter(n => n.endsWith('.js')).map(n => n.split('/').pop())"
PRELOADED = "return window.catdogPreloaded"
CHART = "return document.querySelector('.vega-embed canvas, .vega-embed svg') !== null"


def wait_for_line(log: Path, line: str, timeout: float = 180) -> str:
    """The server's log once it holds `line`; TimeoutError if it never does."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if line in (found := log.read_text()):
            return found
        time.sleep(0.5)
    raise TimeoutError(f"{line!r} never appeared in the server's log:\n{log.read_text()}")


@pytest.mark.browser
def test_the_model_loads_at_start_and_the_first_visitor_reuses_it(tiny_weights, tmp_path):
    log = tmp_path / "server.log"
    env = {"CATDOG_WEIGHTS_DIR": str(tiny_weights), "CATDOG_DATA_DIR": str(tmp_path / "data")}
    with streamlit_server(env, log) as (url, _):
        assert wait_for_line(log, LOADED).count(LOADED) == 1  # before any visitor
        driver = chrome()
        try:
            driver.get(url)
            wait(driver, lambda d: "Upload a photo, take one" in text(d), 120)
            # ui.streamlit_internals.preload_result_code: every chunk, and what it imports, loaded
            # while the page waits for a photo.
            chunks = len(result_chunks())
            wait(driver, lambda d: d.execute_script(PRELOADED) == chunks, 60)
            before = set(driver.execute_script(SCRIPTS))
            photo = next(make_pets(tmp_path / "photos", n_train=0, n_validation=1).rglob("*.png"))
            upload(driver, photo)
            wait(driver, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, 60)
            wait(driver, lambda d: d.execute_script(CHART))  # sent after the maps
            after = driver.execute_script(SCRIPTS)
            # Under the browser's 250-entry timing buffer: a fetch would have been recorded.
            assert set(after) == before and len(driver.execute_script(ENTRIES)) < 250
        finally:
            driver.quit()
        # The page has run and found the model in the warm-up's cache entry: no second load.
        found = log.read_text()
        assert found.count(LOADED) == 1
        # Nor a warning that the warm-up thread, having no page, cannot show the cache's spinner.
        assert "missing ScriptRunContext" not in found


# In a fresh process: what the warm-up leaves done for the first visitor's page run.
WARM_FIRST_PAGE = """
import inspect, sys
import tensorflow as tf
from ui import loading
done = lambda: (inspect.getabsfile(tf) in inspect.modulesbyfile, "streamlit.emojis" in sys.modules)
before = done()
loading._warm_first_page()
print(before, done())
"""


def test_the_warm_up_does_streamlits_once_per_process_work_of_a_first_page():
    # Streamlit's first element calls inspect.stack(), which maps every loaded module to its
    # file; its page icons load the emoji table.
    result = subprocess.run(
        [sys.executable, "-c", WARM_FIRST_PAGE], capture_output=True, text=True, cwd=ROOT
    )
    assert result.stdout.splitlines()[-1] == "(False, False) (True, True)", result.stderr[-2000:]


@pytest.mark.slow
def test_without_a_model_the_server_says_so_once_and_keeps_serving(tmp_path):
    log = tmp_path / "server.log"
    env = {
        "CATDOG_WEIGHTS_DIR": str(tmp_path / "weights"),  # no model.keras: the zero-shot fallback
        "CATDOG_IMAGENET_WEIGHTS": str(tmp_path / "absent.h5"),  # ...fails, as offline
    }
    with streamlit_server(env, log) as (url, process):
        wait_for_line(log, NO_MODEL)
        time.sleep(1)  # anything the failure might print after its line
        found = log.read_text()
        assert process.poll() is None and found.count(NO_MODEL) == 1
        assert "absent.h5 does not exist" in found and "Traceback" not in found
