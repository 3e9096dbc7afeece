"""What a worker tells its page: one typed record per kind of job, kept in FOLDER/progress.json.

A training run's worker writes a TrainingProgress (core/training/progress.py's RunMonitor), a
folder run's a FolderProgress (core/folder/run.py); the pages and the CLI read them back here, as
the same records. The JSON keeps the keys earlier versions wrote, and `from_json` reads the files
they left on disk: a key it does not know is ignored, one it misses takes its default.

`running` is never written: a worker killed at any moment (kill -9) cannot say it stopped, so a
reader works it out each time, from the worker's pid (`status`) or from the training lease.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TypeVar

from core.atomic import read_json, write_json
from core.workers.process import alive

PROGRESS = "progress.json"
# States in which a worker may still be going; any other state is its outcome.
ACTIVE = ("starting", "running")


@dataclass
class Record:
    """The fields two kinds share, and how either is written to JSON and read back."""

    state: str = "starting"  # starting, running; then done, stopped, failed (or killed)
    pid: int | None = None  # the worker's process, on the host that runs it
    started_at: float | None = None  # time.time() when the worker began
    message: str | None = None  # the outcome in one sentence, once there is one
    fraction: float = 0.0  # of the whole job, 0 to 1
    eta_seconds: float | None = None  # time left; None while too early to say
    updated_at: float | None = None  # the last rewrite's time.time()
    finished_at: float | None = None  # when the outcome was written
    running: bool = False  # its worker lives now: worked out by the reader, never written

    @classmethod
    def from_json(cls, fields: dict) -> Self:
        """The record of a progress.json of this version or an earlier one."""
        known = {each.name for each in dataclasses.fields(cls)} - {"running"}
        return cls(**{key: value for key, value in fields.items() if key in known})

    def to_json(self) -> dict:
        fields = dataclasses.asdict(self)
        del fields["running"]
        return fields

    def seen(self, running: bool) -> Self:
        """This record as a reader sees it: `running` set, and an active state whose worker is
        gone turned into what this kind of job calls it."""
        if running or self.state not in ACTIVE:
            return dataclasses.replace(self, running=running)
        return dataclasses.replace(self, running=False, **self.ended())

    def ended(self) -> dict:
        return {"state": "stopped"}


@dataclass
class TrainingProgress(Record):
    """A training run's progress.json: its phase, epoch, history, ETA and at the end its report."""

    run_dir: str | None = None  # the run folder
    data: str | None = None  # the dataset, resolved
    config: dict = field(default_factory=dict)  # the run's TrainConfig, as a dict
    summary: str | None = None  # the data's counts in one line, once scanned
    skipped: list = field(default_factory=list)  # [path, reason] of each unreadable photo
    held_out: bool | None = None  # a share of train held out for validation (no such split)
    phase: str = ""  # "features", "head" or "fine-tune"; "" before the first
    epoch: int = 0  # within the phase, from 1
    epochs: int = 0
    step: int = 0  # within the epoch (the features phase: photos)
    steps: int = 0
    elapsed: float | None = None  # seconds since the start
    # Phase -> metric -> one value per epoch: {"head": {"loss": [...], "val_loss": [...]}}.
    history: dict = field(default_factory=dict)
    report: dict | None = None  # core/training/report.py's figures, once done
    published: bool | None = None  # whether it became the current model; None before the end

    def ended(self) -> dict:
        return {
            "state": "killed",
            "message": "The run's process ended without finishing; the previous model is in use.",
        }


@dataclass
class FolderProgress(Record):
    """A folder run's progress.json: photos done of total, skipped, seconds a photo, ETA."""

    done: int = 0  # photos explained or skipped, this start and earlier ones
    total: int = 0  # photos of the job
    skipped: int = 0  # photos unreadable, this start
    seconds_per_photo: float | None = None  # explaining alone, this start; None before a batch


AnyProgress = TypeVar("AnyProgress", bound=Record)


def read(folder: Path, kind: type[AnyProgress]) -> AnyProgress | None:
    """FOLDER/progress.json as `kind`, as written (not running); None if missing or unreadable."""
    fields = read_json(Path(folder) / PROGRESS)
    return kind.from_json(fields) if isinstance(fields, dict) else None


def write(folder: Path, record: Record) -> None:
    """The record as FOLDER/progress.json, replaced whole (core/atomic.py)."""
    write_json(Path(folder) / PROGRESS, record.to_json())


def status(folder: Path, kind: type[AnyProgress]) -> AnyProgress | None:
    """FOLDER/progress.json with `running` from its pid: an active job whose worker is gone on
    this host reads as ended (its kind says how); None before any start."""
    record = read(folder, kind)
    if record is None:
        return None
    return record.seen(record.state in ACTIVE and alive(record.pid))
