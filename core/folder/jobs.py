"""A folder run as a job: its folder (named by what it computes), the worker, progress and stop.

The job folder holds job.json (what to compute), progress.json (a FolderProgress, read and written
by core/workers/records.py), the `stop` request (core/workers/process.py), the worker's
folder.log and one batch_<first>.npz per batch of photos explained. Nothing is ever half written
under its final name (core/atomic.py), so a killed worker leaves whole batches that a later start
keeps.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core import space
from core.atomic import read_json, replacing, write_json
from core.config import PREDICTED_TARGET
from core.data.choices import images_in, label
from core.errors import UserError, writing
from core.workers import records
from core.workers.process import clear_stop, launch, request_stop, stop_request
from core.workers.records import FolderProgress

JOB, LOG, BATCH = "job.json", "folder.log", "batch_"
UPLOADS = "uploads"  # Config.folder_cache_dir/uploads/<digest>/: photos a visitor sent at once
BATCH_SIZE = 16  # photos per model call: a batched explanation costs less per photo than one
DEPTH = 2  # a folder's photos and those one level down: validation/<class>/<photo>
MAX_PHOTOS = 10_000  # photos one folder may hold at most, whoever asks


class FolderError(UserError):
    """A folder that cannot be explained: outside the roots, empty, too many photos, busy."""


@dataclass(frozen=True)
class FolderJob:
    """What a folder run computes: these photos of `folder` through one model, method, target."""

    folder: str  # the folder explained, resolved
    photos: tuple[str, ...]  # its photos' paths relative to it, sorted
    model_path: str | None  # the model's .keras file; None: zero-shot ImageNet, built
    model_key: str  # core.models.catalog.model_key (file, modification times, SHA-256)
    method: str = "Grad-CAM"
    target: str = PREDICTED_TARGET
    # The maps kept: the model's default layer only (a backward pass through its last stage, so
    # about a forward pass a photo), or every offered layer and their fusion (back to the first
    # stage: twice that). Opening one photo on the page explains it at every layer anyway.
    every_layer: bool = False

    def key(self) -> str:
        """16 hex digits naming the results: the model, every photo's path, size and mtime,
        the method, the target and the layers kept. Any of them changing gives another key."""
        stamps = []
        for name in self.photos:
            stat = (Path(self.folder) / name).stat()
            stamps.append((name, stat.st_size, stat.st_mtime_ns))
        what = [self.model_key, stamps, self.method, self.target, self.every_layer]
        return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]


def photos_in(folder: Path, roots: tuple[Path, ...], cache: Path, limit: int | None) -> list[str]:
    """The photos of a folder under `roots` (or an upload under `cache`), relative, sorted.

    Raises FolderError, one line naming the folder below its root: outside the roots, no photos,
    more than `limit` (public mode's Config.folder_max_photos; None: MAX_PHOTOS only).
    """
    folder = Path(folder).resolve()
    allowed = [Path(root).resolve() for root in (*roots, Path(cache) / UPLOADS)]
    shown = label(folder, tuple(allowed))
    if not any(folder.is_relative_to(root) for root in allowed):
        raise FolderError(
            f"The folder {shown} is not under the data roots: choose one from the list."
        )
    found = images_in(folder, DEPTH, max_entries=4 * MAX_PHOTOS, seconds=5.0)
    if not found:
        raise FolderError(f"The folder {shown} holds no photos (JPEG, PNG, WebP, BMP).")
    most = min(limit or MAX_PHOTOS, MAX_PHOTOS)
    if len(found) > most:
        raise FolderError(
            f"The folder {shown} holds {len(found):,} photos; one request may explain at most "
            f"{most:,}: choose a smaller folder or upload up to {most:,} photos."
        )
    return [str(path.relative_to(folder)) for path in found]


def keep_uploads(files: list[tuple[str, bytes]], cache: Path) -> Path:
    """Uploaded photos (name, bytes) in a folder of their own under `cache`/uploads, named by
    their contents, so the same photos sent again are the same folder (and its results)."""
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    folder = Path(cache) / UPLOADS / digest.hexdigest()[:16]
    space.require_free(cache, "the uploaded photos", needed=sum(len(data) for _, data in files))
    with writing("keeping the uploaded photos"):
        folder.mkdir(parents=True, exist_ok=True)
        for number, (name, data) in enumerate(files):
            # The visitor's name kept readable, never a path: letters, digits, '.', '_', '-'.
            safe = re.sub(r"[^\w.-]", "_", Path(name).name)[-80:]
            path = folder / f"{number:04d}_{safe}"
            if not path.exists():
                with replacing(path) as temporary:
                    temporary.write_bytes(data)
    return folder


def job_dir(job: FolderJob, cache: Path) -> Path:
    return Path(cache) / job.key()


def clear(cache: Path) -> int:
    """Delete the results of every folder run not going on now, and the kept uploads unless a run
    goes on; returns how many runs' results went. Raises StorageError when the disk refuses."""
    found = sorted(Path(cache).iterdir()) if Path(cache).is_dir() else []
    runs = [path for path in found if path.is_dir() and path.name != UPLOADS]
    going = [path for path in runs if (progress := status(path)) and progress.running]
    doomed = [path for path in runs if path not in going]
    if not going and (Path(cache) / UPLOADS).is_dir():
        doomed.append(Path(cache) / UPLOADS)
    with writing("deleting the folder runs' results"):
        for path in doomed:
            shutil.rmtree(path)
    return len(runs) - len(going)


def running_jobs(cache: Path) -> int:
    """How many folder runs under `cache` have a live worker now."""
    found = Path(cache).iterdir() if Path(cache).is_dir() else ()
    return sum(1 for path in found if (progress := status(path)) and progress.running)


def start(job: FolderJob, cache: Path, max_running: int | None = None) -> Path:
    """The job's folder, its worker started unless its results are complete or it is running.

    A stopped or killed job resumes: its batches are kept and only the other photos explained.
    Raises FolderError when `max_running` runs are already going on this server (every session's
    counts), StorageError when the disk is below Config.min_free_mb or the folder cannot be
    written.
    """
    folder = job_dir(job, cache)
    progress = status(folder)
    if progress and (progress.state == "done" or progress.running):
        return folder
    if max_running is not None and running_jobs(cache) >= max_running:
        raise FolderError(
            f"{max_running} folder run(s) are going on this server, the most it runs at once: "
            "start again when one ends."
        )
    space.require_free(cache, "a folder run")
    with writing("starting the folder run"):
        folder.mkdir(parents=True, exist_ok=True)
        clear_stop(folder)
        write_json(folder / JOB, asdict(job))
        records.write(folder, FolderProgress(state="starting", pid=_launch(folder).pid))
    return folder


def _launch(folder: Path) -> subprocess.Popen:
    """`python -m core.folder.worker JOB_DIR`, its output in folder.log."""
    return launch("core.folder.worker", folder, LOG)


def stop(folder: Path) -> None:
    """Ask the job's worker to stop after its current batch (its batches are kept)."""
    request_stop(folder, keep=True)


def stop_asked(folder: Path) -> bool:
    """Whether `stop` was asked for and the worker has not yet obeyed (a start clears it)."""
    return stop_request(folder) is not None


def status(folder: Path) -> FolderProgress | None:
    """The job's progress, `running` while its worker lives; None before any start.

    A "running" job whose process is gone reads "stopped": a later start resumes it.
    """
    return records.status(folder, FolderProgress)


def read_job(folder: Path) -> FolderJob:
    record = read_json(Path(folder) / JOB)
    return FolderJob(**{**record, "photos": tuple(record["photos"])})


def batches(folder: Path) -> list[Path]:
    """The job's batch files, in the photos' order."""
    return sorted(Path(folder).glob(f"{BATCH}*.npz"))


def done_indices(folder: Path) -> set[int]:
    """The photos (indices into FolderJob.photos) explained or skipped so far."""
    done = set()
    for path in batches(folder):
        with np.load(path) as batch:
            done.update(batch["index"].tolist(), batch["skipped"].tolist())
    return done
