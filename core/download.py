"""`python -m core download-data`: fetch Oxford-IIIT Pet, check it, lay it out as train/ and
validation/."""

from __future__ import annotations

import random
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras

from core.data import hold_out
from core.errors import one_line
from core.images import ImageError, load_image


@dataclass(frozen=True)
class Source:
    url: str
    md5: str  # torchvision's OxfordIIITPet pins the same hash
    # Files the set is known to ship broken (wrong content under .jpg, or unreadable): dropped by
    # name.
    known_bad: frozenset[str] = frozenset()
    # The trimaps (every photo) and head boxes (trainval photos), kept as DEST/annotations/; "" =
    # none.
    annotations_url: str = ""
    annotations_md5: str = ""


OXFORD_PETS = Source(
    url="https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
    md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
    known_bad=frozenset(
        {
            "Egyptian_Mau_129",
            "Egyptian_Mau_186",
            "Abyssinian_5",
            "staffordshire_bull_terrier_2",
            "staffordshire_bull_terrier_22",
        }
    ),
    annotations_url="https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
    annotations_md5="95a8c909bbe2e81eed6a22bccdf3f68f",  # torchvision's pin too
)


class DownloadError(RuntimeError):
    """A download or archive that could not be used; the message is one line meant for the user."""


def download_pets(
    dest: Path,
    source: Source = OXFORD_PETS,
    validation_fraction: float = 0.2,
    seed: int = 1337,
    cache_dir: Path | None = None,
) -> dict:
    """Download (cached, checksum verified), drop broken files, write
    dest/{train,validation}/{cats,dogs}/.

    Oxford-IIIT Pet names cat breeds with a capital letter (Abyssinian_1.jpg), dog breeds in lower
    case (beagle_1.jpg). Returns counts: {"train": {...}, "validation": {...}, "dropped": [...]}.
    """
    dest = Path(dest)
    if (dest / "train").exists():
        raise DownloadError(
            f"{dest / 'train'} already exists; choose another --dest or remove it."
        )
    archive = _fetch(source.url, source.md5, cache_dir)
    annotations = (
        _fetch(source.annotations_url, source.annotations_md5, cache_dir)
        if source.annotations_url
        else None
    )
    with tempfile.TemporaryDirectory() as scratch:
        _unpack(archive, Path(scratch))
        counts = _lay_out(Path(scratch), dest, source, validation_fraction, seed)
    if annotations:
        with tempfile.TemporaryDirectory(dir=dest) as scratch:
            _unpack(annotations, Path(scratch))
            if not (Path(scratch) / "annotations" / "trimaps").is_dir():
                raise DownloadError(
                    f"The archive {annotations} holds no annotations/trimaps/ folder."
                )
            shutil.move(
                Path(scratch) / "annotations", dest / "annotations"
            )  # trimaps/, xmls/, the lists
    return counts


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(
                folder, filter="data"
            )  # no absolute paths, links or ".." out of the folder
    except (tarfile.TarError, OSError) as error:
        raise DownloadError(f"The archive {archive} could not be unpacked ({error}).") from None


def _fetch(url: str, md5: str, cache_dir: Path | None) -> Path:
    try:
        return Path(
            keras.utils.get_file(
                Path(url).name,
                url,
                file_hash=md5,
                cache_subdir="datasets",
                cache_dir=str(cache_dir) if cache_dir else None,
            )
        )
    except Exception as error:  # Keras raises a bare Exception for network and checksum failures
        reason = one_line(error, 200)
        raise DownloadError(
            f"Could not download {url} (no internet, or a bad copy?): {reason}"
        ) from None


def _lay_out(
    extracted: Path, dest: Path, source: Source, validation_fraction: float, seed: int
) -> dict:
    groups: dict[str, list[Path]] = {"cats": [], "dogs": []}
    dropped = []
    for path in sorted(extracted.rglob("*.jpg")):
        problem = (
            "known broken in this set" if path.stem in source.known_bad else _unreadable(path)
        )
        if problem:
            dropped.append(f"{path.name}: {problem}")
            continue
        groups["cats" if path.name[0].isupper() else "dogs"].append(path)
    if not all(groups.values()):
        raise DownloadError(
            "The archive holds no cat or no dog photos in the Oxford-IIIT Pet naming."
        )
    rng = random.Random(seed)
    counts: dict = {"train": {}, "validation": {}, "dropped": dropped}
    for name, paths in groups.items():
        train, validation = hold_out(paths, validation_fraction, rng)
        for split, chosen in (("validation", validation), ("train", train)):
            folder = dest / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for path in chosen:
                shutil.move(path, folder / path.name)
            counts[split][name] = len(chosen)
    return counts


def _unreadable(path: Path) -> str | None:
    if path.stat().st_size == 0:
        return "zero bytes"
    try:
        load_image(path)
    except ImageError as error:
        return str(error)
    return None
