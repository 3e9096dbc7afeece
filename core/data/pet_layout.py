"""Oxford-IIIT Pet's photos laid out by species (cats/, dogs/) or by breed (37 class folders).

A photo's breed comes from annotations/list.txt, else from its name ("Abyssinian_100.jpg": the
part before the last "_"; capitalised names are cat breeds). The split is made per breed, so both
layouts hold out the same photos, and a second layout is made from the first's photos (hard
links) instead of from the archive.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

from core.data.folders import hold_out
from core.data.layouts import MADE_HERE
from core.data.uploads import mark_made_here
from core.errors import writing

SPLITS = ("train", "validation")
# Where the page's download goes, under the first data root: one folder per layout of the same
# photos. Breed folders keep Oxford's spelling (Abyssinian/, american_bulldog/).
LAYOUTS = {"species": "oxford-iiit-pet", "breeds": "oxford-iiit-pet-breeds"}
# Written into each laid-out download (its layout, the files dropped): the other layout may be
# made from a folder so marked without downloading again.
MARKER = "oxford-iiit-pet.json"

# (split, class folder, photo): where one photo goes.
Placed = tuple[str, str, Path]


def read_list(path: Path) -> dict[str, tuple[str, str]]:
    """annotations/list.txt as photo name -> (breed, "cats" or "dogs"); {} without the file.

    Its lines read "Abyssinian_100 1 1 1": name, class id, species (1 cat, 2 dog), breed id.
    """
    listed = {}
    if Path(path).is_file():
        for line in Path(path).read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#") and parts[2] in ("1", "2"):
                species = "cats" if parts[2] == "1" else "dogs"
                listed[parts[0]] = (parts[0].rsplit("_", 1)[0], species)
    return listed


def breed_of(stem: str, listed: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(breed, species) of a photo: from the list, else its name (capitalised: a cat breed)."""
    if stem in listed:
        return listed[stem]
    return stem.rsplit("_", 1)[0], "cats" if stem[:1].isupper() else "dogs"


def class_of(layout: str, breed_and_species: tuple[str, str]) -> str:
    """The class folder a photo goes to in `layout`: its breed or its species."""
    return breed_and_species[0] if layout == "breeds" else breed_and_species[1]


def split_by_breed(
    photos: list[Path], listed: dict, layout: str, fraction: float, seed: int
) -> list[Placed]:
    """Where each photo goes in `layout`: a seeded fraction of each breed held out.

    The same photos are held out whatever the layout, so a breeds model and a species model are
    measured on one validation set.
    """
    breeds: dict[tuple[str, str], list[Path]] = {}
    for path in photos:
        breeds.setdefault(breed_of(path.stem, listed), []).append(path)
    rng, placed = random.Random(seed), []
    for breed, paths in sorted(breeds.items()):
        train, validation = hold_out(paths, fraction, rng)
        placed += [
            (split, class_of(layout, breed), p)
            for split, chosen in (("train", train), ("validation", validation))
            for p in chosen
        ]
    return placed


def laid_out_photos(earlier: Path, layout: str) -> list[Placed]:
    """Where each photo of an earlier download goes in `layout`, each kept in its split."""
    listed = read_list(earlier / "annotations" / "list.txt")
    return [
        (split, class_of(layout, breed_of(path.stem, listed)), path)
        for split in SPLITS
        if (earlier / split).is_dir()
        for path in sorted((earlier / split).glob("*/*.jpg"))
    ]


def lay_out(placed: list[Placed], dest: Path, put, heard=None) -> dict[str, dict[str, int]]:
    """`put(photo, target)` each photo into dest/<split>/<class>/; photos per split and class."""
    classes = sorted({name for _, name, _ in placed})
    counts = {split: dict.fromkeys(classes, 0) for split in SPLITS}
    for done, (split, name, path) in enumerate(placed, 1):
        folder = dest / split / name
        folder.mkdir(parents=True, exist_ok=True)
        put(path, folder / path.name)
        counts[split][name] += 1
        if heard and (done % 50 == 0 or done == len(placed)):
            heard(done, len(placed))
    return counts


def link(source: Path, target: Path) -> None:
    """A hard link: one photo's bytes shared by both layouts; a copy where links cannot be."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def is_download(folder: Path) -> bool:
    """Does `folder` hold a laid-out Oxford-IIIT Pet: marked, or in one of LAYOUTS' folders?"""
    folder = Path(folder)
    ours = (folder / MARKER).is_file() or folder.name in LAYOUTS.values()
    return ours and (folder / "train").is_dir()


def find_download(data_dir: Path, dest: Path) -> Path | None:
    """An earlier download under `data_dir` (`is_download`), for `dest`'s layout to be made from.

    Either layout's folder is looked in, then `data_dir` itself; `dest` is never its own source.
    """
    dest = Path(dest).resolve()
    folders = [Path(data_dir) / folder for folder in LAYOUTS.values()] + [Path(data_dir)]
    return next((f for f in folders if f.resolve() != dest and is_download(f)), None)


def marked(folder: Path) -> dict:
    """A download's marker ({"layout": ..., "dropped": [...]}); {} when there is none."""
    try:
        return json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def move_into_place(staging: Path, dest: Path, layout: str, dropped: list[str]) -> None:
    """The staged layout into `dest`, marked; train/ last, since it makes a folder a dataset."""
    with writing("saving Oxford-IIIT Pet"):
        (staging / MARKER).write_text(json.dumps({"layout": layout, "dropped": dropped}))
        mark_made_here(staging, "download")
        for part in ("annotations", "validation", MARKER, MADE_HERE, "train"):
            if (staging / part).exists():
                os.replace(staging / part, dest / part)
