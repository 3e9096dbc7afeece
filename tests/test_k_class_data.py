"""K classes of data: 3 and 37 class folders scanned and imported, each bad input one sentence
with nothing written, Oxford-IIIT Pet by breed and by species from one download, and the
Training page's photos per class with a class the visitor adds and names."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.cli.commands import main
from core.config import MAX_CLASSES
from core.data.classes import DataError, check_class_names
from core.data.folders import class_folders, scan
from core.data.pet_layout import breed_of, read_list
from core.data.pets import Source, download_pets, summary
from core.data.uploads import DatasetError, counts, describe, from_photos, from_zip, slug
from tests.support import apps
from tests.support.downloads import tar_of
from tests.support.photos import class_names, jpeg_bytes, make_pets, png_bytes
from tests.support.servers import serve_folder

PAGE = "pages/training.py"
CAT_BREEDS = (
    "Abyssinian Bengal Birman Bombay British_Shorthair Egyptian_Mau Maine_Coon Persian Ragdoll "
    "Russian_Blue Siamese Sphynx"
).split()
DOG_BREEDS = (
    "american_bulldog american_pit_bull_terrier basset_hound beagle boxer chihuahua "
    "english_cocker_spaniel english_setter german_shorthaired great_pyrenees havanese "
    "japanese_chin keeshond leonberger miniature_pinscher newfoundland pomeranian pug "
    "saint_bernard samoyed scottish_terrier shiba_inu staffordshire_bull_terrier "
    "wheaten_terrier yorkshire_terrier"
).split()

# The generated photos are 32 px: a new dataset says they are far below the model's input.
TINY = " photos under 56 px kept: upscaled 4× or more for the model, they teach it little."


def zip_folder(root: Path, top: str = "") -> bytes:
    """Every file under `root` in a ZIP, below `top/` when given (as zipping a folder gives)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, str(Path(top) / path.relative_to(root)))
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# Generated sets of 3 and 37 classes --------------------------------------------------------------


@pytest.mark.parametrize("k", [3, 37])
def test_k_class_folders_are_scanned_and_imported_from_a_zip(tmp_path, k):
    data = make_pets(tmp_path / "pets", n_train=3, n_validation=1, size=8, classes=k)
    scanned = scan(data)
    assert scanned.class_names == tuple(sorted(class_names(k)))  # label order: sorted folders
    assert scanned.train.counts(k) == [3] * k and scanned.validation.counts(k) == [1] * k
    labels = dict(zip(scanned.train.paths, scanned.train.labels))
    assert all(f"/{scanned.class_names[y]}/" in path for path, y in labels.items())

    report = from_zip(tmp_path / "data", "Mine", zip_folder(data, "mine"))
    # class_03/ is written as class-03/ and read back as class_03, the name the ZIP gave it.
    folders = sorted(slug(name) for name in class_names(k))
    assert sorted(p.name for p in (report.folder / "train").iterdir()) == folders
    names = sorted(class_names(k))
    assert counts(report.folder) == {
        "train": dict.fromkeys(names, 3),
        "validation": dict.fromkeys(names, 1),
    }
    assert scan(report.folder).class_names == tuple(names)
    if k == 3:
        assert describe(report.folder) == (
            "train 3 birds / 3 cats / 3 dogs · validation 1 birds / 1 cats / 1 dogs"
        )
        assert (
            report.summary()
            == "Kept train 3 birds, 3 cats, 3 dogs; validation 1 birds, 1 cats, 1 dogs. 12"
            f"{TINY} Read as: train/ → train · validation/ → validation."
        )
    else:  # many classes: short, totals per split
        assert describe(report.folder) == "37 classes · train 111 · validation 37"
        assert report.summary() == (
                f"Kept 37 classes; train 111; validation 37. 148{TINY} Read as: train/ → train · "
                "validation/ → validation."
            )
        assert scan(report.folder).summary() == (
        "37 classes: 111 train / 37 validation (train/ → train · validation/ → validation)"
    )


def test_two_classes_read_as_before(generated_pets, tmp_path):
    assert describe(generated_pets) == "train 12 cats / 12 dogs · validation 4 cats / 4 dogs"
    report = from_zip(tmp_path / "data", "two", zip_folder(generated_pets))
    assert report.summary() == (
        f"Kept train 12 cats, 12 dogs; validation 4 cats, 4 dogs. 32{TINY} Read as: "
        "train/ → train · validation/ → validation."
    )


# Bad input: one sentence each, nothing written ---------------------------------------------------


def one_sentence(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and text.endswith(".") and text.count(": ") <= 2, text
    return text


def folder_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "folder"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def photos(label: str, n: int, seed: int = 0) -> dict[str, bytes]:
    return {f"{label}/{i}.jpg": jpeg_bytes(label, seed + i, 8) for i in range(n)}


# Each case: the train/ folder's files, and what each of the three ways in must say.
BAD = {
    "one class": (
        photos("cats", 3),
        "has 1 class folder \\('cats'\\): a classifier needs at least 2",
    ),
    "no photos": (
        photos("cats", 3) | photos("dogs", 3) | {"birds/notes.txt": b"not a photo"},
        "birds/ .*has no (usable )?photos",
    ),
    "one photo": (photos("cats", 3) | photos("dogs", 1, seed=9), "one photo, which cannot also"),
    "Cat and cat": (
        photos("Cat", 2) | photos("cat", 2, seed=5) | photos("dogs", 2, seed=9),
        "Class folders 'Cat' and 'cat' become the same class name 'cat': rename",
    ),
    "cat and cats": (
        photos("cat", 2) | photos("cats", 2, seed=5),
        "'cat' and 'cats' become the same class name 'cat' \\(two classes are named in the "
        "singular\\)",
    ),
    "predicted": (
        photos("cats", 2) | photos("dogs", 2, seed=5) | photos("Predicted", 2, seed=9),
        "may not be named 'Predicted': that name means a target to explain",
    ),
    "top1-vs-top2": (
        photos("cats", 2) | photos("dogs", 2, seed=5) | photos("top1-vs-top2", 2, seed=9),
        "may not be named 'top1-vs-top2'",
    ),
    "a minus b": (
        photos("cats", 2) | photos("dog minus cat", 2, seed=9),
        "may not be named 'dog minus cat': '<class> minus <class>' names a two-class contrast",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_class_folder_is_one_sentence_from_the_scan(tmp_path, case):
    files, sentence = BAD[case]
    root = folder_with(tmp_path, {f"train/{name}": data for name, data in files.items()})
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(DataError, match=sentence) as caught:
        class_folders(root)  # what jobs.start asks before a run starts
    assert one_sentence(caught)
    with pytest.raises(DataError, match=sentence):
        scan(root)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_class_folder_is_one_sentence_from_a_zip_and_writes_nothing(tmp_path, case):
    files, sentence = BAD[case]
    archive = zip_of({f"mine/train/{name}": data for name, data in files.items()})
    with pytest.raises(DatasetError, match=sentence) as caught:
        from_zip(tmp_path / "data", "mine", archive)
    assert one_sentence(caught)
    assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_class_is_one_sentence_from_photos_per_class_and_writes_nothing(tmp_path, case):
    files, sentence = BAD[case]
    per_class: dict[str, list] = {}
    for name, data in files.items():
        label, file_name = name.split("/")
        per_class.setdefault(label, []).append((file_name, data))
    with pytest.raises(DatasetError, match=sentence) as caught:
        from_photos(tmp_path / "data", "mine", list(per_class.items()))
    assert one_sentence(caught)
    assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []


def test_more_classes_than_a_model_takes_and_photo_classes_typed_twice(tmp_path):
    root = tmp_path / "many"
    for i in range(MAX_CLASSES + 1):
        (root / "train" / f"c{i:04d}").mkdir(parents=True)
        (root / "train" / f"c{i:04d}" / "a.jpg").write_bytes(b"")  # listed, never decoded
    with pytest.raises(DataError, match="has 1,001 class folders; at most 1,000 here") as caught:
        scan(root)
    assert one_sentence(caught)
    many = zip_of({f"train/c{i:04d}/a.jpg": b"" for i in range(MAX_CLASSES + 1)})
    with pytest.raises(DatasetError, match="The ZIP has 1,001 class folders"):
        from_zip(tmp_path / "data", "many", many)
    # Two classes typed with one name on the page are two pairs, not one dict entry.
    twice = [("birds", [("a.jpg", jpeg_bytes("cats", 1))]), ("Birds", [("b.jpg", b"")])]
    with pytest.raises(DatasetError, match="'birds' and 'Birds' become the same class name"):
        from_photos(tmp_path / "data", "mine", [("cats", [("c.jpg", b"")]), *twice])
    assert not (tmp_path / "data").exists()
    # The same rules for any caller, by the slug a folder becomes: "Maine Coon" is maine-coon.
    with pytest.raises(DataError, match="'Maine Coon' and 'maine-coon' become the same"):
        check_class_names(["Maine Coon", "maine-coon", "x"], "The ZIP", key=slug)
    assert check_class_names(["cats", "dogs", "birds"], "x") == ("cats", "dogs", "birds")


def test_a_lone_readable_photo_cannot_be_held_out(tmp_path):
    root = make_pets(tmp_path / "pets", n_train=4, n_validation=0, size=8, classes=3)
    for path in (root / "validation").glob("*"):
        path.rmdir()
    (root / "validation").rmdir()
    for path in sorted((root / "train" / "birds").iterdir())[1:]:
        path.write_bytes(b"broken")  # named like photos, so the quick check lets them by
    with pytest.raises(DataError, match="Class 'birds' has one readable photo, which cannot") as c:
        scan(root)
    assert one_sentence(c)


# Oxford-IIIT Pet by breed and by species ---------------------------------------------------------


def breeds_archives(folder: Path, per_breed: int = 3) -> tuple[str, dict[str, int]]:
    """Oxford-IIIT Pet's 37 breeds, `per_breed` photos each, with annotations/list.txt.

    Photos are numbered from 300 (clear of the known-broken names). The list leaves out the
    Abyssinian photos, which the file name then names. Returns the MD5s as CATDOG_PETS_MD5 takes
    them, and the photos per breed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files, lines = {}, ["#Image CLASS-ID SPECIES BREED ID"]
    for class_id, breed in enumerate(CAT_BREEDS + DOG_BREEDS, 1):
        species = 1 if breed in CAT_BREEDS else 2
        for i in range(300, 300 + per_breed):
            kind = "cats" if species == 1 else "dogs"
            files[f"images/{breed}_{i}.jpg"] = jpeg_bytes(kind, class_id * 1000 + i, 12)
            if breed != "Abyssinian":
                lines.append(f"{breed}_{i} {class_id} {species} {class_id}")
    files["images/Abyssinian_300.mat"] = b"not a photo"
    images = tar_of(folder / "images.tar.gz", files)
    annotations = tar_of(
        folder / "annotations.tar.gz",
        {
            "annotations/list.txt": "\n".join(lines).encode(),
            "annotations/trimaps/Bengal_300.png": png_bytes(),
        },
    )
    md5s = ",".join(hashlib.md5(p.read_bytes()).hexdigest() for p in (images, annotations))
    return md5s, dict.fromkeys(CAT_BREEDS + DOG_BREEDS, per_breed)


def served_source(url: str, md5s: str) -> Source:
    images, annotations = md5s.split(",")
    return Source(
        url + "images.tar.gz", images, frozenset(), url + "annotations.tar.gz", annotations
    )


def validation_photos(dest: Path) -> set[str]:
    return {p.name for p in (dest / "validation").glob("*/*.jpg")}


def test_one_download_serves_breeds_then_species_without_downloading_again(tmp_path):
    md5s, per_breed = breeds_archives(tmp_path / "served")
    heard = []
    with serve_folder(tmp_path / "served") as url:
        breeds = download_pets(
            tmp_path / "data" / "oxford-iiit-pet-breeds",
            served_source(url, md5s),
            cache_dir=tmp_path / "cache",
            layout="breeds",
            progress=lambda *a: heard.append(a[0]),
        )
    folders = sorted(
        p.name for p in (tmp_path / "data" / "oxford-iiit-pet-breeds" / "train").iterdir()
    )
    assert folders == sorted(per_breed) and len(folders) == 37  # Oxford's spelling, list or name
    assert all(breeds["train"][b] == 2 and breeds["validation"][b] == 1 for b in per_breed)
    assert "images.tar.gz" in heard and "checking photos" in heard and not breeds["reused"]
    assert scan(tmp_path / "data" / "oxford-iiit-pet-breeds").class_names == tuple(
        sorted(per_breed)
    )

    # The server is gone and the archive cache is empty: species comes from the breeds' photos.
    species = download_pets(
        tmp_path / "data" / "oxford-iiit-pet",
        served_source("http://127.0.0.1:9/", md5s),
        cache_dir=tmp_path / "empty-cache",
        reuse=tmp_path / "data" / "oxford-iiit-pet-breeds",
    )
    assert species["reused"] and not (tmp_path / "empty-cache").exists()
    assert species["train"] == {"cats": 24, "dogs": 50}
    assert species["validation"] == {"cats": 12, "dogs": 25}
    # The same photos held out in both layouts, and the annotations came along.
    assert validation_photos(tmp_path / "data" / "oxford-iiit-pet") == validation_photos(
        tmp_path / "data" / "oxford-iiit-pet-breeds"
    )
    assert (tmp_path / "data" / "oxford-iiit-pet" / "annotations" / "list.txt").is_file()
    assert summary(species, "data/oxford-iiit-pet") == (
        "Oxford-IIIT Pet is in data/oxford-iiit-pet: train 24 cats, 50 dogs; validation 12 cats, "
        "25 dogs; laid out from the earlier download."
    )
    assert summary(breeds, "data/b") == (
        "Oxford-IIIT Pet is in data/b: 37 classes; train 74; validation 37; 0 broken file(s) "
        "dropped."
    )
    with pytest.raises(Exception, match="already exists"):
        download_pets(
            tmp_path / "data" / "oxford-iiit-pet",
            reuse=tmp_path / "data" / "oxford-iiit-pet-breeds",
        )


def test_breed_and_species_from_the_list_else_the_file_name(tmp_path):
    (tmp_path / "list.txt").write_text(
        "#Image CLASS-ID SPECIES BREED ID\n#comment\nBengal_1 2 1 2\nodd_name_7 9 1 9\n"
    )
    listed = read_list(tmp_path / "list.txt")
    assert breed_of("Bengal_1", listed) == ("Bengal", "cats")
    assert breed_of("odd_name_7", listed) == ("odd_name", "cats")  # the list says cat
    assert breed_of("great_pyrenees_12", listed) == ("great_pyrenees", "dogs")  # the name says
    assert breed_of("Maine_Coon_3", {}) == ("Maine_Coon", "cats")
    assert read_list(tmp_path / "absent.txt") == {}


def test_cli_download_data_by_breed_then_by_species_offline(tmp_path, monkeypatch, capsys):
    md5s, _ = breeds_archives(tmp_path / "served", per_breed=2)
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("CATDOG_PETS_MD5", md5s)
    with serve_folder(tmp_path / "served") as url:
        monkeypatch.setenv("CATDOG_PETS_URL", url)
        assert main(["download-data", "--layout", "breeds"]) == 0
    assert len(list((tmp_path / "data" / "oxford-iiit-pet-breeds" / "train").iterdir())) == 37
    monkeypatch.setenv("CATDOG_PETS_URL", "http://127.0.0.1:9/")  # nothing listens
    (tmp_path / "keras").rename(tmp_path / "no-cache")  # nor is the archive cached
    dest = tmp_path / "data" / "species"
    assert main(["download-data", "--layout", "species", "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "laid out from" in out and sorted(p.name for p in (dest / "train").iterdir()) == [
        "cats",
        "dogs",
    ]


# The Training page -------------------------------------------------------------------------------


def open_page(monkeypatch, tmp_path) -> AppTest:
    (tmp_path / "data").mkdir(exist_ok=True)
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    return apps.open_page(PAGE)


def test_page_adds_a_third_class_names_it_and_makes_a_dataset(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path)
    assert [at.text_input(key=f"class_{n}").value for n in (0, 1)] == ["cats", "dogs"]
    assert not any(
        (button.key or "").startswith("remove_") for button in at.button
    )  # two at least
    at.button(key="add_class").click().run()
    at.button(key="add_class").click().run()
    at.button(key="remove_3").click().run()  # the fourth goes again
    assert not at.exception and [
        t.key for t in at.text_input if (t.key or "").startswith("class_")
    ] == [
        "class_0",
        "class_1",
        "class_2",
    ]
    at.text_input(key="class_2").set_value("Birds").run()
    at.text_input(key="new_dataset").set_value("Three kinds")
    for n, label in enumerate(("cats", "dogs", "birds")):
        at.file_uploader(key=f"photos_{n}").set_value(
            [(f"{label}{i}.jpg", jpeg_bytes(label, 10 * n + i), "image/jpeg") for i in range(3)]
        )
    at.button(key="add_photos").click().run()
    assert not at.exception
    assert at.success[0].value == (
        f"New dataset data/three-kinds. Kept train 3 birds, 3 cats, 3 dogs. 9{TINY}"
    )
    folder = tmp_path / "data" / "three-kinds"
    assert scan(folder).class_names == ("Birds", "cats", "dogs")  # as typed, in birds/
    assert (folder / "train" / "birds").is_dir()
    assert at.selectbox(key="data_dir").value == folder.resolve()

    # A class named like another: one sentence, nothing written.
    at.text_input(key="class_2").set_value("Cats")
    at.text_input(key="new_dataset").set_value("Clash")
    at.button(key="add_photos").click().run()
    assert at.warning[0].value.startswith("Class folders 'cats' and 'Cats' become the same")
    assert not (tmp_path / "data" / "clash").exists()


def test_page_lays_out_breeds_from_the_species_download_without_the_network(monkeypatch, tmp_path):
    md5s, _ = breeds_archives(tmp_path / "served", per_breed=2)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("CATDOG_PETS_MD5", md5s)
    with serve_folder(tmp_path / "served") as url:
        monkeypatch.setenv("CATDOG_PETS_URL", url)
        at = open_page(monkeypatch, tmp_path)
        assert at.radio(key="pets_layout").value == "species"
        at.button(key="download").click().run()
    assert not at.exception and at.success[0].value.startswith(
        "Oxford-IIIT Pet is in data/oxford-iiit-pet: train 12 cats, 25 dogs"
    )
    at.run()  # the button was drawn before it worked: the next run says so
    assert at.button(key="download").label == "Already downloaded"
    at.radio(key="pets_layout").set_value("breeds").run()
    assert at.button(key="download").label == "Lay out by breeds (no download)"
    monkeypatch.setenv("CATDOG_PETS_URL", "http://127.0.0.1:9/")  # offline from here on
    at.button(key="download").click().run()
    assert not at.exception and at.success[0].value == (
        "Oxford-IIIT Pet is in data/oxford-iiit-pet-breeds: 37 classes; train 37; validation 37; "
        "laid out from the earlier download."
    )
    assert at.run().button(key="download").label == "Already downloaded"
    offered = at.selectbox(key="data_dir").options
    assert "oxford-iiit-pet-breeds · 37 classes · train 37 · validation 37" in [
        o.removeprefix("data/") for o in offered
    ], offered
