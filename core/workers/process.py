"""A background worker's process: its launch, its priority, whether it lives, its stop request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.config import ROOT
from core.errors import writing

# Written by a page to ask a worker to stop ("keep" or "discard"); read after each batch.
STOP = "stop"


def launch(module: str, folder: Path, log: str) -> subprocess.Popen:
    """`python -m MODULE FOLDER` in a session of its own (a page rerun or a closed tab does not
    end it), its output in FOLDER/`log`."""
    with open(Path(folder) / log, "w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", module, str(folder)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def run_in_background(threads: int, niceness: int = 10) -> None:
    """A page-started worker yields to the app: lower CPU priority, TensorFlow in `threads`.

    Call before the first TensorFlow op (thread counts are fixed once its runtime starts).
    tf.data's own decoding threads are not bounded, but they run at the same lowered priority. The
    worker leads its own session, and Linux schedules each session as one group ("autogroup") whose
    share nice() does not touch: the group's own nice value is lowered too, where the kernel has
    one.
    """
    import tensorflow as tf  # here: the page that launches a worker never loads TensorFlow

    os.nice(niceness)
    try:
        Path("/proc/self/autogroup").write_text(str(niceness))
    except OSError:
        pass  # no autogroups here (another OS, or a kernel without them): nice() alone rules
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def alive(pid: int | None) -> bool:
    """Whether process `pid` runs on this host: not gone, not a zombie, not another user's.

    Another user's process under that number means ours ended and the number was reused.
    """
    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap our own finished worker, so it reads as ended
    except (ChildProcessError, OSError):
        pass  # another process's child: the signal below tells
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OverflowError):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc here: the signal said it lives


def request_stop(folder: Path, keep: bool = True) -> None:
    """Ask a worker to end cleanly after its current batch, keeping what it made or not."""
    with writing("asking the run to stop"):
        (Path(folder) / STOP).write_text("keep" if keep else "discard")


def stop_request(folder: Path) -> str | None:
    """None, or "keep" / "discard": what a page asked of the worker, until a start clears it."""
    path = Path(folder) / STOP
    try:
        return path.read_text().strip() or "keep"
    except FileNotFoundError:
        return None


def clear_stop(folder: Path) -> None:
    """Forget an earlier stop request, before a worker starts again in `folder`."""
    (Path(folder) / STOP).unlink(missing_ok=True)
