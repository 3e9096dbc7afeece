"""A batch job split over machines: `--shard I/N` of a sorted photo list, and the shards merged.

A folder too large for one machine runs as N tasks of one command, each given `--shard I/N`,
0-based (I = 0..N-1), the way a Kubernetes indexed Job numbers its pods (JOB_COMPLETION_INDEX)
and a Slurm array `--array=0-<N-1>` its tasks (SLURM_ARRAY_TASK_ID). Every task lists the same
photos, sorts them by their path below the folder given (`key`), and keeps every N-th one from
the I-th: photo k of the sorted list belongs to shard k mod N, so the N shards hold each photo
exactly once, whatever order the file system lists them in.

Why every N-th and not contiguous blocks: a sorted folder is grouped by class (cats/ then dogs/,
one breed after another), so a block would hand one shard one class; taken every N-th, each shard
is a sample of the whole folder, shards differ in size by one photo at most, and each shard's own
table is already a fair preview. The split does change when photos are added, so each shard file
records the length and digest of the list it was cut from, and `merge` refuses shards of
different lists (a folder that changed mid-job, a walk cut short).

Each task writes `<command>-shard-I-of-N.json` atomically (a file under that name is a finished
shard); `merge` checks that shards 0..N-1 are each there once, of one list and one setting, and
puts the records back in list order.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import NamedTuple

from core.atomic import write_json
from core.data.choices import images_in
from core.data.classes import DataError
from core.errors import SettingError, writing

PATTERN = "*-shard-*-of-*.json"  # the shard files `merge` reads in a folder
# What a shard file holds (`write_shard`); a file without one of them is refused.
FIELDS = ("command", "shard", "shards", "photos", "list_sha256", "settings", "records")
MAX_LISTED = 10_000_000  # folder entries one listing reads at most (a batch job's folder)
LIST_SECONDS = 900.0  # time one listing may take at most


@dataclass(frozen=True)
class Shard:
    """Shard `index` (0-based) of `count`: positions index, index + count, ... of the list."""

    index: int  # 0..count-1
    count: int  # N: the shards the list is split into

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'I/N' -> Shard(I, N); SettingError unless 0 <= I < N."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            index = count = -1
        if count < 1 or not 0 <= index < count:
            raise SettingError(
                f"--shard {text!r} is not I/N with 0 <= I < N: shards are numbered from 0 "
                "(e.g. --shard $JOB_COMPLETION_INDEX/8 for shards 0/8 to 7/8)."
            )
        return cls(index, count)

    def positions(self, total: int) -> range:
        """The positions in a sorted list of `total` items that belong to this shard."""
        return range(self.index, total, self.count)

    def file_name(self, command: str) -> str:
        """E.g. evaluate-shard-03-of-12.json: zero-padded, so a folder listing is in order."""
        width = len(str(self.count - 1))
        return f"{command}-shard-{self.index:0{width}d}-of-{self.count}.json"


class Listed(NamedTuple):
    """A photo to explain, and where it lies in the sorted list and under --out."""

    path: Path
    key: str  # sorted by: its path below the folder given (the same on every machine), or as given
    place: Path  # its outputs below --out, less "_overlay.png": the folder's layout kept


def listed_photos(arguments: list[Path], depth: int, given_order: bool = False) -> list[Listed]:
    """Photos and folders of photos (searched `depth` levels down), sorted by key.

    With `given_order`, arguments keep the order given (a folder's photos sorted among
    themselves). Each photo's `place` is distinct from every other's (`output_places`).
    """
    found = []  # (path, key, relative to what was asked, the path as given)
    for argument in arguments:
        if not argument.is_dir():
            found.append((argument, argument.as_posix(), Path(argument.name), argument))
            continue
        root, in_folder = argument.resolve(), []
        for path in images_in(argument, depth, max_entries=MAX_LISTED, seconds=LIST_SECONDS):
            below = path.relative_to(root)
            in_folder.append((path, below.as_posix(), below, argument / below))
        found += sorted(in_folder, key=lambda each: each[1])
    if not given_order:
        found.sort(key=lambda each: each[1])
    places = output_places([each[2] for each in found], [each[3] for each in found])
    return [Listed(path, key, place) for (path, key, _, _), place in zip(found, places)]


def output_places(relative: list[PurePath], given: list[PurePath] | None = None) -> list[Path]:
    """Where each photo's outputs go: its path relative to what was asked, less its extension.

    Two that would meet there (x.jpg beside x.png; X.jpg and x.png, one file on a disk that
    ignores case) keep their extension: x.jpg, x.png. Two that still meet (cat.jpg in two
    folders, or two cat.jpg given as files) take as many folders of their path as `given`
    (relative to the working directory, or absolute) as it takes to tell them apart; two whose
    folders cannot (../a/cat.jpg and a/cat.jpg) are numbered: a/cat, a/cat-2. One photo given
    twice keeps one place.
    """
    given = given or relative
    choices = [_places(path, rel) for path, rel in zip(given, relative)]
    chosen = [0] * len(relative)
    while clashing := [i for i in _clashing([c[k] for c, k in zip(choices, chosen)])]:
        movable = [i for i in clashing if chosen[i] + 1 < len(choices[i])]
        if not movable:  # all their folders, no extension, then numbered
            for i in clashing:
                chosen[i] = len(choices[i]) - 2
            break
        for i in movable:
            chosen[i] += 1
    return _numbered([c[k] for c, k in zip(choices, chosen)], given)


def _numbered(places: list[Path], given: list[PurePath]) -> list[Path]:
    """Places still shared by two different photos get -2, -3... after the first."""
    taken: dict[str, str] = {}  # a place, case-folded -> the photo it holds
    for i, place in enumerate(places):
        photo, n = os.path.abspath(given[i]), 1
        while taken.setdefault(places[i].as_posix().casefold(), photo) != photo:
            n += 1
            places[i] = place.with_name(f"{place.name}-{n}")
    return places


def _places(given: PurePath, relative: PurePath) -> list[Path]:
    """A photo's possible places, shortest first: x, x.jpg, a/x, a/x.jpg, ..."""
    parts = PurePath(given).parts[: len(PurePath(given).parts) - len(relative.parts)]
    above = [part for part in parts if part not in (given.anchor, ".", "..")]
    return [
        Path(*above[len(above) - taken :], name)
        for taken in range(len(above) + 1)
        for name in (relative.with_suffix(""), relative)
    ]


def _clashing(places: list[Path]) -> list[int]:
    count = Counter(place.as_posix().casefold() for place in places)
    return [i for i, place in enumerate(places) if count[place.as_posix().casefold()] > 1]


def list_digest(sorted_keys: list[str]) -> str:
    """SHA-256 of the sorted list: shards cut from one list share it."""
    return hashlib.sha256("\n".join(sorted_keys).encode()).hexdigest()


def write_shard(
    folder: Path, command: str, shard: Shard, sorted_keys: list[str], settings: dict, records
) -> Path:
    """One shard's records (each with its "position" in the sorted list) as a JSON file."""
    path = Path(folder) / shard.file_name(command)
    with writing(f"writing {path}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(
            path,
            {
                "command": command,
                "shard": shard.index,
                "shards": shard.count,
                "photos": len(sorted_keys),
                "list_sha256": list_digest(sorted_keys),
                "settings": settings,
                "records": list(records),
            },
        )
    return path


def merge(folder: Path) -> tuple[dict, list[dict]]:
    """A folder's shard files -> (one shard's header, all records in list order).

    DataError (one line) when there is none, when they come from different jobs (command, N,
    photo list or settings), or when a shard is missing or there twice.
    """
    # Hidden files are temporaries being written (core/atomic.py), or left by a killed task.
    paths = sorted(path for path in Path(folder).glob(PATTERN) if not path.name.startswith("."))
    if not paths:
        raise DataError(f"No shard files ({PATTERN}) in {folder}: run the shards with --out.")
    shards = {}
    for path in paths:
        shard = _read(path)
        header = {k: v for k, v in shard.items() if k not in ("shard", "records")}
        first = next(iter(shards.values()), (None, header))[1]
        if header != first:
            raise DataError(
                f"{path.name} is of another job than the other shards in {folder} (its "
                f"{', '.join(_differences(header, first))} differ): give each job its own folder."
            )
        if shard["shard"] in shards:
            raise DataError(
                f"Shard {shard['shard']} of {shard['shards']} is there twice in {folder} "
                f"({shards[shard['shard']][0].name}, {path.name}): keep one and merge again."
            )
        shards[shard["shard"]] = (path, header, shard["records"])
    _check_complete(folder, shards, header["shards"])
    records = [record for _, _, part in shards.values() for record in part]
    if len(records) != header["photos"]:
        raise DataError(
            f"The shards in {folder} hold {len(records)} photos, their list {header['photos']}: "
            "a shard file was changed by hand; run that job again."
        )
    return header, sorted(records, key=lambda record: record["position"])


def _read(path: Path) -> dict:
    """A shard file's JSON, checked to hold every field and a position in every record."""
    try:
        shard = json.loads(path.read_text())
    except (OSError, ValueError):
        shard = None
    missing = [field for field in FIELDS if field not in shard] if isinstance(shard, dict) else []
    if (
        not isinstance(shard, dict)
        or missing
        or not isinstance(shard["records"], list)
        or not isinstance(shard["settings"], dict)
    ):
        lacks = f" (no {', '.join(missing)})" if missing else ""
        raise DataError(
            f"{path} is not a shard file of this tool{lacks}: move it out and merge again."
        )
    unplaced = sum(
        not isinstance(record, dict) or not isinstance(record.get("position"), int)
        for record in shard["records"]
    )
    if unplaced:
        raise DataError(
            f"{path} has {unplaced} record(s) without a position in the photo list: it was "
            "changed by hand or by another tool; run that shard again."
        )
    return shard


def _differences(header: dict, first: dict) -> list[str]:
    """What differs between two shards' headers: fields, and each setting by its name."""
    fields = [key for key in FIELDS if key != "settings" and header.get(key) != first.get(key)]
    ours, theirs = header.get("settings") or {}, first.get("settings") or {}
    names = dict.fromkeys([*ours, *theirs])
    settings = [f"setting {name}" for name in names if ours.get(name) != theirs.get(name)]
    return [*fields, *settings] or ["headers"]


def _check_complete(folder: Path, shards: dict, count: int) -> None:
    missing = [index for index in range(count) if index not in shards]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", …" if len(missing) > 5 else "")
        raise DataError(
            f"{len(missing)} of {count} shards missing in {folder} (shard {shown}): run them "
            f"(--shard {missing[0]}/{count} ...) and merge again."
        )
