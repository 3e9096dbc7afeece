"""New datasets from a visitor's files: labelled photos, or one ZIP in a layout people download.

Nothing a visitor sends becomes a path as it is: the dataset's name becomes a slug (a clash gets a
suffix), class folders become slugs, file names are reduced to safe ones. A ZIP is refused as a
whole when it could be a bomb (too many files, too many bytes once unpacked); single entries are
counted and skipped when they climb out of the archive (zip-slip), sit outside the layout
(core/data/layouts.py reads it, as it reads a folder), are no image, are corrupt or repeat a photo
already kept. Entry names are read as the tools that wrote them meant: "\\" as a separator, UTF-8
without its flag; an encrypted ZIP is refused in one sentence. The dataset is written to a hidden
folder and renamed into place only when complete, so a half-written one is never offered.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core import space
from core.atomic import write_json
from core.config import settings
from core.data import choices
from core.data.archives import read_zip, refuse_garbled
from core.data.classes import (
    SLUG_LENGTH,
    DataError,
    check_class_counts,
    check_class_names,
    counted,
    slug,
)
from core.data.layouts import (
    MADE_HERE,
    PAGE_SECONDS,
    Layout,
    empty_class_folders,
    layout_of,
    read_layout,
)
from core.data.leakage import near_duplicates, photo_hash
from core.errors import UserError, one_line, writing
from core.images import IMAGE_SUFFIXES, UPSCALED, ImageError, load_image, photo_caveat

SPLITS = ("train", "validation", "test")  # as a new dataset is written


class DatasetError(UserError):
    """A dataset that cannot be made; the message is one line meant for the user."""


@dataclass
class Report:
    """What was kept, per split and class, and what was skipped, per reason."""

    folder: Path | None = None
    kept: dict[str, Counter] = field(default_factory=lambda: {s: Counter() for s in SPLITS})
    skipped: Counter = field(default_factory=Counter)
    reading: str = ""  # how a ZIP's folders were read (Layout.describe)
    # Each kept photo's perceptual hash, per split; and the pairs across splits that are one photo.
    hashes: dict[str, list[int]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    near_duplicates: int = 0
    class_names: dict[str, str] = field(default_factory=dict)  # class folder -> name as written
    tiny: int = 0  # photos kept that the model's input upscales UPSCALED times or more

    def summary(self) -> str:
        """ "Kept train 12 cats, 12 dogs; validation 4 cats, 4 dogs. Skipped 1 not an image."

        Many classes are counted per split: "Kept 37 classes; train 2,944; validation 736."
        """
        kept = counted({s: dict(sorted(c.items())) for s, c in self.kept.items()}, ", ", "; ")
        skipped = ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        text = f"Kept {kept or 'nothing'}" + (f". Skipped {skipped}." if skipped else ".")
        if self.tiny:
            side = round(settings().image_size / UPSCALED)
            text += (
                f" {self.tiny} photo{'' if self.tiny == 1 else 's'} under {side} px kept: upscaled"
                f" {UPSCALED:.0f}× or more for the model, they teach it little."
            )
        if pairs := self.near_duplicates:
            text += f" {pairs} near-duplicate pair{'' if pairs == 1 else 's'} across splits."
        return text + (f" Read as: {self.reading}." if self.reading else "")


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
    """A dataset from a ZIP in any layout `core/data/layouts.py` reads, written as the app's own.

    That is train/<class>/, validation/<class>/ and test/<class>/ below the new dataset's folder,
    whatever names and wrapper folders the ZIP used (Kaggle, Roboflow, labels in file names).
    Raises DatasetError, nothing written, for an archive it cannot read or refuses as a whole.
    """
    found = _checked(read_zip, data)
    layout = _checked(read_layout, sorted(found.photos), "The ZIP")
    if empty := empty_class_folders(layout, found.names):
        raise DatasetError(
            f"Class folder {PurePosixPath(empty[0]).name}/ in the ZIP has no photos: add some or "
            "remove it."
        )
    _checked(refuse_garbled, [label for path, _, label in layout.photos if path in found.garbled])
    # The rules of a class name on train's; another split may hold fewer classes, never others,
    # as a folder's scan reads it.
    trained = _checked(check_class_names, layout.classes("train"), "The ZIP", slug)
    for split in SPLITS[1:]:
        if unknown := sorted(set(layout.classes(split)) - set(trained)):
            raise DatasetError(
                f"The ZIP's {split} split has class '{unknown[0]}', which the train split lacks: "
                "add its training photos, or remove it."
            )
    unpacked = sum(info.file_size for info in found.photos.values())
    with _building(root, name, unpacked) as (folder, report, seen):
        report.skipped.update(found.skipped)
        report.skipped["outside the layout"] += sum(n for _, n in layout.ignored)
        for path, split, label in layout.photos:
            try:
                content = found.archive.read(found.photos[path])  # at most its declared size
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
                report.skipped["corrupt"] += 1
                continue
            _keep(folder, report, seen, split, label, PurePosixPath(path).name, content)
        classes = sorted({slug(label) for _, _, label in layout.photos})
        _checked(check_class_counts, classes, report.kept["train"], report.kept["validation"])
        report.reading = layout.describe()
        report.near_duplicates = near_duplicates(report.hashes)[0]
    report.skipped = +report.skipped  # reasons that counted nothing left out
    return report


def counts(dataset: Path, layout: Layout | None = None) -> dict[str, dict[str, int]]:
    """Photos per split and class, e.g. {"train": {"cats": 300, "dogs": 300}, ...}.

    Read as training reads it (`layout_of`, within a page's time), in any layout; {} when it
    cannot be read.
    """
    try:
        layout = layout or layout_of(Path(dataset), seconds=PAGE_SECONDS)
    except DataError:
        return {}
    return {
        split: dict(sorted(Counter(label for _, label in layout.split(split)).items()))
        for split in SPLITS
        if layout.split(split)
    }


def describe(dataset: Path) -> str:
    """ "train 300 cats / 300 dogs · validation 100 cats / 100 dogs", for the data selector.

    Many classes read "37 classes · train 2,944 · validation 736"; a layout read otherwise than
    train/ and validation/ class folders says how ("valid/ → validation · test/ → test, ...").
    """
    try:
        layout = layout_of(Path(dataset), seconds=PAGE_SECONDS)
    except DataError as error:
        return one_line(error)
    text = counted(counts(dataset, layout), " / ", " · ")
    reading = layout.describe(ignored=False)
    plain = reading in ("train/ → train", "train/ → train · validation/ → validation")
    return text if plain else f"{text} ({reading})"


def _checked(check, *args):
    """Run a check of core/data (its result returned); its DataError becomes a DatasetError."""
    try:
        return check(*args)
    except DataError as error:
        raise DatasetError(str(error)) from None


def _keep(folder: Path, report: Report, seen: set, split, label, file_name, data: bytes) -> None:
    if PurePosixPath(file_name).suffix.lower() not in IMAGE_SUFFIXES:
        report.skipped["not an image"] += 1
        return
    try:
        photo = load_image(data, file_name)
    except ImageError:
        report.skipped["corrupt or unreadable"] += 1
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        report.skipped["duplicates"] += 1
        return
    seen.add(digest)
    report.tiny += photo_caveat(photo.shape, (settings().image_size,) * 2) is not None
    target = folder / split / slug(label)
    target.mkdir(parents=True, exist_ok=True)
    stem = slug(PurePosixPath(file_name).stem) or "photo"
    path = target / f"{stem}{PurePosixPath(file_name).suffix.lower()}"
    if path.exists():
        path = target / f"{stem}-{digest[:8]}{path.suffix}"
    path.write_bytes(data)
    report.kept[split][slug(label)] += 1
    report.class_names.setdefault(slug(label), label)
    report.hashes[split].append(photo_hash(photo))


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
    with writing("saving the new dataset"):
        mark_made_here(partial, "upload", report.class_names)
    partial.rename(final)
    report.folder = final


# Deleting a dataset ------------------------------------------------------------------------------


def mark_made_here(folder: Path, how: str, class_names: dict[str, str] | None = None) -> None:
    """Mark a dataset folder as made by this app (`how`: "upload", "download"), when it is made;
    `class_names` maps each class folder to the class's name as the person wrote it."""
    made = {"made_by": "catdog-gradcam", "how": how, "made_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json(Path(folder) / MADE_HERE, {**made, "class_names": class_names or {}})


def deletable(path: Path, roots: tuple[Path, ...]) -> bool:
    """May a person delete this dataset? Only one this app made (MADE_HERE) and the page offers,
    strictly below a data root."""
    return _offered(Path(path).resolve(), roots) and (Path(path) / MADE_HERE).is_file()


def _offered(path: Path, roots: tuple[Path, ...]) -> bool:
    """A dataset the page lists, strictly below a data root."""
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
    if not _offered(path, roots):
        raise DatasetError(
            f"{shown} is not a dataset this page can delete: choose one from the list."
        )
    if not (path / MADE_HERE).is_file():
        raise DatasetError(f"{shown} was not made by this app: it is never deleted from here.")
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
