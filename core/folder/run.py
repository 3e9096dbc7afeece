"""The folder worker's body: the photos not yet explained, batch by batch, and its progress.

Each batch's predictions and raw maps go to batch_<first>.npz (written whole, then renamed), so
what a stopped or killed run did is kept and a later start does only the rest.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.atomic import replacing
from core.config import settings
from core.folder.jobs import BATCH, BATCH_SIZE, FolderJob, done_indices, read_job, stop_asked
from core.workers import records
from core.workers.process import run_in_background
from core.workers.records import FolderProgress


def work(folder: Path, background: bool = True, batch_size: int = BATCH_SIZE) -> FolderProgress:
    """Explain the job's photos not yet explained, batch by batch; returns the last progress.

    `background` (the worker): the lower priority of a training run's worker
    (core.workers.process.run_in_background), but every core: on a 2-core CPU one core would double
    the run's time, and the app's own requests, at normal priority, take a core back at once
    (benchmarks/bench_folder.py times the Explain page's slider while a folder runs). The state
    ends done, stopped (a stop request) or failed (no model), with a message.
    """
    if background:
        run_in_background(os.cpu_count() or 1)
    folder, job = Path(folder), read_job(folder)
    done = done_indices(folder)
    todo = [i for i in range(len(job.photos)) if i not in done]
    progress = Progress(folder, len(job.photos), len(done))
    explainer = _explainer(job, batch_size)
    if isinstance(explainer, str):
        return progress.finish("failed", explainer)
    for first in range(0, len(todo), batch_size):
        if stop_asked(folder):
            return progress.finish("stopped", "Stopped: the photos explained so far are kept.")
        indices = todo[first : first + batch_size]
        started = time.perf_counter()
        skipped = explain_batch(folder, job, explainer, indices, batch_size)
        progress.update(len(indices), len(skipped), time.perf_counter() - started)
    return progress.finish("done", f"Done: {progress.record.total:,} photos.")


def _explainer(job: FolderJob, batch_size: int):
    """The job's model, loaded in this process and traced for a full batch; or the one line why
    there is none."""
    from core.explain.display import load_app_model
    from core.explain.explainer import Explainer

    path = Path(job.model_path) if job.model_path else None
    loaded = load_app_model(settings(), path, zero_shot=path is None)
    if loaded.error:
        return loaded.error
    explainer, classifier = loaded.explainer, loaded.explainer.classifier
    if not job.every_layer:
        explainer = Explainer(classifier, [classifier.default_layer])
    # Tracing the graphs for a batch's shape takes seconds: once here, before the clock runs.
    blank = np.zeros((*classifier.info.size, 3), np.uint8)
    explainer.explain([blank] * batch_size, job.target, job.method)
    return explainer


def explain_batch(
    folder: Path, job: FolderJob, explainer, indices: list[int], batch_size: int = BATCH_SIZE
) -> list[int]:
    """Explain these photos, write their batch file; returns the indices of unreadable ones.

    A short batch (the last, or one with unreadable photos) is padded to `batch_size` with its
    last photo: a new batch shape would trace the graphs again, which costs more than the padding.
    """
    from core.images import ImageError, photo_for_model

    photos, kept, skipped = [], [], []
    for index in indices:
        try:
            # Prepared as every route prepares it: the run's report and this table agree.
            photos.append(photo_for_model(Path(job.folder) / job.photos[index]))
            kept.append(index)
        except ImageError:
            skipped.append(index)
    padding = [photos[-1]] * (batch_size - len(photos)) if photos else []
    found = explainer.explain(photos + padding, job.target, job.method)[: len(photos)]
    names = explainer.class_names
    arrays = {
        "index": np.asarray(kept, dtype=np.int64),
        "skipped": np.asarray(skipped, dtype=np.int64),
        "class_names": np.asarray(names),
        "probabilities": np.asarray(
            [[e.probabilities[n] for n in names] for e in found], np.float32
        ).reshape(len(found), len(names)),
    }
    for layer in found[0].raw_maps if found else ():
        arrays[f"map:{layer}"] = np.stack([e.raw_maps[layer] for e in found]).astype(np.float32)
    with replacing(folder / f"{BATCH}{indices[0]:06d}.npz") as temporary:
        np.savez(temporary, **arrays)
    return skipped


class Progress:
    """A folder run's progress.json, its one writer: a FolderProgress (photos done of total,
    skipped, seconds explaining, ETA) rewritten after each batch."""

    def __init__(self, folder: Path, total: int, done: int):
        self.folder, self.seconds, self.explained = Path(folder), 0.0, 0
        self.record = FolderProgress(
            state="running", pid=os.getpid(), started_at=time.time(), done=done, total=total
        )
        self.update(0, 0, 0.0)

    def update(self, photos: int, skipped: int, seconds: float) -> None:
        self.explained += photos
        self.seconds += seconds
        per_photo = self.seconds / self.explained if self.explained else None
        done, total = self.record.done + photos, self.record.total
        self.record = replace(
            self.record,
            done=done,
            skipped=self.record.skipped + skipped,
            fraction=done / max(total, 1),
            seconds_per_photo=per_photo,
            eta_seconds=per_photo * (total - done) if per_photo else None,
            updated_at=time.time(),
        )
        records.write(self.folder, self.record)

    def finish(self, state: str, message: str) -> FolderProgress:
        self.record = replace(self.record, state=state, message=message, finished_at=time.time())
        records.write(self.folder, self.record)
        return self.record
