"""Data folders: the Kaggle layout checked before training; bad files skipped and counted."""

import shutil

import numpy as np
import pytest

from core.data.folders import DataError, augmenter, image_dataset, scan
from tests.support.photos import make_pets


def test_scan_reads_classes_in_folder_order(generated_pets):
    data = scan(generated_pets)
    assert data.class_names == ("cats", "dogs") and not data.held_out and not data.skipped
    assert data.train.counts(2) == [12, 12] and data.validation.counts(2) == [4, 4]
    assert all("/cats/" in p for p, y in zip(data.train.paths, data.train.labels) if y == 0)


def test_corrupt_files_are_skipped_and_counted(generated_pets):
    (generated_pets / "train" / "cats" / "zero.jpg").write_bytes(b"")
    (generated_pets / "train" / "dogs" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    (generated_pets / "train" / "dogs" / "notes.txt").write_text("ignored: not an image suffix")
    data = scan(generated_pets)
    assert data.train.counts(2) == [12, 12]
    assert sorted(p.split("/")[-1] for p, _ in data.skipped) == ["cut.jpg", "zero.jpg"]
    assert data.summary().endswith("2 unreadable file(s) skipped")


def test_missing_validation_split_holds_out_a_seeded_fraction(tmp_path):
    root = make_pets(tmp_path / "p", n_train=10, n_validation=0)
    for folder in (root / "validation").iterdir():
        folder.rmdir()
    (root / "validation").rmdir()
    first, second = scan(root, validation_fraction=0.2), scan(root, validation_fraction=0.2)
    assert (
        first.held_out and first.validation.counts(2) == [2, 2] and first.train.counts(2) == [8, 8]
    )
    assert first.validation.paths == second.validation.paths
    assert not set(first.validation.paths) & set(first.train.paths)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (
            lambda root: [p.write_bytes(b"broken") for p in (root / "train" / "cats").iterdir()],
            "no readable photo of class 'cats'",
        ),
        (lambda root: shutil.rmtree(root / "train" / "dogs"), "1 class folder \\('cats'\\)"),
        (lambda root: (root / "train" / "birds").mkdir(), "Class folder birds/ in .* no photos"),
        (
            lambda root: [p.unlink() for p in (root / "validation" / "dogs").iterdir()],
            "Class folder dogs/ in .*validation has no photos",
        ),
        (
            lambda root: (root / "validation" / "dogs").rename(root / "validation" / "puppies"),
            "has no dogs/ folder",
        ),
    ],
)
def test_unusable_folders_fail_before_training(generated_pets, breakage, message):
    breakage(generated_pets)
    with pytest.raises(DataError, match=message) as caught:
        scan(generated_pets)
    assert "\n" not in str(caught.value)


def test_missing_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan(tmp_path / "absent")
    with pytest.raises(DataError, match="holds no photo: expected class folders"):
        scan(tmp_path)


def test_dataset_batches_resized_images_and_flips(generated_pets):
    data = scan(generated_pets)
    images, labels = next(iter(image_dataset(data.train, 16, 5)))
    assert images.shape == (5, 16, 16, 3) and images.dtype == "float32" and labels.shape == (5,)
    assert 0 <= float(np.min(images)) and float(np.max(images)) <= 255
    flip = augmenter(seed=0)
    batch = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    outputs = [flip(batch, training=True).numpy() for _ in range(8)]
    assert all(
        np.array_equal(o[i], batch[i]) or np.array_equal(o[i], batch[i, :, ::-1])
        for o in outputs
        for i in range(2)
    )
    assert any(not np.array_equal(o, batch) for o in outputs)


def test_page_paths_stay_inside_the_data_roots(tmp_path, generated_pets):
    from core.data.folders import check_data_path

    roots = (generated_pets.parent,)
    assert check_data_path(str(generated_pets), roots) == generated_pets.resolve()
    with pytest.raises(DataError, match="outside the data folders"):
        check_data_path("/etc", roots)
    with pytest.raises(DataError, match="contains '..'"):
        check_data_path(f"{generated_pets}/../pets", roots)
    (generated_pets.parent / "escape").symlink_to("/usr")
    with pytest.raises(DataError, match="outside the data folders"):
        check_data_path(str(generated_pets.parent / "escape"), roots)


def test_links_out_loops_and_huge_folders(tmp_path, generated_pets):
    outside = tmp_path / "secret.png"
    outside.write_bytes((generated_pets / "train" / "cats" / "cat_000.png").read_bytes())
    (generated_pets / "train" / "cats" / "leak.png").symlink_to(outside)
    (generated_pets / "train" / "dogs" / "loop").symlink_to(generated_pets / "train" / "dogs")
    data = scan(generated_pets)
    assert data.train.counts(2) == [12, 12]
    assert [(p.split("/")[-1], why) for p, why in data.skipped] == [
        ("leak.png", "a link pointing outside the data folder")
    ]
    with pytest.raises(DataError, match="holds more than 5 files"):
        scan(generated_pets, max_files=5)
