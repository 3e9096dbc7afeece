"""Training data: read a dataset folder's layout, skip and count bad files, stream it (tf.data).

The layout is core/data/layouts.py's (split folders by their usual names, class folders or labels
from file names); a test split is kept apart, never trained on.
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.data.classes import LISTED_CLASSES, DataError, check_class_names
from core.data.layouts import PAGE_SECONDS, Layout, layout_of
from core.data.leakage import near_duplicates, photo_hash
from core.images import IMAGE_SUFFIXES, ImageError, load_image, photo_for_model, to_model_input


@dataclass(frozen=True)
class Split:
    paths: tuple[str, ...]
    labels: tuple[int, ...]
    hashes: tuple[int, ...] = ()  # each photo's perceptual hash (core/data/leakage.py)

    def pick(self, indices: list[int]) -> Split:
        """The photos at `indices`, in that order."""
        hashes = tuple(self.hashes[i] for i in indices) if self.hashes else ()
        paths = tuple(self.paths[i] for i in indices)
        return Split(paths, tuple(self.labels[i] for i in indices), hashes)

    def counts(self, n_classes: int) -> list[int]:
        return np.bincount(np.asarray(self.labels, dtype=int), minlength=n_classes).tolist()


@dataclass(frozen=True)
class DataFolders:
    """A checked data folder: class names in label order, its splits, and the files skipped."""

    class_names: tuple[str, ...]
    train: Split
    validation: Split
    skipped: tuple[tuple[str, str], ...]  # (path, one-line reason)
    held_out: bool  # True when there was no validation split and a share of train was held out
    test: Split | None = None  # a test split: never trained on, reported apart
    reading: str = ""  # how the folders were read (Layout.describe)
    # Photos of one split that are copies of another split's (leakage.near_duplicates): how
    # many pairs, and the closest as (split, path, other split, other path, bits apart).
    near_duplicate_count: int = 0
    near_duplicates: tuple[tuple[str, str, str, str, int], ...] = ()
    validation_folder: str | None = None  # the validation split's folder; None when held out

    def summary(self) -> str:
        """ "cats: 12 train / 4 validation / 4 test, dogs: ...; how it was read; skipped"."""
        names, k = self.class_names, len(self.class_names)
        counts = {name: split.counts(k) for name, split in self.splits().items()}
        if k > LISTED_CLASSES:
            totals = " / ".join(f"{sum(n):,} {split}" for split, n in counts.items())
            text = f"{k} classes: {totals}"
        else:
            text = ", ".join(
                f"{name}: " + " / ".join(f"{n[i]} {split}" for split, n in counts.items())
                for i, name in enumerate(names)
            )
        text += f" ({self.reading})" if self.reading else ""
        if pairs := self.near_duplicate_count:
            text += f"; {pairs} near-duplicate pair{'' if pairs == 1 else 's'} across splits"
        return text + (f"; {len(self.skipped)} unreadable file(s) skipped" if self.skipped else "")

    def splits(self) -> dict[str, Split]:
        """The splits it has, by name: train, validation and, where there is one, test."""
        named = {"train": self.train, "validation": self.validation, "test": self.test}
        return {name: split for name, split in named.items() if split is not None}


def scan(
    root: Path, validation_fraction: float = 0.2, seed: int = 1337, max_files: int | None = None
) -> DataFolders:
    """Read a dataset folder in any layout `read_layout` knows: 2 to MAX_CLASSES classes.

    Unreadable files are skipped and counted. Without a validation split, a seeded, per-class
    fraction of train is held out; a test split is read apart and never trained on. Raises
    DataError, before any training, for anything that cannot work. `max_files` is the most
    photos listed (Config's `max_files_per_class` by default).
    """
    root, links_out = Path(root), []
    layout = layout_of(root, max_files, links_out)
    class_names = _checked_classes(layout, root)
    reason = "a link pointing outside the data folder"
    skipped = [(str(link), reason) for link in links_out if link.suffix.lower() in IMAGE_SUFFIXES]
    if (folder := layout.folder("validation")) is not None:
        present = set(layout.classes("validation"))
        if missing := [name for name in class_names if name not in present]:
            raise DataError(
                f"{root / folder}/ has no {missing[0]}/ folder (the train split has it): add "
                "its validation photos."
            )
    splits = {
        split: _read_split(root, layout.split(split), class_names, skipped, split)
        for split in ("train", "validation", "test")
        if layout.split(split)
    }
    train, test = splits["train"], splits.get("test")
    held_out = "validation" not in splits
    if held_out:
        train, validation = _hold_out(train, validation_fraction, seed)
    else:
        validation = splits["validation"]
    for split_name, split in (("train", train), ("validation", validation)):
        for name, count in zip(class_names, split.counts(len(class_names))):
            if count == 0 and held_out and split_name == "validation":
                raise DataError(
                    f"Class '{name}' has one readable photo, which cannot also serve for "
                    "validation: add photos of it."
                )
            if count == 0:
                raise DataError(f"The {split_name} split has no readable photo of class '{name}'.")
    reading = layout.describe() + ("; validation held out of train" if held_out else "")
    data = DataFolders(class_names, train, validation, tuple(skipped), held_out, test, reading)
    if not held_out and (folder := layout.folder("validation")) is not None:
        data = replace(data, validation_folder=str(root.resolve() / folder))
    splits = data.splits()
    count, found = near_duplicates({name: split.hashes for name, split in splits.items()})
    pairs = tuple((a, splits[a].paths[i], b, splits[b].paths[j], d) for a, i, b, j, d in found)
    return replace(data, near_duplicate_count=count, near_duplicates=pairs)


def check_data_path(typed: str, roots: tuple[Path, ...]) -> Path:
    """A data folder typed into the page, accepted only inside one of `roots`, links followed."""
    path = Path(typed.strip()).expanduser()
    if ".." in path.parts:
        raise DataError(f"{typed} contains '..': give the folder's own path.")
    resolved = path.resolve()
    allowed = [Path(root).resolve() for root in roots]
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        names = ", ".join(str(root) for root in allowed)
        raise DataError(
            f"{typed} is outside the data folders this app may read ({names}). Set "
            "CATDOG_DATA_ROOTS to allow it."
        )
    return resolved


def class_folders(root: Path) -> tuple[str, ...]:
    """The class names (label order) of a dataset folder in any layout `read_layout` knows.

    It checks the layout, the names (`check_class_names`) and that every class has a photo to
    train on and one for validation; it decodes nothing and lists within a page's time
    (PAGE_SECONDS), so a page may ask it before a run.
    """
    return _checked_classes(layout_of(root, seconds=PAGE_SECONDS), root)


def _checked_classes(layout: Layout, root: Path) -> tuple[str, ...]:
    """The train split's class names, checked; a lone photo refused without a validation split."""
    names = check_class_names(tuple(layout.classes("train")), str(root))
    if not layout.split("validation"):
        counts = Counter(label for _, label in layout.split("train"))
        if lone := [name for name in names if counts[name] == 1]:
            raise DataError(
                f"Class {lone[0]} in {root} has one photo, which cannot also serve for "
                "validation: add photos, or a validation folder."
            )
    return names


def _read_split(
    root: Path, photos: list[tuple[str, str]], class_names: tuple[str, ...], skipped: list, split
) -> Split:
    """One split's readable photos and their labels; unreadable ones go to `skipped`."""
    if unknown := sorted({label for _, label in photos} - set(class_names)):
        raise DataError(
            f"The {split} split of {root} has class '{unknown[0]}', which the train split lacks: "
            "add its training photos, or remove it."
        )
    paths = [root / path for path, _ in photos]
    # Decode every file once, so that a bad one cannot stop training later, and hash it for the
    # leakage check (in threads: Pillow and OpenCV release the GIL).
    with ThreadPoolExecutor(max_workers=4) as pool:
        checked = list(pool.map(_checked_photo, paths))
    label_of = {name: i for i, name in enumerate(class_names)}
    kept, labels, hashes = [], [], []
    for path, (_, label), (problem, digest) in zip(paths, photos, checked):
        if problem:
            skipped.append((str(path), problem))
        else:
            kept.append(str(path))
            labels.append(label_of[label])
            hashes.append(digest)
    return Split(tuple(kept), tuple(labels), tuple(hashes))


def _checked_photo(path: Path) -> tuple[str | None, int | None]:
    """(None, the photo's perceptual hash), or (why it cannot be read, None)."""
    try:
        return None, photo_hash(load_image(path))
    except ImageError as error:
        return str(error), None


def hold_out(items: list, fraction: float, rng: random.Random) -> tuple[list, list]:
    """(kept, held out): one class's items shuffled by `rng`, then some held out for validation.

    round(n x fraction) are held out, at least one, none of a lone item. Used by `scan` and
    `download-data`.
    """
    items = list(items)
    rng.shuffle(items)
    n_held = max(1, round(len(items) * fraction)) if len(items) > 1 else 0
    return items[n_held:], items[:n_held]


def _hold_out(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    if not 0.0 < fraction < 1.0:
        raise DataError(f"The validation fraction must be between 0 and 1, got {fraction}.")
    rng = random.Random(seed)
    keep, held = [], []
    for label in sorted(set(train.labels)):
        kept, out = hold_out([i for i, y in enumerate(train.labels) if y == label], fraction, rng)
        keep, held = keep + kept, held + out

    return train.pick(sorted(keep)), train.pick(sorted(held))


def augmenter(seed: int, rotation: float = 0.0, zoom: float = 0.0) -> keras.Sequential:
    """The seed article's horizontal flips, and optionally a little rotation and zoom.

    `rotation` is a fraction of a turn.
    """
    layers = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=seed))
    return keras.Sequential(layers, name="augment")


def image_dataset(
    split: Split,
    image_size: int,
    batch_size: int,
    shuffle_seed: int | None = None,
    augment: keras.Sequential | None = None,
) -> tf.data.Dataset:
    """(images 0-255 float32, labels float32) batches, decoded the app's own way.

    The app's decoder handles EXIF orientation, alpha and 16-bit images.
    """

    def load(path):
        return to_model_input([photo_for_model(Path(path.decode()))], image_size)[0]

    def load_tensor(path, label):
        image = tf.numpy_function(load, [path], tf.float32)
        image.set_shape((image_size, image_size, 3))
        return image, tf.cast(label, tf.float32)

    dataset = tf.data.Dataset.from_tensor_slices((list(split.paths), list(split.labels)))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(
            len(split.paths), seed=shuffle_seed, reshuffle_each_iteration=True
        )
    dataset = dataset.map(load_tensor, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    if augment is not None:
        dataset = dataset.map(
            lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
