"""The Training page's "Disk space" section through AppTest: figures, deleting behind a dialog."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import space
from core.atomic import write_json
from core.data.uploads import mark_made_here
from core.training import files, lease, store
from core.workers.records import PROGRESS
from tests.support import apps
from tests.support.photos import make_pets

PAGE = "pages/training.py"


def setting_up(monkeypatch, tmp_path) -> tuple[Path, Path]:
    """Two runs (one in use), one dataset below the data root; the page's settings point there."""
    weights, data = tmp_path / "weights", tmp_path / "data"
    for name, state in (("20250101-000000", "done"), ("20250102-000000", "failed")):
        folder = weights / store.RUNS / name
        folder.mkdir(parents=True)
        write_json(folder / PROGRESS, {"state": state, "message": "m"})
    (weights / "current").symlink_to(Path(store.RUNS) / "20250101-000000")
    make_pets(data / "mine", n_train=2, n_validation=1)
    mark_made_here(data / "mine", "upload")  # as an upload makes it
    make_pets(data / "shared-pets", n_train=2, n_validation=1)  # not the app's: never offered
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(data))
    monkeypatch.delenv("CATDOG_PUBLIC", raising=False)
    return weights, data


def open_page() -> AppTest:
    return apps.open_page(PAGE)


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.warning, *at.success])


def test_figures_and_a_finished_run_deleted_after_confirming(monkeypatch, tmp_path):
    weights, _ = setting_up(monkeypatch, tmp_path)
    at = open_page()
    assert not at.exception
    assert "Models and runs use" in texts(at) and "free on the disk" in texts(at)
    assert str(tmp_path) not in texts(at)
    assert at.button(key="delete_run_20250101-000000").disabled  # the run in use
    # Only the dataset the app made is offered for deletion; another one under the root is not.
    assert "data/shared-pets" not in texts(at)
    keys = {b.key for b in at.button if b.key and b.key.startswith("delete_dataset_")}
    assert keys == {"delete_dataset_data/mine"}
    at.button(key="delete_run_20250102-000000").click().run()
    assert not at.exception and at.button(key="confirm_delete")  # the dialog asks first
    assert (weights / store.RUNS / "20250102-000000").is_dir()
    at.button(key="confirm_delete").click().run()
    assert not at.exception
    assert not (weights / store.RUNS / "20250102-000000").exists()
    assert "Deleted run 20250102-000000." in [s.value for s in at.success]


def test_cancel_keeps_the_dataset_and_a_dataset_a_run_reads_is_refused(monkeypatch, tmp_path):
    weights, data = setting_up(monkeypatch, tmp_path)
    at = open_page()
    at.button(key="delete_dataset_data/mine").click().run()
    at.button(key="cancel_delete").click().run()
    assert not at.exception and (data / "mine" / "train").is_dir()

    running = weights / store.RUNS / "20250103-000000"
    running.mkdir()
    write_json(running / files.SETTINGS, {"data": str(data / "mine")})
    lease.acquire_lock(weights, running)
    try:
        at.button(key="delete_dataset_data/mine").click().run()
        at.button(key="confirm_delete").click().run()
    finally:
        lease.release_lock(weights)
    assert not at.exception and (data / "mine" / "train").is_dir()
    refused = [w.value for w in at.warning]
    assert "data/mine is being read by the run in progress: stop it or wait for it." in refused

    at.button(key="delete_dataset_data/mine").click().run()
    at.button(key="confirm_delete").click().run()
    assert not at.exception and not (data / "mine").exists()
    assert "Deleted dataset data/mine." in [s.value for s in at.success]


def test_a_public_visitor_cannot_delete(monkeypatch, tmp_path):
    setting_up(monkeypatch, tmp_path)
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    at = open_page()
    assert not at.exception
    deletes = [b for b in at.button if b.key and b.key.startswith("delete_")]
    assert deletes and all(b.disabled for b in deletes)
    assert "Deleting needs an authorised user in this public demo." in texts(at)


def test_a_low_disk_warns_and_refuses_the_download_with_one_sentence(monkeypatch, tmp_path):
    setting_up(monkeypatch, tmp_path)
    monkeypatch.setattr(space, "free_bytes", lambda path: 100 * space.MB)
    at = open_page()
    assert not at.exception and "100 MB free on the disk" in at.warning[0].value
    at.button(key="download").click().run()
    assert not at.exception
    said = [e.value for e in at.error]
    assert said and said[0].startswith(
        "Not enough free disk space for downloading Oxford-IIIT Pet: 100 MB free"
    )
    assert not (tmp_path / "data" / "oxford-iiit-pet").exists()


def test_folder_results_are_deleted_but_a_run_going_on_and_its_uploads_stay(monkeypatch, tmp_path):
    import os

    weights, _ = setting_up(monkeypatch, tmp_path)
    monkeypatch.delenv("CATDOG_FOLDER_CACHE", raising=False)
    cache = weights / "folders"
    for name, progress in (("done", {"state": "done"}), ("going", {"state": "running"})):
        (cache / name).mkdir(parents=True)
        pid = {"pid": os.getpid()} if name == "going" else {}  # this process: alive
        write_json(cache / name / PROGRESS, {**progress, **pid})
    (cache / "uploads" / "abc").mkdir(parents=True)
    (cache / "uploads" / "abc" / "0000_cat.png").write_bytes(b"x" * 100)
    at = open_page()
    at.button(key="delete_folder_results").click().run()
    at.button(key="confirm_delete").click().run()
    assert not at.exception
    assert not (cache / "done").exists() and (cache / "going").is_dir()
    assert (cache / "uploads" / "abc").is_dir()  # a run going on may be reading them
    write_json(cache / "going" / PROGRESS, {"state": "stopped"})
    at.button(key="delete_folder_results").click().run()
    at.button(key="confirm_delete").click().run()
    assert not at.exception and list(cache.iterdir()) == []
