"""Training data: check a Kaggle-layout folder, skip and count bad files, stream it (tf.data)."""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.config import Config
from core.data.classes import LISTED_CLASSES, DataError, check_class_names
from core.images import IMAGE_SUFFIXES, load_image, readable, to_model_input


@dataclass(frozen=True)
class Split:
    paths: tuple[str, ...]
    labels: tuple[int, ...]

    def counts(self, n_classes: int) -> list[int]:
        return np.bincount(np.asarray(self.labels, dtype=int), minlength=n_classes).tolist()


@dataclass(frozen=True)
class DataFolders:
    """A checked data folder: class names in label order, both splits, and the files skipped."""

    class_names: tuple[str, ...]
    train: Split
    validation: Split
    skipped: tuple[tuple[str, str], ...]  # (path, one-line reason)
    held_out: bool  # True when validation/ was missing and a fraction of train/ was held out

    def summary(self) -> str:
        names = self.class_names
        train, val = self.train.counts(len(names)), self.validation.counts(len(names))
        text = ", ".join(f"{n}: {t} train / {v} validation" for n, t, v in zip(names, train, val))
        if len(names) > LISTED_CLASSES:
            text = f"{len(names)} classes: {sum(train):,} train / {sum(val):,} validation"
        return text + (f"; {len(self.skipped)} unreadable file(s) skipped" if self.skipped else "")


def scan(
    root: Path, validation_fraction: float = 0.2, seed: int = 1337, max_files: int | None = None
) -> DataFolders:
    """Check `root/train/<class>/` (and `root/validation/<class>/`): 2 to MAX_CLASSES classes.

    Unreadable files are skipped and counted. Without validation/, a seeded, per-class fraction of
    train/ is held out. Raises DataError, before any training, for anything that cannot work.
    `max_files` per class folder defaults to Config's `max_files_per_class`.
    """
    root, max_files = Path(root), max_files or Config().max_files_per_class
    class_names = class_folders(root)
    train_dir, validation_dir = root / "train", root / "validation"
    skipped: list[tuple[str, str]] = []
    train = _read_split(train_dir, class_names, skipped, max_files)
    if validation_dir.is_dir():
        validation = _read_split(validation_dir, class_names, skipped, max_files)
        held_out = False
    else:
        train, validation = _hold_out(train, validation_fraction, seed)
        held_out = True
    for split_name, split in (("train", train), ("validation", validation)):
        for name, count in zip(class_names, split.counts(len(class_names))):
            if count == 0 and held_out and split_name == "validation":
                raise DataError(
                    f"Class '{name}' has one readable photo, which cannot also serve for "
                    f"validation: add photos to {train_dir / name}."
                )
            if count == 0:
                raise DataError(f"The {split_name} split has no readable photo of class '{name}'.")
    return DataFolders(class_names, train, validation, tuple(skipped), held_out)


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
    """The class names (sorted sub-folders of train/, label order), each holding photos.

    It checks the layout, the names (`check_class_names`) and that every class has a photo to
    train on and one for validation; it decodes nothing, so it is fast enough for a page.
    """
    root, train_dir = Path(root), Path(root) / "train"
    if not root.is_dir():
        raise DataError(f"Data folder {root} does not exist.")
    if not train_dir.is_dir():
        raise DataError(
            f"{root} has no train/ folder: expected train/<class>/ and validation/<class>/ "
            "(Kaggle layout)."
        )
    names = tuple(
        sorted(p.name for p in train_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    )
    check_class_names(names, str(train_dir))
    validation = (root / "validation").is_dir()
    for name in names:
        found = _photos(train_dir / name, 2)
        if not found:
            raise DataError(
                f"Class folder {name}/ in {train_dir} has no photos: add some or remove it."
            )
        if found == 1 and not validation:
            raise DataError(
                f"Class folder {name}/ in {train_dir} has one photo, which cannot also serve "
                f"for validation: add photos, or a validation/{name}/ folder."
            )
    return names


def _photos(folder: Path, at_most: int) -> int:
    """How many files named like images `folder` holds, counted up to `at_most` (no decoding)."""
    listed = itertools.islice(folder.iterdir(), Config().max_files_per_class + 1)
    images = (p for p in listed if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())
    return sum(1 for _ in itertools.islice(images, at_most))


def _read_split(
    folder: Path, class_names: tuple[str, ...], skipped: list, max_files: int
) -> Split:
    paths, labels = [], []
    data_root = folder.parent.resolve()
    for label, name in enumerate(class_names):
        class_dir = folder / name
        if not class_dir.is_dir():
            raise DataError(f"{folder} has no {name}/ folder (train/ has it).")
        # Lazy: listing a huge folder stops here instead of reading all of it.
        listed = list(itertools.islice(class_dir.iterdir(), max_files + 1))
        if len(listed) > max_files:
            raise DataError(
                f"{class_dir} holds more than {max_files:,} files; train on it from the command "
                "line."
            )
        files = []
        for path in sorted(p for p in listed if p.suffix.lower() in IMAGE_SUFFIXES):
            if not path.resolve().is_relative_to(data_root):
                skipped.append((str(path), "a link pointing outside the data folder"))
            elif path.is_file():
                files.append(path)
        # Decode every file once, so that a bad one cannot stop training later (in threads:
        # Pillow releases the GIL).
        with ThreadPoolExecutor(max_workers=4) as pool:
            problems = list(pool.map(readable, files))
        for path, problem in zip(files, problems):
            if problem:
                skipped.append((str(path), problem))
            else:
                paths.append(str(path))
                labels.append(label)
    return Split(tuple(paths), tuple(labels))


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

    def pick(indices):
        indices = sorted(indices)
        return Split(
            tuple(train.paths[i] for i in indices), tuple(train.labels[i] for i in indices)
        )

    return pick(keep), pick(held)


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
        photo = load_image(Path(path.decode()))
        return to_model_input([photo], image_size)[0]

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
