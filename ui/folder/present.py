"""What the Folder screen says, worked out without drawing (no Streamlit): the folders offered,
a run's progress line, a photo's caption, which model made a job, a strategy in a line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.config import Config
from core.data import choices
from core.explain.strategies import Strategy, where
from core.folder import jobs
from core.models.catalog import ModelEntry
from core.workers.records import FolderProgress


def folders(config: Config) -> list[Path]:
    """The folders offered: each dataset's validation, test and train splits (by any of their
    usual names: valid/, test_set/...), a dataset of class folders alone (PetImages/) as a whole,
    and the operator's choice."""
    splits = []
    for path in choices.datasets(config.data_roots):
        found = [choices.split_folder(path, split) for split in ("validation", "test", "train")]
        splits += [folder for folder in found if folder is not None] or [path]
    configured = choices.validation_folders((), config.validation_dir)
    return list(dict.fromkeys([*configured, *splits]))


def progress_line(progress: FolderProgress, stopping: bool = False) -> str:
    """E.g. "120/200 photos · 0.11 s a photo · ETA 9 s"; before its first batch, what it waits for.

    `stopping`: a Stop was asked for, which the worker obeys after its batch.
    """
    if not progress.done and not stopping:
        photos = f" for {progress.total:,} photos" if progress.total else ""
        return f"Starting{photos}: the worker loads TensorFlow and the model (20 s on 2 cores)…"
    parts = [f"{progress.done:,}/{progress.total:,} photos"]
    if stopping:
        parts.insert(0, "Stopping after this batch (what it did is kept)")
    if each := progress.seconds_per_photo:
        parts.append(f"{each:.2f} s a photo")
    if (eta := progress.eta_seconds) is not None:
        parts.append(f"ETA {eta:.0f} s")
    return " · ".join(parts)


def caption(row: pd.Series) -> str:
    """E.g. "cats/cat_003.png · dog 81% · wrong (cat)"."""
    verdict = ""
    if row["right"] is not None:
        verdict = " · right" if row["right"] else f" · wrong ({row['true']})"
    return f"{row['photo']} · {row['predicted']} {row['confidence']:.0%}{verdict}"


def job_entry(job: jobs.FolderJob, entries: list[ModelEntry]) -> ModelEntry | None:
    """The model a job was made with, among those listed; None when it is gone."""
    return next((e for e in entries if (str(e.path) if e.path else None) == job.model_path), None)


def provenance(job: jobs.FolderJob, entries: list[ModelEntry], config: Config) -> str:
    """E.g. "Results of **Run 2026-01-01 09:00** on **data/pets/validation**, Grad-CAM."."""
    made_with = job_entry(job, entries)
    model = made_with.named if made_with else "a model no longer listed"
    made_on = Path(job.folder)
    folder = (
        "photos uploaded here"
        if uploaded(job, config)
        else choices.label(made_on, config.data_roots)
    )
    return f"Results of **{model}** on **{folder}**, {job.method}."


def uploaded(job: jobs.FolderJob, config: Config) -> bool:
    """Whether the job's photos were uploaded (kept in the Folder page's cache)."""
    return Path(job.folder).is_relative_to(Path(config.folder_cache_dir).resolve())


def strategy_line(strategy: Strategy) -> str:
    """E.g. "30 photos · accuracy 100% · evidence at the top left · peaks within 2% of the
    frame"."""
    accuracy = "" if strategy.accuracy is None else f" · accuracy {strategy.accuracy:.0%}"
    return (
        f"{strategy.size:,} photo{'s' * (strategy.size != 1)}{accuracy} · evidence at "
        f"{where(strategy.peak)} · peaks within {strategy.spread:.0%} of the frame"
    )


def check_sentence(result: dict) -> str:
    """What hiding a strategy's region did, e.g. "Hidden by blur: 28 of 30 flip, 1 loses
    confidence: 97% of this strategy leans on that region."""
    weaker = result["weaker"]
    return (
        f"Hidden by {result['hidden']}: {result['flipped']} of {result['photos']} flip, {weaker} "
        f"lose{'s' * (weaker == 1)} confidence: {result['share']:.0%} of this strategy leans on "
        "that region."
    )
