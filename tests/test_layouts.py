"""Datasets as people download them, read the same way from a folder, a ZIP and the CLI.

The layouts are made by tests/support/downloads.py as Kaggle, Roboflow, Microsoft, TensorFlow and
Oxford publish them; the archives as Windows Explorer, PowerShell, 7-Zip and Info-ZIP write them.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

import pytest

from core.data.classes import DataError
from core.data.folders import scan
from core.data.layouts import label_from_name, layout_of, read_layout
from core.data.uploads import DatasetError, counts, from_photos, from_zip
from tests.support import downloads
from tests.support.photos import jpeg_bytes

# What each layout holds, per split and class, read by hand from its files; and how it is read.
EXPECTED = {
    "Kaggle Dogs vs. Cats": (
        {"train": {"cat": 6, "dog": 6}},
        "train/ → train, labels from file names · test1/: 2 photos not read (no class)",
    ),
    "Kaggle cat-and-dog": (
        {"train": {"cats": 5, "dogs": 5}, "test": {"cats": 5, "dogs": 5}},
        "training_set/ → train · test_set/ → test, not trained on",
    ),
    "Roboflow": (
        {
            "train": {"cats": 5, "dogs": 5},
            "validation": {"cats": 2, "dogs": 2},
            "test": {"cats": 2, "dogs": 2},
        },
        "train/ → train · valid/ → validation · test/ → test, not trained on",
    ),
    "Microsoft PetImages": ({"train": {"Cat": 6, "Dog": 6}}, "class folders → train"),
    "cats_and_dogs_filtered": (
        {"train": {"cats": 5, "dogs": 5}, "validation": {"cats": 5, "dogs": 5}},
        "train/ → train · validation/ → validation",
    ),
    "Oxford-IIIT Pet": (
        {"train": {"Abyssinian": 4, "Bengal": 4, "beagle": 4, "pug": 4}},
        "labels from file names → train",
    ),
}


def per_split(layout) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for _, split, label in layout.photos:
        found.setdefault(split, {}).setdefault(label, 0)
        found[split][label] += 1
    return found


@pytest.mark.parametrize("name", list(downloads.LAYOUTS))
def test_each_downloaded_layout_is_read_from_a_folder(tmp_path, name):
    folder = downloads.write_folder(tmp_path / "data", downloads.LAYOUTS[name]())
    layout = layout_of(folder)
    want, reading = EXPECTED[name]
    assert per_split(layout) == want and layout.describe() == reading


@pytest.mark.parametrize("name", list(downloads.LAYOUTS))
def test_a_folder_and_zips_of_it_from_three_tools_give_the_same_dataset(tmp_path, name):
    files = downloads.LAYOUTS[name]()
    folder = downloads.write_folder(tmp_path / "folder", files)
    want = per_split(layout_of(folder))  # class names as written: PetImages' Cat, Oxford's Bengal
    archives = {
        "explorer": downloads.zip_as_explorer(files, top="download"),
        "powershell": downloads.zip_with_backslashes(files),
        "info-zip": downloads.zip_in_code_page(files, "utf-8"),
    }
    for tool, archive in archives.items():
        report = from_zip(tmp_path / "data", tool, archive)
        assert counts(report.folder) == want, tool
        assert report.reading == EXPECTED[name][1], tool
        # The dataset written is read back as the same classes and counts (train/ validation/
        # test/ <class>/), so a run on it trains on what the ZIP held.
        assert per_split(layout_of(report.folder)) == want, tool


def test_a_test_split_is_kept_apart_and_never_among_the_training_photos(tmp_path):
    folder = downloads.write_folder(tmp_path / "rf", downloads.roboflow())
    data = scan(folder)
    assert data.class_names == ("cats", "dogs") and not data.held_out
    assert data.test is not None and data.test.counts(2) == [2, 2]
    tested = set(data.test.paths)
    assert all("/test/" in path for path in tested)
    assert not tested & (set(data.train.paths) | set(data.validation.paths))
    assert data.summary().startswith("cats: 5 train / 2 validation / 2 test")
    assert "test/ → test, not trained on" in data.summary()
    # Without a validation split, validation is held out of train, never out of test.
    data = scan(downloads.write_folder(tmp_path / "kaggle", downloads.kaggle_cat_and_dog()))
    assert data.held_out and data.test.counts(2) == [5, 5]
    assert sum(data.train.counts(2)) + sum(data.validation.counts(2)) == 10
    assert "validation held out of train" in data.summary()


@pytest.mark.slow
def test_a_run_reports_its_test_split_and_leaked_photos_apart(tmp_path):
    from core.training import jobs
    from tests.support.models import tiny_model
    from tests.support.runs import FAST

    files = downloads.roboflow(n=8)
    files["valid/cats/copy.jpg"] = files["train/cats/cat0_jpg.rf.00000000.jpg"]  # leaked
    folder = downloads.write_folder(tmp_path / "rf", files)
    state = jobs.run(folder, tmp_path / "weights", FAST, build=tiny_model)
    report = state.report
    # The copy, 0 bits apart; and train's dog0, which has cat0's noise on another colour (the
    # same picture in grey, where pHash looks), 4 bits apart.
    pair, other = report["near_duplicates"]["pairs"]
    assert report["near_duplicates"]["count"] == 2
    assert (pair["distance"], other["distance"]) == (0, 4)
    assert (pair["split"], Path(pair["other_path"]).name) == ("train", "copy.jpg")
    assert state.state == "done" and report["confusion"] and "test" in report
    test = report["test"]
    assert sum(map(sum, test["confusion"])) == 4 and test["class_names"] == ["cat", "dog"]
    assert test["accuracy"] == 1.0  # one colour per class: learnt, and it carries to test


def test_masks_beside_the_photos_and_a_test_folder_beside_class_folders():
    # Oxford-IIIT Pet's two archives unpacked side by side: the trimaps are no class.
    oxford = [f"images/{b}_1.jpg" for b in ("Abyssinian", "beagle")]
    oxford += [f"annotations/trimaps/{b}_1.png" for b in ("Abyssinian", "beagle")]
    layout = read_layout(oxford)
    assert [label for _, _, label in layout.photos] == ["Abyssinian", "beagle"]
    assert layout.ignored == (("annotations/", 2),)
    # Class folders with a test/ beside them: the class folders train, test/ is kept apart.
    layout = read_layout(["cats/a.jpg", "dogs/b.jpg", "test/cats/c.jpg", "test/dogs/d.jpg"])
    assert layout.classes("train") == layout.classes("test") == ["cats", "dogs"]
    assert layout.describe() == "class folders → train · test/ → test, not trained on"


def test_a_zip_whose_test_split_has_one_class_is_read_as_the_folder_is(tmp_path):
    files = {f"train/{c}/{i}.jpg": jpeg_bytes(c, i) for c in ("cats", "dogs") for i in (1, 2, 3)}
    files["test/cats/9.jpg"] = jpeg_bytes("cats", 9)
    folder = downloads.write_folder(tmp_path / "folder", files)
    assert scan(folder).test.counts(2) == [1, 0]
    report = from_zip(tmp_path / "data", "one-class-test", downloads.zip_as_explorer(files))
    assert counts(report.folder)["test"] == {"cats": 1}


def test_labels_from_file_names():
    assert [
        label_from_name(name)
        for name in (
            "cat.0.jpg", "dog.1234.jpg", "Abyssinian_100.jpg", "great_pyrenees_12.jpg",
            "1.jpg", "photo.jpg", "IMG_1234.jpg", "DSC0042.JPG", "PXL_20240101_123456.jpg",
        )
    ] == ["cat", "dog", "Abyssinian", "great_pyrenees", None, None, None, None, None]  # fmt: skip


@pytest.mark.parametrize(
    "paths, sentence",
    [
        (["IMG_1.jpg", "IMG_2.jpg"], "names do not say two classes \\(e.g. 'IMG_1.jpg'\\)"),
        (["train/cat.1.jpg", "train/cat.2.jpg"], "names do not say two classes"),
        ([], "holds no photo: expected class folders"),
    ],
)
def test_a_layout_it_cannot_read_is_one_sentence(paths, sentence):
    with pytest.raises(DataError, match=sentence) as caught:
        read_layout(paths)
    assert "\n" not in str(caught.value)


def test_the_cli_refuses_a_layout_it_cannot_read_in_the_same_sentence(tmp_path):
    from tests.test_cli import python_m_core

    phone = {f"IMG_{i}.jpg": jpeg_bytes("cats", i) for i in (1, 2)}
    downloads.write_folder(tmp_path / "phone", phone)
    result = python_m_core("train", "--data", tmp_path / "phone")
    with pytest.raises(DataError) as caught:
        layout_of(tmp_path / "phone")
    shown = str(caught.value).replace(str(tmp_path / "phone"), "phone")  # the path as typed
    assert result.returncode == 2 and result.stderr == f"error: {shown}\n"


# Archives as tools make them -------------------------------------------------------------------

CLASSES = {"猫": "cats", "狗": "dogs"}  # Chinese class folders, each photo its class's colour


def chinese_folders() -> dict[str, bytes]:
    return {f"{name}/{i}.jpg": jpeg_bytes(c, i) for name, c in CLASSES.items() for i in (1, 2)}


def test_non_latin_class_names_are_kept_on_every_route(tmp_path):
    folder = downloads.write_folder(tmp_path / "folder", chinese_folders())
    want = tuple(sorted(CLASSES))
    assert scan(folder).class_names == want
    for tool, archive in {
        "flagged UTF-8": downloads.zip_as_explorer(chinese_folders()),  # 7-Zip, Windows 11
        "info-zip": downloads.zip_in_code_page(chinese_folders(), "utf-8"),  # unflagged UTF-8
    }.items():
        report = from_zip(tmp_path / "data", tool, archive)
        assert scan(report.folder).class_names == want, tool
    typed = {"кошки": [("a.jpg", jpeg_bytes("cats", 1)), ("b.jpg", jpeg_bytes("cats", 2))]}
    typed["собаки"] = [("c.jpg", jpeg_bytes("dogs", 1)), ("d.jpg", jpeg_bytes("dogs", 2))]
    report = from_photos(tmp_path / "data", "Кошки и собаки", typed)
    assert report.folder.name == "кошки-и-собаки"
    assert scan(report.folder).class_names == ("кошки", "собаки")


def test_a_macos_zip_of_decomposed_names_gives_composed_class_names(tmp_path):
    files = {f"Café/{i}.jpg": jpeg_bytes("cats", i) for i in (1, 2)}
    files |= {f"Crème/{i}.jpg": jpeg_bytes("dogs", i) for i in (1, 2)}
    decomposed = {unicodedata.normalize("NFD", k): v for k, v in files.items()}
    report = from_zip(tmp_path / "data", "mac", downloads.zip_in_code_page(decomposed, "utf-8"))
    names = scan(report.folder).class_names
    assert names == ("Café", "Crème") and all(unicodedata.is_normalized("NFC", n) for n in names)


def test_a_zip_in_an_undeclared_code_page_is_one_sentence_and_writes_nothing(tmp_path):
    archive = downloads.zip_in_code_page(chinese_folders(), "gbk")  # 7-Zip on a Chinese Windows
    with pytest.raises(DatasetError, match="code page it does not declare") as caught:
        from_zip(tmp_path / "data", "gbk", archive)
    assert "\n" not in str(caught.value) and not (tmp_path / "data").exists()


def test_a_password_protected_zip_is_one_sentence_and_writes_nothing(tmp_path):
    archive = downloads.encrypted_zip("train/cats/a.jpg", jpeg_bytes("cats", 1))
    with pytest.raises(DatasetError, match="^The ZIP is password-protected: unzip it and zip"):
        from_zip(tmp_path / "data", "secret", archive)
    assert not (tmp_path / "data").exists()


def test_two_entries_of_one_name_are_counted_not_lost_silently(tmp_path):
    files = {f"{c}/{i}.jpg": jpeg_bytes(c, i) for c in ("cats", "dogs") for i in (1, 2)}
    names = downloads.zip_as_explorer(files)
    again = downloads.zip_with_backslashes({"cats/1.jpg": jpeg_bytes("cats", 7)})
    # One archive holding both spellings of cats/1.jpg: "cats/1.jpg" and "cats\\1.jpg".
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for archive in (names, again):
            with zipfile.ZipFile(io.BytesIO(archive)) as source:
                for info in source.infolist():
                    out.writestr(info, source.read(info))
    report = from_zip(tmp_path / "data", "twice", buffer.getvalue())
    assert report.skipped == {"a name given twice": 1}
    assert counts(report.folder) == {"train": {"cats": 2, "dogs": 2}}


def test_backslash_names_that_climb_out_are_still_refused(tmp_path):
    files = {f"cats/{i}.jpg": jpeg_bytes("cats", i) for i in (1, 2)}
    files |= {f"dogs/{i}.jpg": jpeg_bytes("dogs", i) for i in (1, 2)}
    files |= {"..\\..\\evil.jpg": jpeg_bytes("cats", 9), "C:\\evil.jpg": jpeg_bytes("cats", 8)}
    report = from_zip(tmp_path / "data", "win", downloads.zip_with_backslashes(files))
    assert report.skipped == {"outside the folder (zip-slip)": 2}
    assert counts(report.folder) == {"train": {"cats": 2, "dogs": 2}}
    assert not list(tmp_path.rglob("evil.jpg"))


def test_the_dataset_list_offers_every_layout_it_reads_once(tmp_path):
    from core.data.choices import datasets, validation_folders

    for name, make in downloads.LAYOUTS.items():
        downloads.write_folder(tmp_path / "data" / name.replace(" ", "-"), make())
    offered = {path.name for path in datasets((tmp_path / "data",))}
    # Oxford-IIIT's images/ is one folder of photos named by class: the CLI and a ZIP read it,
    # the list does not guess it (any folder of photos would look so).
    assert offered == {
        "Kaggle-Dogs-vs.-Cats", "Kaggle-cat-and-dog", "Roboflow", "PetImages",
        "cats_and_dogs_filtered",
    }  # fmt: skip
    found = validation_folders((tmp_path / "data",))
    held_out = {path.relative_to(tmp_path / "data").as_posix() for path in found}
    assert held_out == {
        "Kaggle-cat-and-dog/test_set/test_set", "Roboflow/valid",
        "cats_and_dogs_filtered/cats_and_dogs_filtered/validation",
    }  # fmt: skip


def test_a_validation_class_the_train_split_lacks_is_one_sentence(tmp_path):
    files = downloads.roboflow() | {"valid/foxes/1.jpg": jpeg_bytes("foxes", 1)}
    with pytest.raises(DataError, match="has class 'foxes', which the train split lacks"):
        scan(downloads.write_folder(tmp_path / "rf", files))
