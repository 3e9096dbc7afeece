"""New datasets from a visitor's files: labelled photos or one ZIP in the Kaggle layout.

Nothing a visitor sends becomes a path as it is: the dataset's name becomes a slug (a clash gets a
suffix), class folders become slugs, file names are reduced to safe ones. A ZIP is refused as a
whole when it could be a bomb (too many files, too many bytes once unpacked); single entries are
counted and skipped when they climb out of the archive (zip-slip), sit outside the Kaggle layout,
are no image, are corrupt or repeat a photo already kept. The dataset is written to a hidden folder
and renamed into place only when complete, so a half-written one is never offered.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core import space
from core.data import choices
from core.data.choices import images_in
from core.data.classes import DataError, check_class_counts, check_class_names, counted
from core.errors import UserError, writing
from core.images import IMAGE_SUFFIXES, readable

SLUG_LENGTH = 40
# The ZIP uploader's own cap (the photo uploaders keep server.maxUploadSize, 25 MB).
ZIP_MAX_MB = 200
MAX_FILES = 20_000  # entries in one ZIP
MAX_UNPACKED = 2 * 1024**3  # bytes, all entries unpacked: a ZIP that claims more is refused
SPLITS = ("train", "validation")


class DatasetError(UserError):
    """A dataset that cannot be made; the message is one line meant for the user."""


@dataclass
class Report:
    """What was kept, per split and class, and what was skipped, per reason."""

    folder: Path | None = None
    kept: dict[str, Counter] = field(default_factory=lambda: {s: Counter() for s in SPLITS})
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """ "Kept train 12 cats, 12 dogs; validation 4 cats, 4 dogs. Skipped 1 not an image."

        Many classes are counted per split: "Kept 37 classes; train 2,944; validation 736."
        """
        kept = counted({s: dict(sorted(c.items())) for s, c in self.kept.items()}, ", ", "; ")
        skipped = ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return f"Kept {kept or 'nothing'}" + (f". Skipped {skipped}." if skipped else ".")


def slug(text: str, length: int = SLUG_LENGTH) -> str:
    """Lowercase letters, digits and single hyphens, at most `length` characters ("" if none)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-")


def free_name(root: Path, name: str) -> str:
    """`name` as a slug, with -2, -3, ... when a folder of that name is already under `root`."""
    base = slug(name) or "dataset"
    candidate, n = base, 1
    while (root / candidate).exists():
        n += 1
        candidate = f"{base[: SLUG_LENGTH - len(str(n)) - 1]}-{n}"
    return candidate


def from_photos(
    root: Path,
    name: str,
    photos: Mapping[str, list[tuple[str, bytes]]] | Iterable[tuple[str, list[tuple[str, bytes]]]],
) -> Report:
    """A dataset of train/<class>/ from photos sent per class: class -> [(file name, bytes)].

    `photos` is a dict or (class, files) pairs, so that two classes typed with one name are seen.
    The training run holds some of them out for validation. Raises DatasetError, nothing written,
    for bad class names (`check_class_names`), a class without photos or with a single one.
    """
    pairs = list(photos.items() if isinstance(photos, Mapping) else photos)
    _checked(check_class_names, [label for label, _ in pairs], "The new dataset", slug)
    if not any(files for _, files in pairs):
        both = "both classes" if len(pairs) == 2 else "every class"
        raise DatasetError(f"Give photos for {both}: none was sent.")
    if empty := [label for label, files in pairs if not files]:
        raise DatasetError(f"Class '{empty[0]}' has no photos: add some, or remove the class.")
    sent = sum(len(data) for _, files in pairs for _, data in files)
    with _building(root, name, sent) as (folder, report, seen):
        for label, files in pairs:
            for file_name, data in files:
                _keep(folder, report, seen, "train", label, file_name, data)
        classes = [slug(label) for label, _ in pairs]
        _checked(check_class_counts, classes, report.kept["train"], report.kept["validation"])
    return report


def from_zip(root: Path, name: str, data: bytes) -> Report:
    """A dataset from a ZIP in the Kaggle layout.

    That is [top/]train/<class>/* and [top/]validation/<class>/*, or [top/]<class>/* for training
    photos only.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise DatasetError(f"That is not a readable ZIP file ({error}).") from None
    if len(entries) > MAX_FILES:
        raise DatasetError(f"The ZIP holds {len(entries):,} files; at most {MAX_FILES:,} here.")
    unpacked = sum(info.file_size for info in entries)
    if unpacked > MAX_UNPACKED:
        raise DatasetError(
            f"The ZIP would unpack to {unpacked / 1024**2:,.0f} MB; at most "
            f"{MAX_UNPACKED / 1024**2:,.0f} MB here."
        )
    placed = [(info, _place(info.filename)) for info in entries]
    # Each split's class folders by the same rules (train/Cats/ may meet validation/cats/).
    found = [place for _, place in placed if isinstance(place, tuple)]
    labels = {split: {label for where, label, _ in found if where == split} for split in SPLITS}
    for split, names in labels.items():
        if names or split == "train":
            _checked(check_class_names, sorted(names), "The ZIP", slug)
    with _building(root, name, unpacked) as (folder, report, seen):
        for info, place in placed:
            if isinstance(place, str):
                report.skipped[place] += 1
                continue
            try:
                content = archive.read(info)  # never more than the entry's declared size
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
                report.skipped["corrupt"] += 1
                continue
            split, label, file_name = place
            _keep(folder, report, seen, split, label, file_name, content)
        classes = sorted({slug(label) for names in labels.values() for label in names})
        _checked(check_class_counts, classes, report.kept["train"], report.kept["validation"])
    return report


def counts(dataset: Path) -> dict[str, dict[str, int]]:
    """Photos per split and class folder, e.g. {"train": {"cats": 300, "dogs": 300}, ...}."""
    result = {}
    for split in SPLITS:
        folder = Path(dataset) / split
        if folder.is_dir():
            classes = sorted(p for p in folder.iterdir() if p.is_dir())
            result[split] = {c.name: len(images_in(c)) for c in classes}
    return result


def describe(dataset: Path) -> str:
    """ "train 300 cats / 300 dogs · validation 100 cats / 100 dogs", for the data selector.

    Many classes read "37 classes · train 2,944 · validation 736".
    """
    return counted(counts(dataset), " / ", " · ")


# Helpers -----------------------------------------------------------------------------------------


def _place(entry: str) -> tuple[str, str, str] | str:
    """(split, class, file name) for a ZIP entry, or the reason it is skipped."""
    if "\\" in entry or entry.startswith("/") or re.match(r"^[A-Za-z]:", entry):
        return "outside the folder (zip-slip)"
    parts = [p for p in PurePosixPath(entry).parts if p not in ("", ".")]
    if ".." in parts:
        return "outside the folder (zip-slip)"
    if parts and (parts[0] == "__MACOSX" or parts[-1].startswith(".")):
        return "hidden or system files"
    if len(parts) > 1 and parts[0].lower() not in SPLITS and len(parts) >= 3:
        parts = parts[1:]  # one top folder, as zipping a folder gives
    if len(parts) == 3 and parts[0].lower() in SPLITS:
        split, label, file_name = parts[0].lower(), parts[1], parts[2]
    elif len(parts) == 2:
        split, label, file_name = "train", parts[0], parts[1]
    else:
        return "outside the Kaggle layout"
    if not slug(label):
        return "outside the Kaggle layout"
    return split, label, file_name


def _checked(check, *args) -> None:
    """Run one of core/data/classes.py's checks; its DataError becomes a DatasetError."""
    try:
        check(*args)
    except DataError as error:
        raise DatasetError(str(error)) from None


def _keep(folder: Path, report: Report, seen: set, split, label, file_name, data: bytes) -> None:
    if PurePosixPath(file_name).suffix.lower() not in IMAGE_SUFFIXES:
        report.skipped["not an image"] += 1
        return
    if readable(data, file_name):
        report.skipped["corrupt or unreadable"] += 1
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        report.skipped["duplicates"] += 1
        return
    seen.add(digest)
    target = folder / split / slug(label)
    target.mkdir(parents=True, exist_ok=True)
    stem = slug(PurePosixPath(file_name).stem) or "photo"
    path = target / f"{stem}{PurePosixPath(file_name).suffix.lower()}"
    if path.exists():
        path = target / f"{stem}-{digest[:8]}{path.suffix}"
    path.write_bytes(data)
    report.kept[split][slug(label)] += 1


@contextlib.contextmanager
def _building(root: Path, name: str, needed: int = 0):
    """A hidden folder under `root` for the caller to fill, renamed to its slug when complete.

    It is removed instead when the caller fails or keeps nothing. Refused first when writing
    `needed` bytes would leave less than Config.min_free_mb free; a disk that fills all the same
    ends it with a StorageError.
    """
    root = Path(root)
    space.require_free(root, "a new dataset", needed=needed)
    with writing("saving the new dataset"):
        root.mkdir(parents=True, exist_ok=True)
        final = root / free_name(root, name)
        partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    report = Report()
    try:
        with writing("saving the new dataset"):
            yield partial, report, set()
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if not sum(sum(counts.values()) for counts in report.kept.values()):
        shutil.rmtree(partial, ignore_errors=True)
        raise DatasetError(f"No usable photo was sent. {report.summary()}")
    partial.rename(final)
    report.folder = final


# Deleting a dataset ------------------------------------------------------------------------------


def deletable(path: Path, roots: tuple[Path, ...]) -> bool:
    """May a person delete this dataset? Only one the page offers, strictly below a data root."""
    path = Path(path).resolve()
    below_a_root = any(path != r and path.is_relative_to(r) for r in _resolved(roots))
    return below_a_root and path in choices.datasets(roots)


def delete_dataset(path: Path, roots: tuple[Path, ...], reading: Path | None = None) -> str:
    """Remove a dataset the page offers, all of it; returns its name as the page shows it.

    `reading` is the dataset of the run in progress (core.training.store.running_data): that one,
    or one holding it, is refused, like a data root itself or a folder the page does not offer.
    The folder is first renamed to a hidden name (one step), so it is never offered half-deleted.
    """
    path = Path(path).resolve()
    shown = choices.label(path, roots)
    if not deletable(path, roots):
        raise DatasetError(
            f"{shown} is not a dataset this page can delete: choose one from the list."
        )
    reading = Path(reading).resolve() if reading is not None else None
    if reading is not None and (reading.is_relative_to(path) or path.is_relative_to(reading)):
        raise DatasetError(
            f"{shown} is being read by the run in progress: stop it or wait for it."
        )
    hidden = path.with_name(f".deleting-{path.name}")
    with writing(f"deleting {shown}"):
        shutil.rmtree(hidden, ignore_errors=True)  # a deletion cut short before
        path.rename(hidden)
    shutil.rmtree(hidden, ignore_errors=True)
    return shown


def _resolved(roots: tuple[Path, ...]) -> list[Path]:
    return [Path(root).resolve() for root in roots]
