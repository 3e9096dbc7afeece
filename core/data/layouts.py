"""Dataset layouts as people download them, read from a list of photo paths: one reader for all.

A folder under the data roots, a ZIP and `python -m core train --data` all list their photos'
paths (relative, "/"-separated) and hand them to `read_layout`, which says for each photo its
split and class, and in words how each folder was read. It reads what the usual tools make:

    Kaggle "Dogs vs. Cats"     train/cat.0.jpg, train/dog.1.jpg       labels from file names
    Kaggle "cat-and-dog"       training_set/training_set/cats/...     a wrapper folder repeated
                               test_set/test_set/dogs/...
    Roboflow classification    train/ valid/ test/ <class>/           test/ kept out of training
    TensorFlow's cats_and_dogs_filtered   train/ validation/ <class>/
    Microsoft PetImages        PetImages/Cat/1.jpg, PetImages/Dog/    class folders only
    Oxford-IIIT Pet            images/Abyssinian_100.jpg              labels from file names

Split folders go by their usual names (`SPLITS`) up to `SPLIT_DEPTH` folders down; a folder that
repeats its parent's name (archives often do) is a wrapper. Without class folders, a photo's class
is its file name less a trailing number ("cat.0.jpg" -> cat, "great_pyrenees_12.jpg" ->
great_pyrenees), read so only when every photo's name yields one. A test split is never trained on.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from core.atomic import read_json
from core.config import settings
from core.data.classes import DataError, singular, slug
from core.data.walk import walk
from core.images import IMAGE_SUFFIXES

# A split folder's usual names (Keras, Kaggle, Roboflow, Hugging Face, scikit-learn), lowercase.
SPLITS = {
    "train": "train",
    "training": "train",
    "training_set": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
    "test_set": "test",
}
SPLIT_DEPTH = 3  # folders above a split folder looked through (wrappers such as PetImages/)
# Written into every dataset this app makes (uploads, the Oxford-IIIT download): that it made it
# (only those are offered for deletion) and each class folder's name as the person wrote it
# ("Maine Coon", "Кошки"), which a folder name on disk cannot always keep.
MADE_HERE = ".made-by-catdog-gradcam.json"
# Folders below a dataset's root listed: wrappers and a split, its repeat, a class, the photo.
LIST_DEPTH = SPLIT_DEPTH + 3
LIST_SECONDS = 300.0  # a listing this slow is a network disk; the entry bound comes first
PAGE_SECONDS = 3.0  # what a page waits for one listing (it runs in the visitor's script thread)
# Folders of masks and label images that datasets ship beside their photos: never a class.
ANNOTATIONS = {"annotations", "annotation", "labels", "masks", "mask", "trimaps", "segmentations"}
# The class in a file name: everything before a trailing number and its separator.
NAME_LABEL = re.compile(r"^(?P<label>.*?\D)[ ._-]*\d+$")
# What cameras, phones and screenshots name every photo: a prefix that says no class.
DEVICE_PREFIXES = {"img", "image", "dsc", "dscn", "dscf", "pxl", "mvimg", "photo", "pic", "vid"}
DEVICE_PREFIXES |= {"screenshot", "dji", "gopr", "sam", "wp", "p", "dcim", "scan", "snapshot"}


@dataclass(frozen=True)
class Layout:
    """Where each photo goes: `photos` as (relative path, split, class), and how it was read.

    `reading` says in words how each folder was read ("valid/ → validation"); `ignored` counts
    the photos outside the layout by the folder they sit in ("test1/": no class in their names);
    `class_parents` are the folders whose sub-folders are classes ("train", "" for the top);
    `split_folders` each split's folder as (split, relative path): ("test", "test_set/test_set").
    """

    photos: tuple[tuple[str, str, str], ...]
    reading: tuple[str, ...]
    ignored: tuple[tuple[str, int], ...] = ()
    class_parents: tuple[str, ...] = ()
    split_folders: tuple[tuple[str, str], ...] = ()

    def folder(self, split: str) -> str | None:
        """The folder of a split (relative), the first if it has several; None if none."""
        return next((folder for name, folder in self.split_folders if name == split), None)

    def split(self, name: str) -> list[tuple[str, str]]:
        """(relative path, class) of one split's photos, in path order."""
        return [(path, label) for path, split, label in self.photos if split == name]

    def classes(self, split: str = "train") -> list[str]:
        """The class names of a split, sorted (the label order of a model trained on it)."""
        return sorted({label for _, name, label in self.photos if name == split})

    def describe(self, ignored: bool = True) -> str:
        """ "valid/ → validation · test/ → test, not trained on · labels from file names".

        With `ignored`, the photos outside the layout are counted too ("test1/: 12,500 photos
        not read (no class)").
        """
        left_out = [
            f"{folder}: {n:,} photo{'' if n == 1 else 's'} not read (no class)"
            for folder, n in (self.ignored if ignored else ())
        ]
        return " · ".join([*self.reading, *left_out])


def label_from_name(file_name: str) -> str | None:
    """The class a file name says: "cat.0.jpg" -> "cat", "Abyssinian_100.jpg" -> "Abyssinian".

    None when the name is a number alone, has no trailing number, or starts as a camera, phone or
    scanner names every photo ("IMG_1234.jpg", "DSC0042.JPG", "PXL_20240101_123456.jpg").
    """
    match = NAME_LABEL.match(PurePosixPath(file_name).stem)
    label = match["label"].strip(" ._-") if match else ""
    device = re.split(r"[ ._-]", label.casefold())[0] in DEVICE_PREFIXES
    return label if any(c.isalpha() for c in label) and not device else None


def true_class(photo: str, class_names: Sequence[str]) -> str | None:
    """The class a photo's path says among `class_names`, else None.

    Its class folder (cats/x.jpg: "cat" for a cat/dog model, which names its classes in the
    singular), else its file name (cat.12.jpg, Abyssinian_3.jpg), as `read_layout` reads them.
    """
    parts = PurePosixPath(photo).parts
    said = [parts[-2]] if len(parts) > 1 else []
    said += [label] if (label := label_from_name(parts[-1])) else []
    # A class is known by its folder's slug too: an upload keeps "Maine Coon" in maine-coon/.
    by_slug = {slug(name): name for name in class_names}
    for name in (each for label in said for each in (label, singular(label))):
        if name in class_names or slug(name) in by_slug:
            return name if name in class_names else by_slug[slug(name)]
    return None


def read_layout(paths: Iterable[str], where: str = "The folder") -> Layout:
    """Split and class of every photo path (relative, "/"-separated), or DataError in one line.

    Common wrapper folders are looked through. With split folders, photos outside them are
    ignored and counted; without, every photo is a training photo (the run holds some out for
    validation). In a split, class folders give the class; photos straight in a split with no
    class folder take it from their file names, when every name yields one.
    """
    paths = list(paths)
    if not paths:
        raise DataError(
            f"{where} holds no photo: expected class folders (cats/, dogs/), split folders "
            "(train/, validation/, test/) or photos named by class (cat.0.jpg, dog.0.jpg)."
        )
    # Masks and label images beside the photos (Oxford-IIIT's annotations/trimaps/) are no class.
    outside = Counter(_annotation_folder(path) for path in paths if _annotation_folder(path))
    by_split, found_as, folders = _by_split([p for p in paths if not _annotation_folder(p)])
    loose = by_split.pop("", [])
    if "train" not in by_split and loose:  # cats/ dogs/ beside a test/: the classes train
        by_split, loose = {"train": loose, **by_split}, []
    for path, each in loose:
        outside[each[0] + "/" if len(each) > 1 else "./"] += 1
    photos, reading, class_parents = [], [], set()
    for split in ("train", "validation", "test"):
        if split not in by_split:
            continue
        labelled, how = _labelled(by_split[split], split, where)
        if not how:  # by class folders: the folder above them, as the path gave it
            in_folders = [(path, rest) for path, rest in by_split[split] if len(rest) > 1]
            class_parents |= {_above(path, rest) for path, rest in in_folders}
        photos += [(path, split, label) for path, label in labelled]
        outside[f"{split} photos beside its class folders"] += len(by_split[split]) - len(labelled)
        names = ", ".join(sorted(found_as.get(split, ())))
        role = "test, not trained on" if split == "test" else split
        source = "labels from file names" if how else "class folders"
        reading.append(f"{names} → {role}{how}" if names else f"{source} → train")
    if not photos:
        raise DataError(f"{where} holds no photo in class folders or split folders.")
    ignored = tuple(sorted((folder, n) for folder, n in outside.items() if n))
    parents, split_folders = tuple(sorted(class_parents)), tuple(sorted(folders))
    return Layout(tuple(photos), tuple(reading), ignored, parents, split_folders)


def _annotation_folder(path: str) -> str | None:
    """The folder holding `path` when it is one of masks or labels ("annotations/"), else None."""
    folders = PurePosixPath(path).parts[:-1]
    at = next((i for i, part in enumerate(folders) if part.lower() in ANNOTATIONS), None)
    return "/".join(folders[: at + 1]) + "/" if at is not None else None


def _by_split(paths: list[str]) -> tuple[dict, dict[str, set[str]], set[tuple[str, str]]]:
    """Each photo's split and its path below the split folder, as ({split: [(path, rest)]},
    the split folders' names as found, (split, folder) pairs); split "" holds the photos in no
    split folder, with their path below the wrapper folders."""
    parts = [tuple(p for p in PurePosixPath(path).parts if p not in ("", ".")) for path in paths]
    wrapper = _common_wrapper(parts)
    inner = [each[len(wrapper) :] for each in parts]
    found_at = [_split_at(each) for each in inner]
    # Split folders at the shallowest depth they occur: a dataset kept inside another one
    # (more/second/train/ beside train/) is not read as part of it.
    shallowest = min((at for at in found_at if at is not None), default=None)
    by_split: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    found_as: dict[str, set[str]] = {}
    folders: set[tuple[str, str]] = set()
    for path, each, at in zip(paths, inner, found_at):
        if at is None or at != shallowest:
            by_split.setdefault("", []).append((path, each))
            continue
        split, rest = SPLITS[each[at].lower()], list(each[at + 1 :])
        while len(rest) > 1 and rest[0].lower() == each[at].lower():
            rest.pop(0)  # training_set/training_set/: a wrapper named as its split
        found_as.setdefault(split, set()).add("/".join(each[: at + 1]) + "/")
        folders.add((split, _above(path, tuple(rest))))
        by_split.setdefault(split, []).append((path, tuple(rest)))
    return by_split, found_as, folders


def _split_at(parts: tuple[str, ...]) -> int | None:
    """Where the first split folder is among a path's first SPLIT_DEPTH folders, or None."""
    folders = parts[:-1][:SPLIT_DEPTH]
    return next((i for i, part in enumerate(folders) if part.lower() in SPLITS), None)


def _above(path: str, rest: tuple[str, ...]) -> str:
    """The folder of `path` above its last `rest` parts ("" for the top)."""
    parts = [p for p in PurePosixPath(path).parts if p not in ("", ".")]
    return "/".join(parts[: len(parts) - len(rest)])


def _common_wrapper(parts: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The folders every photo sits in (a ZIP's top folder, PetImages/), none named as a split."""
    wrapper: list[str] = []
    while parts and all(len(each) > len(wrapper) + 1 for each in parts):
        name = parts[0][len(wrapper)]
        if name.lower() in SPLITS or any(each[len(wrapper)] != name for each in parts):
            break
        wrapper.append(name)
    return tuple(wrapper)


def _labelled(
    photos: list[tuple[str, tuple[str, ...]]], split: str, where: str
) -> tuple[list[tuple[str, str]], str]:
    """(path, class) of one split's photos, and how the classes were read ("" or a clause)."""
    in_folders = [(path, rest[0]) for path, rest in photos if len(rest) > 1]
    if in_folders:
        return in_folders, ""  # photos beside class folders, straight in the split: not read
    named = [(path, label_from_name(rest[-1])) for path, rest in photos]
    unnamed = [path for path, label in named if label is None]
    if unnamed or len({label.casefold() for _, label in named}) < 2:
        example = PurePosixPath(unnamed[0] if unnamed else named[0][0]).name
        raise DataError(
            f"{where}'s {split} photos are in no class folder, and their names do not say two "
            f"classes (e.g. '{example}'): put each class's photos in a folder of its own, or "
            "name them as cat.0.jpg, dog.0.jpg."
        )
    # One spelling per class: "Cat" and "cat" are one class, spelt as most names spell it.
    spelling = {}
    for label, _ in Counter(label for _, label in named).most_common():
        spelling.setdefault(label.casefold(), label)
    labelled = [(path, spelling[label.casefold()]) for path, label in named]
    return labelled, ", labels from file names"


def empty_class_folders(layout: Layout, listed: Iterable[str]) -> list[str]:
    """Folders beside the class folders that hold no photo ("train/birds"), from every path listed.

    A person who made birds/ meant a class: callers refuse it rather than train without it.
    `listed` is every file and folder path (relative, "/"-separated), photos or not.
    """
    with_photos = {PurePosixPath(path).parts for path, _, _ in layout.photos}
    empty = set()
    for parent in layout.class_parents:
        depth = len(PurePosixPath(parent).parts) + 1
        classes = {parts[:depth] for parts in with_photos}
        for path in listed:
            parts = PurePosixPath(path).parts
            if len(parts) > depth - 1 and "/".join(parts[: depth - 1]) == parent:
                folder = parts[:depth]
                if folder not in classes and (len(parts) > depth or path.endswith("/")):
                    empty.add("/".join(folder))
    return sorted(empty)


def layout_of(
    root: Path,
    max_files: int | None = None,
    links_out: list | None = None,
    seconds: float = LIST_SECONDS,
) -> Layout:
    """The layout of a folder's photos (`read_layout`), listed without decoding any.

    The listing stays inside `root` (links out of it are skipped, and added to `links_out`); past
    `max_files` entries or `seconds` it stops with a DataError rather than read part of a dataset
    (a page passes PAGE_SECONDS, training the long default). A class folder without photos is
    refused.
    """
    root, max_files = Path(root), max_files or settings().max_files_per_class
    if not root.is_dir():
        raise DataError(f"Data folder {root} does not exist.")
    resolved, listed, started = root.resolve(), [], time.monotonic()
    for path in walk(root, LIST_DEPTH, max_files + 1, seconds, links_out):
        listed.append(path)
        if len(listed) > max_files:
            raise DataError(
                f"{root} holds more than {max_files:,} files and folders: train on a folder "
                "of a part of them."
            )
    if time.monotonic() - started >= seconds:  # the walk stopped at its time bound
        raise DataError(
            f"Listing {root} took over {seconds:.0f} s, so it was not read in full: train on it "
            "from the command line, or from a faster disk."
        )
    # A link inside the folder to a folder above it (a loop) lists the same files again: each
    # file is kept once, under its shortest path (the walk goes breadth first).
    files = {}
    for path in listed:
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            files.setdefault(path.resolve(), path.relative_to(resolved).as_posix())
    photos = list(files.values())
    if not photos and (empty := _empty_leaf(listed)) is not None:
        raise DataError(
            f"Class folder {empty.name}/ in {root / empty.relative_to(resolved).parent} has no "
            "photos: add some or remove it."
        )
    layout = _named_as_given(read_layout(sorted(photos), str(root)), root)
    every = [p.relative_to(resolved).as_posix() + ("/" if p.is_dir() else "") for p in listed]
    if empty := empty_class_folders(layout, every):
        folder = PurePosixPath(empty[0])
        raise DataError(
            f"Class folder {folder.name}/ in {root / folder.parent} has no photos: add some or "
            "remove it."
        )
    return layout


def _empty_leaf(listed: list[Path]) -> Path | None:
    """The first folder with no folder inside, in a listing without photos: a class to fill."""
    folders = [path for path in listed if path.is_dir()]
    parents = {path.parent for path in folders}
    return next((folder for folder in folders if folder not in parents), None)


def _named_as_given(layout: Layout, root: Path) -> Layout:
    """The layout with the class names a dataset this app made stored (MADE_HERE), if any."""
    given = (read_json(Path(root) / MADE_HERE) or {}).get("class_names") or {}
    if not given:
        return layout
    photos = tuple((path, split, given.get(label, label)) for path, split, label in layout.photos)
    return replace(layout, photos=photos)
