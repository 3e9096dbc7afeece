"""Choices, not typed paths: what the pages offer stays inside the roots, every listing bounded."""

from pathlib import Path

from core.data.choices import datasets, images_in, label, validation_folders, walk, weights_files
from tests.support import apps
from tests.support.photos import make_pets


def test_nothing_outside_the_root_is_offered(tmp_path):
    root = make_pets(tmp_path / "data" / "pets", 2, 2).parent
    outside = make_pets(tmp_path / "outside", 1, 1)
    # A link out, and '..' by another name.
    (root / "escape").symlink_to(outside)
    (root / "up").symlink_to(root / "..")
    (outside / "weights.h5").write_bytes(b"x")
    (root / "pets" / "train" / "cats" / "leak.png").symlink_to(
        outside / "train" / "cats" / "cat_000.png"
    )
    listed = [path.resolve() for path in walk(root)]
    assert listed and all(path.is_relative_to(root.resolve()) for path in listed)
    assert datasets((root,)) == [(root / "pets").resolve()]
    assert validation_folders((root,)) == [(root / "pets" / "validation").resolve()]
    assert weights_files((root,)) == []
    assert not any(p.name == "leak.png" for p in images_in(root / "pets" / "train"))
    assert label((root / "pets" / "validation").resolve(), (root,)) == "data/pets/validation"


def test_the_whole_filesystem_and_a_huge_folder_are_bounded(tmp_path):
    # "/" as a root: bounded by entries.
    assert len(list(walk(Path("/"), max_entries=5_000, seconds=60.0))) == 5_000
    huge = tmp_path / "huge"
    huge.mkdir()
    for i in range(3_000):
        (huge / f"{i}.png").touch()
    assert len(images_in(huge, max_entries=1_000)) == 1_000


def test_a_walk_stops_mid_way_when_its_time_runs_out(tmp_path, monkeypatch):
    """A fake clock, one second later at every look: no real timing, no race."""
    for name in "abcde":
        (tmp_path / name).mkdir()
        (tmp_path / name / "photo.png").touch()
    ticks = iter(range(1_000))
    monkeypatch.setattr("core.data.walk.time.monotonic", lambda: float(next(ticks)))
    # Started at 0, deadline 3.5: the root read at 1, a/ at 2, b/ at 3, then c/ at 4 is too late.
    found = {path.relative_to(tmp_path).as_posix() for path in walk(tmp_path, seconds=3.5)}
    assert found == {*"abcde", "a/photo.png", "b/photo.png"}


def test_explain_page_offers_validation_folders_not_a_text_field(
    monkeypatch, tiny_weights, tmp_path
):
    data = make_pets(tmp_path / "data", 1, 2)
    (data / "linked").symlink_to("/usr/share")
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(data))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "absent"))
    at = apps.open_page("app.py")
    at.sidebar.radio(key="source").set_value("Random validation photo").run()
    assert not at.sidebar.text_input  # no field takes a path
    assert at.sidebar.selectbox(key="validation_folder").options == ["data/validation"]
    at.sidebar.button[0].click().run()
    assert not at.exception and not at.error
    assert (
        Path(at.session_state.random_photo)
        .resolve()
        .is_relative_to((data / "validation").resolve())
    )
