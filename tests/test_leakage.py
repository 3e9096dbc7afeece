"""Photos copied across splits (leakage), found by perceptual hash: by hand, on real photos, and
from a folder, a ZIP and a run's report."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from core.data.folders import scan
from core.data.leakage import MAX_DISTANCE, near_duplicates, photo_hash
from core.data.uploads import from_zip
from core.images import load_image
from tests.support import downloads
from tests.support.photos import make_pets

PETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets"


def scene(seed: int, size: int = 160) -> np.ndarray:
    """A photo-like picture: a few soft blobs of colour on a gradient (pHash needs structure)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    photo = np.stack([x, y, 1 - x], -1) * 120
    for _ in range(4):
        cy, cx, radius = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.1, 0.3)]
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / radius**2)[..., None]
        photo += blob * rng.uniform(0, 135, 3)
    return photo.clip(0, 255).astype(np.uint8)


def copied(photo: np.ndarray, scale: float = 0.5, quality: int = 70) -> bytes:
    """The photo as a person copies it: resized, and saved again as JPEG."""
    height, width = photo.shape[:2]
    small = cv2.resize(photo, (round(width * scale), round(height * scale)), cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(photo: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_hash_is_imagehashs_phash_of_the_area_averaged_thumbnail():
    photo = scene(0, 640)
    thumbnail = cv2.resize(photo, (64, 64), interpolation=cv2.INTER_AREA)
    expected = int(str(imagehash.phash(Image.fromarray(thumbnail))), 16)
    assert photo_hash(photo) == expected and photo_hash(thumbnail) == expected


def test_pairs_across_splits_by_hand():
    far = 0x0F0F_0F0F_0F0F_0F0F  # 32 bits from 0 and from all ones
    hashes = {"train": [0, 2**64 - 1], "validation": [0b111, far], "test": [2**64 - 2]}
    assert near_duplicates(hashes) == (
        2,
        [("train", 1, "test", 0, 1), ("train", 0, "validation", 0, 3)],
    )
    assert near_duplicates(hashes, limit=1) == (2, [("train", 1, "test", 0, 1)])  # all counted
    assert near_duplicates(hashes, max_distance=0) == (0, [])
    assert near_duplicates({"train": [5, 5]}) == (0, [])  # within one split: not leakage
    blank = {"train": [0] * 300, "validation": [0] * 300}  # 90,000 pairs, the closest 200 kept
    count, kept = near_duplicates(blank)
    assert count == 90_000 and len(kept) == 200


@pytest.mark.skipif(not PETS.is_dir(), reason="the real photos (../shared/data/pets) are absent")
def test_on_real_photos_copies_are_close_and_distinct_photos_far():
    paths = sorted(PETS.glob("*/*/*.jpg"))[::4]  # 200 of the 800
    photos = [load_image(path) for path in paths]
    hashes = np.array([photo_hash(photo) for photo in photos], dtype=np.uint64)
    apart = np.bitwise_count(hashes[:, None] ^ hashes[None, :])[np.triu_indices(len(hashes), 1)]
    assert apart.min() > MAX_DISTANCE + 2  # no two distinct photos taken for copies
    copies = [photo_hash(load_image(copied(photo))) for photo in photos[:50]]
    distance = np.bitwise_count(hashes[:50] ^ np.array(copies, dtype=np.uint64))
    assert distance.max() <= MAX_DISTANCE - 2


def test_a_folder_with_a_copy_across_splits_counts_it(tmp_path):
    root = make_pets(tmp_path / "pets", n_train=3, n_validation=2)
    assert scan(root).near_duplicates == ()  # noise photos: nothing alike
    original = scene(1)
    (root / "train" / "cats" / "original.png").write_bytes(png(original))
    (root / "validation" / "cats" / "copy.jpg").write_bytes(copied(original))
    data = scan(root)
    ((split, path, other_split, other_path, bits),) = data.near_duplicates
    assert (split, Path(path).name, other_split, Path(other_path).name) == (
        "train", "original.png", "validation", "copy.jpg",
    )  # fmt: skip
    assert bits <= MAX_DISTANCE and "1 near-duplicate pair across splits" in data.summary()


def test_a_zip_with_copies_across_splits_counts_them(tmp_path):
    files = downloads.roboflow()
    original = scene(2)
    files |= {"train/cats/original.png": png(original), "test/cats/copy.jpg": copied(original)}
    files |= {"valid/dogs/copy.jpg": copied(original, 0.7, 90)}
    report = from_zip(tmp_path / "data", "rf", downloads.zip_as_explorer(files))
    assert report.near_duplicates == 3  # train-test, train-validation, validation-test
    assert "3 near-duplicate pairs across splits." in report.summary()
