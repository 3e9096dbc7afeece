"""Whether a finished run becomes the current model: only when it is better on the same photos.

A run's report names its validation set (`validation_set`: the dataset, how many photos, and a
digest of their paths below it), so two runs are compared only on the same photos. A run replaces
the current model when there is none to compare with (no current run, or its report names no
validation set), when it is better on the same validation set (higher accuracy; at equal accuracy,
lower validation loss), or when the person asked for it ("always", or the Training page's button
afterwards). Otherwise it is kept beside the others, not current: the decision deletes nothing
(the usual pruning still keeps only the newest Config.keep_runs runs and the one in use).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import UserError
from core.training.store import in_use, publish
from core.workers import records
from core.workers.records import TrainingProgress


@dataclass(frozen=True)
class Decision:
    publish: bool
    why: str  # one sentence, for progress.json's message and the CLI


def validation_set(data, data_root: Path) -> dict:
    """{"data", "photos", "sha256"}: the dataset, how many validation photos, and which: each
    photo's path below the dataset and its size in bytes (two datasets whose files share names,
    or a dataset downloaded again with other photos, are told apart)."""
    root = Path(data_root).resolve()
    paths = [Path(path) for path in data.validation.paths]
    below = sorted(f"{_below(path, root)}\t{path.stat().st_size}" for path in paths)
    digest = hashlib.sha256("\n".join(below).encode()).hexdigest()
    return {"data": str(root), "photos": len(below), "sha256": digest}


def best_val_loss(history: dict) -> float | None:
    """The lowest validation loss of the run's last phase (its kept weights'), else None."""
    losses = history.get("val_loss") or []
    return float(min(losses)) if losses else None


def decide(figures: dict, weights_dir: Path, rule: str = "if-better") -> Decision:
    """Whether the run whose report is `figures` becomes current under `rule`, and why."""
    current = in_use(weights_dir)
    theirs = _report(current) if current else None
    if rule == "always":
        return Decision(True, "It is now the current model, as asked.")
    if not theirs or "validation_set" not in theirs:
        return Decision(True, "It is now the current model (none to compare it with).")
    mine, other = figures["validation_set"], theirs["validation_set"]
    if mine["sha256"] != other["sha256"]:
        return Decision(
            False,
            f"Not made current: the current model (run {current.name}) was measured on other "
            f"photos ({_named(other)}; this run: {_named(mine)}), so the two cannot be compared; "
            "make it current on the Training page, or train with --publish always.",
        )
    if _better(figures, theirs):
        return Decision(
            True,
            f"It is now the current model: better than run {current.name} "
            f"({theirs['accuracy']:.1%}) on the same validation photos.",
        )
    return Decision(
        False,
        f"Not made current: run {current.name} does as well or better on the same validation "
        f"photos ({theirs['accuracy']:.1%}); make it current on the Training page if you prefer "
        "it.",
    )


def make_current(run_dir: Path, weights_dir: Path) -> None:
    """A finished run made the current model at a person's request; its record says so."""
    progress = records.read(run_dir, TrainingProgress)
    if not progress or progress.state != "done" or not (Path(run_dir) / "model.keras").is_file():
        raise UserError(f"Run {Path(run_dir).name} has no finished model to make current.")
    publish(run_dir, weights_dir)
    accuracy = (progress.report or {}).get("accuracy")
    figures = f": validation accuracy {accuracy:.1%}" if accuracy is not None else ""
    message = f"Done{figures}. Made the current model at your request."
    records.write(run_dir, replace(progress, published=True, message=message))


def comparison(run_dir: Path, weights_dir: Path) -> list[dict]:
    """This run's figures and the current model's, each with the photos it was measured on."""
    rows = []
    current = in_use(weights_dir)
    for name, folder in (("this run", Path(run_dir)), ("current model", current)):
        report = _report(folder) if folder else None
        if not report or (name == "current model" and folder == Path(run_dir).resolve()):
            continue
        measured = report.get("validation_set")
        rows.append(
            {
                "model": f"{name} ({folder.name})",
                "validation accuracy": report["accuracy"],
                "validation loss": report.get("val_loss"),
                "measured on": _named(measured) if measured else "not recorded",
            }
        )
    return rows


def _better(mine: dict, theirs: dict) -> bool:
    """Higher accuracy; at equal accuracy, a lower validation loss."""
    if mine["accuracy"] != theirs["accuracy"]:
        return mine["accuracy"] > theirs["accuracy"]
    loss, their_loss = mine.get("val_loss"), theirs.get("val_loss")
    return loss is not None and their_loss is not None and loss < their_loss


def _report(run_dir: Path) -> dict | None:
    progress = records.read(run_dir, TrainingProgress)
    return progress.report if progress else None


def _named(validation: dict) -> str:
    return f"{validation['photos']:,} photos of {Path(validation['data']).name}"


def _below(path: Path, root: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(path)
