"""Oxford-IIIT Pet: fetch it, check every photo, lay it out as train/ and validation/.

One download, two layouts: by species (cats/, dogs/) or by breed (37 folders; core/data/
pet_layout.py). The Training page's download and `python -m core download-data` both call
`download_pets`; the second layout is made from the first's photos without downloading again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core import space
from core.config import Config, settings
from core.data.classes import counted
from core.data.pet_layout import (
    LAYOUTS,
    is_download,
    laid_out_photos,
    lay_out,
    link,
    marked,
    move_into_place,
    read_list,
    split_by_breed,
)
from core.errors import StorageError, UserError, writing
from core.images import readable

# Where the page's download goes, under the first data root (one folder per layout).
PETS_FOLDER = LAYOUTS["species"]
# Files Oxford-IIIT Pet is known to ship broken (wrong content under .jpg, or unreadable).
KNOWN_BAD = frozenset(
    {
        "Egyptian_Mau_129",
        "Egyptian_Mau_186",
        "Abyssinian_5",
        "staffordshire_bull_terrier_2",
        "staffordshire_bull_terrier_22",
    }
)


@dataclass(frozen=True)
class Source:
    """Where the images archive and the annotations archive come from (`source_from`: Config's)."""

    url: str
    md5: str
    # Files dropped by name.
    known_bad: frozenset[str] = KNOWN_BAD
    # The trimaps (every photo) and head boxes (trainval photos), kept as DEST/annotations/; "" =
    # none.
    annotations_url: str = ""
    annotations_md5: str = ""


class DownloadError(UserError):
    """A download or archive that could not be used; the message is one line meant for the user."""


def source_from(config: Config | None = None) -> Source:
    """Oxford-IIIT Pet from Config.pets_url and pets_md5: its server, a mirror or a test server."""
    config = config or settings()
    images_md5, annotations_md5 = (config.pets_md5.split(",") + [""])[:2]
    base = config.pets_url.rstrip("/") + "/"
    return Source(
        url=base + "images.tar.gz",
        md5=images_md5.strip(),
        annotations_url=base + "annotations.tar.gz" if annotations_md5.strip() else "",
        annotations_md5=annotations_md5.strip(),
    )


def download_pets(
    dest: Path,
    source: Source | None = None,
    validation_fraction: float = 0.2,
    seed: int = 1337,
    cache_dir: Path | None = None,
    progress=None,
    layout: str = "species",
    reuse: Path | None = None,
) -> dict:
    """Download, check, and write dest/{train,validation}/<class>/ and dest/annotations/.

    `layout` "species" makes cats/ and dogs/, "breeds" one folder per breed (core/data/
    pet_layout.py). When `reuse` holds an earlier download (`is_download`), its photos are laid
    out again and nothing is fetched. Else the archives are cached and checksum-verified; broken
    files are dropped and counted. Returns counts: {"train": {...}, "validation": {...},
    "dropped": [...], "reused": bool}. `progress(step, done, total)` hears each step: the
    archives' bytes, then the photos. Everything is built in a hidden folder in `dest` and moved
    into place at the end, so an interrupted download leaves no half dataset behind.
    """
    dest, source = Path(dest), source or source_from()
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, not {layout!r}")
    if (dest / "train").exists():
        raise DownloadError(f"{dest / 'train'} already exists; choose another place or remove it.")
    # Below the free-space floor, refused before a byte is fetched (the archives are ~800 MB).
    space.require_free(dest, "downloading Oxford-IIIT Pet")

    def hear(step):
        return (lambda done, total: progress(step, done, total)) if progress else None

    if reuse is not None and is_download(reuse):
        return _lay_out_again(Path(reuse), dest, layout, hear("laying out photos"))
    archive = fetch(source.url, source.md5, cache_dir, hear(Path(source.url).name))
    annotations = None
    if source.annotations_url:
        name = Path(source.annotations_url).name
        annotations = fetch(source.annotations_url, source.annotations_md5, cache_dir, hear(name))
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as staging:
        staging = Path(staging)
        if annotations:
            _unpack(annotations, staging)
            if not (staging / "annotations" / "trimaps").is_dir():
                raise DownloadError(
                    f"The archive {annotations} holds no annotations/trimaps/ folder."
                )
        listed = read_list(staging / "annotations" / "list.txt")
        with tempfile.TemporaryDirectory() as scratch:
            _unpack(archive, Path(scratch))
            photos, dropped = _checked_photos(Path(scratch), source, hear("checking photos"))
            placed = split_by_breed(photos, listed, layout, validation_fraction, seed)
            counts = lay_out(_two_classes(placed, layout), staging, shutil.move)
        move_into_place(staging, dest, layout, dropped)
    return counts | {"dropped": dropped, "reused": False}


def summary(counts: dict, where: str) -> str:
    """`download_pets`'s counts as one sentence, naming the dataset `where` (no server path)."""
    splits = counted({split: counts[split] for split in ("train", "validation")}, ", ", "; ")
    if counts.get("reused"):
        return f"Oxford-IIIT Pet is in {where}: {splits}; laid out from the earlier download."
    dropped = len(counts["dropped"])
    return f"Oxford-IIIT Pet is in {where}: {splits}; {dropped} broken file(s) dropped."


def _lay_out_again(earlier: Path, dest: Path, layout: str, heard) -> dict:
    """`layout` made from an earlier download's photos and annotations, hard-linked."""
    placed = _two_classes(laid_out_photos(earlier, layout), layout)
    dropped = marked(earlier).get("dropped", [])
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as staging:
        staging = Path(staging)
        with writing("laying out Oxford-IIIT Pet"):
            if (earlier / "annotations").is_dir():
                shutil.copytree(
                    earlier / "annotations", staging / "annotations", copy_function=link
                )
            counts = lay_out(placed, staging, link, heard)
        move_into_place(staging, dest, layout, dropped)
    return counts | {"dropped": dropped, "reused": True}


def _two_classes(placed: list, layout: str) -> list:
    if len({name for _, name, _ in placed}) < 2:
        kind = "no cat or no dog photos" if layout == "species" else "fewer than two breeds"
        raise DownloadError(f"The archive holds {kind} in the Oxford-IIIT Pet naming.")
    return placed


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            # The "data" filter: no absolute paths, links or ".." out of the folder.
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise DownloadError(f"The archive {archive} could not be unpacked ({error}).") from None


def fetch(url: str, md5: str, cache_dir: Path | None = None, progress=None) -> Path:
    """The file at `url`, downloaded once into the cache and checked against `md5`.

    The cache is ~/.keras/datasets, where keras.utils.get_file keeps it. `progress(done_bytes,
    total_bytes or None)` hears every MB: keras.utils.get_file has no such hook, and the page shows
    it. A half-downloaded file never takes the final name.
    """
    folder = (
        Path(cache_dir or Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))) / "datasets"
    )
    path = folder / Path(urllib.parse.urlparse(url).path).name
    if path.is_file() and _md5(path) == md5:
        return path
    with writing(f"saving {path.name}"):
        folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            _save(response, partial, f"saving {path.name}", digest, progress)
    except StorageError:
        # This machine's disk refused (full, no permission): not the network's fault.
        partial.unlink(missing_ok=True)
        raise
    # URLError, timeouts and refused connections are OSErrors.
    except (OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"Could not download {url}: {why_not_downloaded(error)}. Connect this machine to "
            "the internet, or point CATDOG_PETS_URL at a copy it can reach."
        ) from None
    except BaseException:  # a page rerun or Ctrl-C: nothing half-written is left behind
        partial.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != md5:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url} arrived damaged (MD5 {digest.hexdigest()}, expected {md5}).")
    os.replace(partial, path)
    return path


def why_not_downloaded(error: Exception) -> str:
    """What a failed download met, in words, not urllib's "<urlopen error [Errno 111] ...>"."""
    reason = getattr(error, "reason", error)  # a URLError wraps the socket's error
    if isinstance(error, urllib.error.HTTPError):
        return f"the server answered {error.code} {error.reason}"
    if isinstance(reason, socket.gaierror):
        return "its server's name could not be looked up (no internet here?)"
    if isinstance(reason, ConnectionRefusedError):
        return "its server refused the connection"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "its server did not answer in time"
    if isinstance(error, ValueError):
        return "that is not a URL this app can download from"
    return "the network failed (no internet here?)"


def _save(response, partial: Path, what: str, digest, progress) -> None:
    """The response's bytes into `partial`, hashed; a local write error is a StorageError."""
    total, done = int(response.headers.get("Content-Length") or 0) or None, 0
    # Unbuffered: a full disk fails the write itself, not a later flush outside `writing`.
    with writing(what):
        out = open(partial, "wb", buffering=0)
    with out:
        while block := response.read(1 << 20):
            with writing(what):
                out.write(block)
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)


def _md5(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "md5").hexdigest()


def _checked_photos(extracted: Path, source: Source, checked) -> tuple[list[Path], list[str]]:
    """The archive's readable photos, and "name: why" for each one dropped."""
    kept, dropped = [], []
    photos = sorted(extracted.rglob("*.jpg"))
    for done, path in enumerate(photos, 1):
        problem = "known broken in this set" if path.stem in source.known_bad else readable(path)
        if checked and (done % 50 == 0 or done == len(photos)):
            checked(done, len(photos))
        if problem:
            dropped.append(f"{path.name}: {problem}")
        else:
            kept.append(path)
    return kept, dropped
