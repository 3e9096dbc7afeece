"""New datasets from a visitor's files: slugs, ZIPs in the Kaggle layout, and what is refused."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.data import choices
from core.data.archives import MAX_FILES
from core.data.uploads import (
    DatasetError,
    counts,
    describe,
    free_name,
    from_photos,
    from_zip,
    slug,
)


def jpeg(seed: int, size=(24, 24)) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_slugs_and_clashes(tmp_path):
    assert slug("My Pets: Rex & Tom!!") == "my-pets-rex-tom"
    assert slug("../../etc/passwd") == "etc-passwd" and slug("…") == ""
    assert len(slug("a" * 100)) == 40
    (tmp_path / "pets").mkdir()
    (tmp_path / "pets-2").mkdir()
    assert free_name(tmp_path, "Pets") == "pets-3" and free_name(tmp_path, "???") == "dataset"


def test_zip_in_the_kaggle_layout_is_kept_and_the_rest_counted(tmp_path):
    files = {f"mypets/train/cats/c{i}.jpg": jpeg(i) for i in range(5)}
    files |= {f"mypets/train/dogs/d{i}.jpg": jpeg(10 + i) for i in range(5)}
    files |= {"mypets/validation/cats/v.jpg": jpeg(20), "mypets/validation/dogs/w.jpg": jpeg(21)}
    files["mypets/train/dogs/copy.jpg"] = jpeg(10)  # the same photo as d0.jpg
    files["mypets/train/cats/notes.txt"] = b"hello"
    files["mypets/train/cats/broken.jpg"] = jpeg(3)[:50]
    files["../../evil.jpg"] = jpeg(30)
    files["mypets/train/../../../evil2.jpg"] = jpeg(31)
    files["__MACOSX/mypets/._c0.jpg"] = b"resource fork"
    report = from_zip(tmp_path / "data", "My pets", zip_of(files))
    assert report.folder == tmp_path / "data" / "my-pets"
    assert counts(report.folder) == {
        "train": {"cats": 5, "dogs": 5},
        "validation": {"cats": 1, "dogs": 1},
    }
    assert report.skipped == {
        "outside the folder (zip-slip)": 2,
        "duplicates": 1,
        "not an image": 1,
        "corrupt or unreadable": 1,
        "hidden or system files": 1,
    }
    assert "Kept train 5 cats, 5 dogs; validation 1 cats, 1 dogs" in report.summary()
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path.parent / "evil.jpg").exists()
    # The new dataset is a choice of the data selector at once, with its counts.
    assert report.folder in choices.datasets((tmp_path / "data",))
    assert describe(report.folder) == "train 5 cats / 5 dogs · validation 1 cats / 1 dogs"


def test_zip_bombs_and_wrong_layouts_are_refused_whole(tmp_path, monkeypatch):
    many = zip_of({f"train/cats/{i}.jpg": b"" for i in range(MAX_FILES + 1)})
    with pytest.raises(DatasetError, match="at most 20,000"):
        from_zip(tmp_path, "x", many)
    # Zeros compress a thousandfold: the declared sizes give a bomb away before anything is
    # unpacked (the bound made small here, so that the test need not build gigabytes).
    monkeypatch.setattr("core.data.archives.MAX_UNPACKED", 3 * 1024**2)
    bomb = zip_of({f"train/{c}/{i}.jpg": bytes(1 << 20) for c in ("cats", "dogs") for i in (1, 2)})
    assert len(bomb) < 30_000
    with pytest.raises(DatasetError, match="would unpack to 4 MB; at most 3 MB here"):
        from_zip(tmp_path, "x", bomb)
    with pytest.raises(DatasetError, match="The ZIP has 1 class folder \\('cats'\\)"):
        from_zip(tmp_path, "x", zip_of({"train/cats/a.jpg": jpeg(1)}))
    with pytest.raises(DatasetError, match="not a readable ZIP"):
        from_zip(tmp_path, "x", b"PK\x03\x04 not really")
    with pytest.raises(DatasetError, match="The ZIP holds no photo: expected class folders"):
        from_zip(tmp_path, "x", zip_of({"cats/a.txt": b"", "dogs/b.txt": b""}))
    assert list(tmp_path.iterdir()) == []  # nothing half-made is left, not even hidden


def test_photos_per_class_make_a_training_folder(tmp_path):
    photos = {
        "Cats": [("IMG 1.JPG", jpeg(1)), ("IMG 1.jpg", jpeg(2))],
        "Dogs": [("x.png", jpeg(3)), ("y.png", jpeg(4))],
    }
    report = from_photos(tmp_path, "Garden", photos)
    # The classes keep the names typed; their folders are slugs (train/cats/).
    assert counts(report.folder) == {"train": {"Cats": 2, "Dogs": 2}}
    names = sorted(p.name for p in (report.folder / "train" / "cats").iterdir())
    assert names[1] == "img-1.jpg" and names[0].startswith("img-1-")  # a clash gets the digest
    with pytest.raises(DatasetError, match="^Class 'Dogs' has no photos"):
        from_photos(tmp_path, "Garden", {"Cats": [("a.jpg", jpeg(1))], "Dogs": []})
    with pytest.raises(DatasetError, match="^Give photos for both classes"):
        from_photos(tmp_path, "Garden", {"Cats": [], "Dogs": []})
