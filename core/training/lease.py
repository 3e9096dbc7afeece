"""One training run at a time, across processes and hosts: a lease in weights/train.lock.

The lease names its holder (host, pid) and a heartbeat time that the holder renews every
RENEW_SECONDS. It is reclaimed once its heartbeat is older than LEASE_SECONDS, or at once when its
holder is on this host and its process is gone (kill -9). Two app replicas sharing one weights
folder, on one host or several (a shared filesystem), so never run two trainings at once, and a
crashed holder never blocks them for long.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from core.atomic import read_json, write_json
from core.errors import StorageError, UserError, storage_sentence, writing
from core.workers import records
from core.workers.process import alive
from core.workers.records import TrainingProgress

LOCK = "train.lock"
LEASE_SECONDS = 60.0  # a heartbeat older than this: the holder is gone
RENEW_SECONDS = 10.0  # how often a holder renews its heartbeat


class Busy(UserError):
    """Another training run holds the lease; the message says since when and how far it is."""


def acquire_lock(weights_dir: Path, run_dir: Path, pid: int | None = None) -> None:
    """Create weights/train.lock atomically (O_EXCL), or raise Busy saying who holds it.

    A full disk or a refused permission is a StorageError, never a traceback; no half-written
    lease is left behind.
    """
    weights_dir, what = Path(weights_dir), "taking the training lease"
    with writing(what):
        weights_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            descriptor = os.open(weights_dir / LOCK, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = lock_holder(weights_dir)
            if holder:
                raise Busy(describe_holder(holder)) from None
            continue  # it was stale and is gone now
        except OSError as error:
            raise StorageError(storage_sentence(error, what)) from None
        try:
            with writing(what), os.fdopen(descriptor, "w") as file:
                json.dump(_holder(run_dir, pid), file)
        except StorageError:
            (weights_dir / LOCK).unlink(missing_ok=True)
            raise
        return
    raise Busy("Another run is starting right now; try again in a moment.")


def _holder(run_dir: Path, pid: int | None) -> dict:
    """What the lease says of its holder: host, process, since when, its heartbeat, its run."""
    now = time.time()
    return {
        "host": socket.gethostname(),
        "pid": pid or os.getpid(),
        "since": now,
        "heartbeat": now,
        "run_dir": str(run_dir),
    }


def _rewrite(weights_dir: Path, **changes) -> None:
    path = Path(weights_dir) / LOCK
    write_json(path, {**(read_json(path) or {}), **changes})


def hand_over(weights_dir: Path, pid: int) -> None:
    """The page took the lease; the worker process it started holds it from now on."""
    _rewrite(weights_dir, pid=pid, heartbeat=time.time())


def renew(weights_dir: Path) -> bool:
    """Push this process's heartbeat forward; False, writing nothing, if the lease is not ours."""
    holder = read_json(Path(weights_dir) / LOCK)
    if (
        not holder
        or holder.get("pid") != os.getpid()
        or holder.get("host") != socket.gethostname()
    ):
        return False
    _rewrite(weights_dir, heartbeat=time.time())
    return True


@contextlib.contextmanager
def kept_alive(weights_dir: Path, every: float = RENEW_SECONDS):
    """Renew this process's lease every `every` seconds while the block runs (a daemon thread)."""
    done = threading.Event()

    def beat():
        while not done.wait(every):
            renew(weights_dir)

    thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def release_lock(weights_dir: Path) -> None:
    (Path(weights_dir) / LOCK).unlink(missing_ok=True)


def lock_holder(weights_dir: Path, lease_seconds: float = LEASE_SECONDS) -> dict | None:
    """The lease while it is live; a stale one is removed.

    A lease is stale once its heartbeat has expired, or its process is gone from this host.
    """
    path = Path(weights_dir) / LOCK
    holder = read_json(path)
    if holder is None:
        if path.exists() and time.time() - path.stat().st_mtime < 10:
            return {"since": path.stat().st_mtime, "run_dir": None}  # being written right now
        path.unlink(missing_ok=True)
        return None
    expired = time.time() - holder.get("heartbeat", holder.get("since", 0)) > lease_seconds
    same_host = holder.get("host", socket.gethostname()) == socket.gethostname()
    gone = same_host and not alive(holder.get("pid", -1))
    if expired or gone:
        path.unlink(missing_ok=True)
        return None
    return holder


def describe_holder(holder: dict) -> str:
    since = time.strftime("%H:%M:%S", time.localtime(holder.get("since", time.time())))
    run_dir = holder.get("run_dir")
    progress = records.read(run_dir, TrainingProgress) if run_dir else None
    where = ""
    if progress and progress.phase:
        where = (
            f": {progress.phase}, epoch {progress.epoch}/{progress.epochs}, "
            f"{progress.fraction:.0%} done"
        )
    return f"A training run is already in progress (since {since}{where})."
