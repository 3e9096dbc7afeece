"""download-data on an archive the test builds: checksum, broken files dropped, Kaggle layout."""

import hashlib
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core.cli.commands import main
from core.data.pets import DownloadError, Source, download_pets
from tests.support.downloads import tar_of


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(
        np.random.default_rng(seed).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    ).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def archive(tmp_path):
    files = {f"images/Abyssinian_{i}.jpg": jpeg(i) for i in range(1, 11)}  # capitalised: cats
    files |= {f"images/beagle_{i}.jpg": jpeg(100 + i) for i in range(1, 11)}  # lower case: dogs
    files["images/Bengal_1.jpg"] = b""  # zero bytes
    files["images/pug_1.jpg"] = jpeg(7)[:60]  # truncated
    files["images/Egyptian_Mau_129.jpg"] = jpeg(8)  # on the known-bad list
    files["images/Abyssinian_1.mat"] = b"not a photo"
    return tar_of(tmp_path / "images.tar.gz", files)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def test_annotations_are_kept_beside_the_photos(archive, tmp_path):
    trimap = np.full((20, 20), 2, np.uint8)
    trimap[5:15, 5:15] = 1
    annotations = tar_of(
        tmp_path / "annotations.tar.gz",
        {
            "annotations/trimaps/Abyssinian_1.png": png(trimap),
            "annotations/xmls/Abyssinian_1.xml": b"<annotation/>",
            "annotations/trainval.txt": b"Abyssinian_1 1 1 1\n",
        },
    )
    md5 = hashlib.md5(annotations.read_bytes()).hexdigest()
    source = Source(
        archive.as_uri(),
        hashlib.md5(archive.read_bytes()).hexdigest(),
        frozenset({"Egyptian_Mau_129"}),
        annotations.as_uri(),
        md5,
    )
    with pytest.raises(DownloadError, match="annotations.tar.gz arrived damaged"):
        download_pets(
            tmp_path / "bad", replace(source, annotations_md5="0" * 32), cache_dir=tmp_path / "c0"
        )
    # Both archives are checked before anything is written.
    assert not (tmp_path / "bad" / "train").exists()
    download_pets(tmp_path / "data", source, cache_dir=tmp_path / "cache")
    kept = tmp_path / "data" / "annotations"
    assert (kept / "xmls" / "Abyssinian_1.xml").is_file() and (kept / "trainval.txt").is_file()
    from core.explain.localization import read_trimap

    assert read_trimap(kept / "trimaps" / "Abyssinian_1.png").sum() == 100


def source_for(path, md5=None):
    md5 = md5 or hashlib.md5(path.read_bytes()).hexdigest()
    return Source(url=path.as_uri(), md5=md5, known_bad=frozenset({"Egyptian_Mau_129"}))


def test_lays_out_train_and_validation_dropping_broken_files(archive, tmp_path):
    counts = download_pets(tmp_path / "data", source_for(archive), cache_dir=tmp_path / "cache")
    assert counts["train"] == {"cats": 8, "dogs": 8} and counts["validation"] == {
        "cats": 2,
        "dogs": 2,
    }
    assert sorted(d.split(":")[0] for d in counts["dropped"]) == [
        "Bengal_1.jpg",
        "Egyptian_Mau_129.jpg",
        "pug_1.jpg",
    ]
    cats = sorted(p.name for p in (tmp_path / "data" / "train" / "cats").iterdir())
    assert len(cats) == 8 and all(name.startswith("Abyssinian_") for name in cats)
    assert len(list((tmp_path / "data" / "validation" / "dogs").iterdir())) == 2
    with pytest.raises(DownloadError, match="already exists"):
        download_pets(tmp_path / "data", source_for(archive), cache_dir=tmp_path / "cache")


def test_checksum_mismatch_is_refused(archive, tmp_path):
    with pytest.raises(DownloadError, match="arrived damaged") as caught:
        download_pets(
            tmp_path / "data", source_for(archive, md5="0" * 32), cache_dir=tmp_path / "cache"
        )
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "data" / "train").exists()


def test_offline_is_one_clear_line(tmp_path, capsys, monkeypatch):

    monkeypatch.setenv("CATDOG_PETS_URL", "http://127.0.0.1:9/")  # the setting; nothing listens
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert main(["download-data", "--dest", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: Could not download http://127.0.0.1:9/images.tar.gz")
        and err.count("\n") == 1
    )


def test_fetch_reports_bytes_checks_and_caches(tmp_path):
    from core.data.pets import fetch
    from tests.support.servers import serve_folder

    served = tmp_path / "served"
    served.mkdir()
    payload = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 5)  # three full MB and a bit
    (served / "images.tar.gz").write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    heard = []
    with serve_folder(served) as url:
        path = fetch(url + "images.tar.gz", md5, tmp_path / "cache", lambda *a: heard.append(a))
        # A rerun of the page mid-download: the exception goes through, nothing half-written stays.
        with pytest.raises(KeyboardInterrupt):
            fetch(url + "images.tar.gz", md5, tmp_path / "other", stop_at_first_block)
    assert path.read_bytes() == payload and path.parent == tmp_path / "cache" / "datasets"
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    assert heard[-1] == (len(payload), len(payload)) and len(heard) == 4
    assert not list((tmp_path / "other" / "datasets").iterdir())
    # Cached: no server needed any more, and the checksum is checked again.
    assert fetch("http://127.0.0.1:9/images.tar.gz", md5, tmp_path / "cache") == path


def stop_at_first_block(done, total):
    raise KeyboardInterrupt


def test_download_pets_reports_each_step_and_leaves_no_half_dataset(archive, tmp_path):
    source = source_for(archive)
    steps = []
    download_pets(
        tmp_path / "data",
        source,
        cache_dir=tmp_path / "cache",
        progress=lambda *a: steps.append(a),
    )
    assert {step for step, _, _ in steps} == {"images.tar.gz", "checking photos"}
    assert steps[-1][0] == "checking photos" and steps[-1][1] == steps[-1][2] == 23  # the .jpg
    # The marker says which layout this is, so that the other can be made from it; the app's own,
    # that the app made it (so it may offer to delete it).
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        ".made-by-catdog-gradcam.json",
        "oxford-iiit-pet.json",
        "train",
        "validation",
    ]

    def interrupt(step, done, total):
        if step == "checking photos":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_pets(tmp_path / "again", source, cache_dir=tmp_path / "cache", progress=interrupt)
    assert list((tmp_path / "again").iterdir()) == []  # the staging folder went with it
