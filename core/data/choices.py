"""What a page may offer: datasets, validation folders and weights files under the data roots.

A visitor chooses among these; nothing typed in a browser becomes a server path (the CLI, the
operator's tool, still takes paths). Every walk is bounded in depth, entries and time, and never
leaves its root: a link that points out of it is skipped, not followed.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

from core.config import ROOT, Config
from core.data.layouts import SPLITS
from core.data.walk import MAX_ENTRIES, SECONDS, folder_entries, walk
from core.images import IMAGE_SUFFIXES

WEIGHTS_SUFFIXES = (".h5",)  # Keras weights files, e.g. resnet50_..._notop.h5
# An absolute path left in a message: "/" or "~/" not inside a word, a URL or a relative path.
ABSOLUTE_PATH = re.compile(r"(?<![\w./:~-])~?/[^\s'\"`()\[\],;]+")
# A sentence of advice for the server's operator (a setting): never shown in public mode.
OPERATOR_ADVICE = "CATDOG_"


def datasets(roots: tuple[Path, ...]) -> list[Path]:
    """Dataset folders at or below the roots, in the layouts core/data/layouts.py reads.

    A folder holding a training split folder by any of its usual names (train/, training/,
    training_set/: layouts.SPLITS), or holding two or more class folders of photos and no split
    (Microsoft's PetImages/Cat/, PetImages/Dog/), outside any dataset with splits. A folder itself
    named as a split (Kaggle's training_set/training_set/) is not one; a dataset with splits kept
    inside another (more/second/train/) is its own.
    """
    folders = [path.resolve() for root in roots for path in walk(root) if path.is_dir()]
    with_splits = {path.parent for path in folders if SPLITS.get(path.name.lower()) == "train"}
    by_class, deadline = set(), time.monotonic() + SECONDS  # bounded in time, like the walk
    for path in folders:
        if time.monotonic() > deadline:
            break
        inside = any(path.is_relative_to(dataset) for dataset in with_splits)
        if not inside and _holds_class_folders(path):
            by_class.add(path)
    found = (with_splits | by_class) - {p for p in by_class if p.parent in by_class}
    return sorted(path for path in found if path.name.lower() not in SPLITS)


def _holds_class_folders(folder: Path) -> bool:
    """Two or more sub-folders with a photo straight inside, none named as a split."""
    subfolders = [path for path, is_dir in folder_entries(folder, folder, MAX_ENTRIES) if is_dir]
    if any(path.name.lower() in SPLITS for path in subfolders):
        return False
    with_photos = (path for path in subfolders if _has_photo(path))
    return sum(1 for _ in itertools.islice(with_photos, 2)) == 2


def _has_photo(folder: Path, looked_at: int = 50) -> bool:
    """Whether one of the folder's first `looked_at` entries is a photo."""
    entries = itertools.islice(folder_entries(folder, folder, looked_at), looked_at)
    return any(not is_dir and path.suffix.lower() in IMAGE_SUFFIXES for path, is_dir in entries)


def validation_folders(roots: tuple[Path, ...], configured: Path | None = None) -> list[Path]:
    """Each dataset's validation split folder (else its test split), and the operator's choice.

    Split folders go by their usual names (valid/, val/, test_set/...), a wrapper that repeats
    the name looked through (test_set/test_set/).
    """
    found = datasets(roots)
    held_out = (split_folder(p, "validation") or split_folder(p, "test") for p in found)
    folders = [folder for folder in held_out if folder]
    if configured and Path(configured).is_dir():
        folders.insert(0, Path(configured).resolve())
    return list(dict.fromkeys(folders))


def split_folder(dataset: Path, split: str) -> Path | None:
    """A dataset's folder of one split ("validation": valid/, val/...), or None if it has none.

    A wrapper repeating the name is looked through (test_set/test_set/).
    """
    try:
        folders = sorted(p for p in Path(dataset).iterdir() if p.is_dir())
    except OSError:
        return None
    for folder in (p for p in folders if SPLITS.get(p.name.lower()) == split):
        while (folder / folder.name).is_dir():
            folder = folder / folder.name
        return folder
    return None


def weights_files(roots: tuple[Path, ...]) -> list[Path]:
    """Keras weights files (.h5) under the roots: the backbone choices besides imagenet, none."""
    return sorted(
        {
            path.resolve()
            for root in roots
            for path in walk(root)
            if path.name.endswith(WEIGHTS_SUFFIXES) and path.is_file()
        }
    )


def images_in(
    folder: Path, depth: int = 2, max_entries: int = MAX_ENTRIES, seconds: float = SECONDS
) -> list[Path]:
    """Image files in a folder and `depth` levels below it (2: validation/<class>/), sorted.

    The walk is bounded and stays inside the folder; the list is empty when the folder does not
    exist. The CLI passes deeper limits.
    """
    return sorted(
        path
        for path in walk(folder, depth, max_entries, seconds)
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )


def label(path: Path, roots: tuple[Path, ...]) -> str:
    """A choice as a person reads it: the path below its root, the root's own name in front."""
    for root in roots:
        root = Path(root).resolve()
        if path == root or path.is_relative_to(root):
            return str(Path(root.name) / path.relative_to(root))
    return path.name


def roots_advice(config: Config) -> str:
    """Where datasets are looked for and how to add one: operator advice, local use only."""
    roots = ", ".join(f"`{root}`" for root in config.data_roots)
    return (
        f"The data roots: {roots}. To add a dataset, put its folder there (say `my-pets/cats/` "
        "and `my-pets/dogs/`), or name another root with CATDOG_DATA_ROOTS (folders joined "
        f"by `{os.pathsep}`) and restart the app."
    )


def public(text: str, config: Config, operator: bool = True) -> str:
    """`text` as a visitor may read it: no server path, and operator advice only if `operator`.

    Each server folder (the data roots, the weights folder, the validation folder, Keras' cache,
    the app's own folder) becomes its label, longest first and in both its given and its resolved
    spelling; any absolute path still left becomes its file name. Without `operator` (public
    mode), a sentence naming a CATDOG_ setting is left out. Core's errors keep their paths for
    the CLI; every message a page shows passes through here.
    """
    for folder, name in sorted(_labels(config).items(), key=lambda pair: -len(pair[0])):
        # The folder itself, or followed by "/": never the start of a longer name.
        text = re.sub(re.escape(folder) + r"(?:/|(?!\.?[\w-]))", lambda _: name, text)
    text = ABSOLUTE_PATH.sub(lambda match: _file_name(match.group()), text)
    if not operator:
        sentences = re.split(r"(?<=[.!?])\s+", text)
        text = " ".join(each for each in sentences if OPERATOR_ADVICE not in each)
    return text


def _labels(config: Config) -> dict[str, str]:
    """Every spelling of each server folder a message may name, and the label it becomes."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    named = [
        *((root, f"{Path(root).name}/") for root in config.data_roots),
        (config.validation_dir, label(Path(config.validation_dir).resolve(), config.data_roots)),
        (config.weights_dir, f"{Path(config.weights_dir).name}/"),
        (keras_home, "keras-cache/"),
        (Path("~/.keras"), "keras-cache/"),
        (ROOT, "app/"),
    ]
    labels = {}
    for folder, name in named:
        name = name if name.endswith("/") else f"{name}/"
        for spelling in {str(folder), str(Path(folder).expanduser()), _resolved(folder)}:
            if spelling not in ("", "/", "."):
                labels.setdefault(spelling, name)
    return labels


def _resolved(folder: Path) -> str:
    try:
        return str(Path(folder).expanduser().resolve())
    except (OSError, RuntimeError):
        return str(folder)


def _file_name(token: str) -> str:
    """An absolute path's last part, its trailing full stop kept outside."""
    stop = "." if token.endswith(".") else ""
    return (Path(token.rstrip(".")).name or "/") + stop
