"""Photos and datasets generated in code, and where the real development photos lie.

Generated pets are bluish-dark "cats" and reddish-bright "dogs" (separable by a tiny model), with
seeded noise; a third class and more get a seeded colour of their own. `make_pets` lays them out
as Kaggle does (train/<class>/, validation/<class>/); `make_located_pets` adds Oxford-style
trimaps around one square of evidence per photo; `trimap` makes one with the pet's border as the
dataset draws it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

# The licensed development photos (train/ and validation/, cats/ and dogs/), beside the repository.
PETS = Path(__file__).resolve().parents[3] / "shared" / "data" / "pets"

# Each generated class's colour: bluish-dark cats, reddish-bright dogs.
COLOURS = {"cats": (40, 60, 160), "dogs": (200, 90, 40)}
# The square of evidence in make_located_pets: its colour is the class.
SQUARES = {"cats": (40, 60, 200), "dogs": (210, 70, 40)}


def class_names(k: int) -> tuple[str, ...]:
    """K generated class folders: cats and dogs first, then birds, then class_03, class_04, ..."""
    return ("cats", "dogs", "birds", *(f"class_{i:02d}" for i in range(3, k)))[:k]


def colour(label: str) -> tuple[int, int, int]:
    """A class's colour: COLOURS' for cats and dogs, else a seeded one of its own per name."""
    if label in COLOURS:
        return COLOURS[label]
    seed = int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
    return tuple(int(c) for c in np.random.default_rng(seed).integers(0, 256, 3))


def pet_pixels(label: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A `size` x `size` RGB photo of the class's colour, with noise of +-30."""
    noise = rng.integers(-30, 30, (size, size, 3))
    return np.clip(np.array(colour(label)) + noise, 0, 255).astype(np.uint8)


def jpeg_bytes(label: str, seed: int, size: int = 32) -> bytes:
    """A generated photo of class `label`, as a JPEG file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pet_pixels(label, np.random.default_rng(seed), size)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_bytes(seed=0, size=(40, 30)) -> bytes:
    """A seeded photo of random pixels, `size` (width, height), as a PNG file's bytes."""
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def make_pets(
    root: Path,
    n_train: int = 12,
    n_validation: int = 4,
    size: int = 24,
    seed: int = 0,
    classes: int = 2,
) -> Path:
    """A Kaggle-layout folder of generated PNGs, one colour per class (`class_names(classes)`)."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("validation", n_validation)):
        for name in class_names(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(pet_pixels(name, rng, size)).save(
                    folder / f"{name[:-1]}_{i:03d}.png"
                )
    return root


def make_located_pets(
    root: Path,
    n_train: int = 24,
    n_validation: int = 12,
    size: int = 224,
    seed: int = 0,
    squares: dict | None = None,
) -> Path:
    """Kaggle layout plus Oxford-style trimaps: grey noise, one square of evidence per photo.

    The square lies at a random place, its colour the class's (`squares`, name -> RGB; default
    bluish "cats" and reddish "dogs"). annotations/trimaps/<stem>.png marks the square 1 and the
    rest 2.
    """
    rng = np.random.default_rng(seed)
    side = size // 4
    trimaps = root / "annotations" / "trimaps"
    trimaps.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", n_train), ("validation", n_validation)):
        for name, colour in (squares or SQUARES).items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(60, 190, (size, size, 3)).astype(np.uint8)
                top, left = rng.integers(0, size - side, 2)
                pixels[top : top + side, left : left + side] = colour
                trimap = np.full((size, size), 2, np.uint8)
                trimap[top : top + side, left : left + side] = 1
                stem = f"{split}_{name[:-1]}_{i:03d}"
                Image.fromarray(pixels).save(folder / f"{stem}.png")
                Image.fromarray(trimap).save(trimaps / f"{stem}.png")
    return root


def trimap(side: int, top: int, left: int, size: int, border: int = 3) -> np.ndarray:
    """(side, side) uint8, as Oxford-IIIT Pet ships its trimaps (8-bit grey PNG): 1 on the pet (the
    `size` x `size` square at `top`, `left`), 3 on a `border`-px ring around it, 2 elsewhere."""
    mask = np.full((side, side), 2, np.uint8)
    y0, x0 = max(top - border, 0), max(left - border, 0)
    mask[y0 : top + size + border, x0 : left + size + border] = 3
    mask[top : top + size, left : left + size] = 1
    return mask
