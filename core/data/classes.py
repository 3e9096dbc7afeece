"""Class names: the rules every way of bringing data shares, and photo counts read aloud.

The folder scan, the ZIP upload, the photos per class and the Oxford-IIIT Pet download all check
their class names with `check_class_names`, so each refusal is the same sentence everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from core.config import MAX_CLASSES, RESERVED_TARGETS
from core.errors import UserError

SLUG_LENGTH = 40  # characters of a dataset's or a class folder's name made from a person's text
# Above this many classes a summary gives totals per split instead of each class's count.
LISTED_CLASSES = 4
# A two-class model's contrast target is "<class 1> minus <class 0>": no class may be so named.
CONTRAST_WORD = " minus "


class DataError(UserError):
    """A data folder that cannot be trained on; the message is one line meant for the user."""


def slug(text: str, length: int = SLUG_LENGTH) -> str:
    """Lowercase letters and digits of any script, single hyphens; at most `length` characters.

    "" if none. Letters, marks and digits are kept whatever their script (a class named "猫" or
    "кошка" keeps its name), in Unicode's composed form (macOS writes names decomposed); anything
    else, separators and dots included, becomes a hyphen, so a slug is always one safe name.
    """
    text = unicodedata.normalize("NFC", text).lower()
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else "-" for c in text)
    return re.sub(r"-+", "-", kept).strip("-")[:length].strip("-")


def singular(folder: str) -> str:
    """'cats' -> 'cat', so labels read naturally; other names are kept as they are."""
    if folder.endswith("s") and not folder.endswith("ss") and len(folder) > 1:
        return folder[:-1]
    return folder


def label_names(folders: tuple[str, ...]) -> list[str]:
    """The sidecar's class names from the class folders.

    Two are made singular (cats/dogs -> cat/dog, as always); K > 2 are kept as they are, so a breed
    such as "great_pyrenees" keeps its "s".
    """
    return [singular(name) for name in folders] if len(folders) == 2 else list(folders)


def check_class_names(
    names: Sequence[str], where: str, key: Callable[[str], str] = str.casefold
) -> tuple[str, ...]:
    """`names` (class folders, in label order) when a model can be trained on them.

    `where` starts the count's sentence ("data/pets/train", "The ZIP"); `key` is the name a
    folder becomes (a case-folded name; an upload's slug). Raises DataError, one sentence, for
    fewer than 2 or more than MAX_CLASSES classes, a name with no letter or digit, a reserved
    target name, and two names that become one (`Cat/` and `cat/`; for two classes also `cat/`
    and `cats/`, since a two-class model names its classes in the singular).
    """
    names = tuple(names)
    if len(names) < 2:
        listed = f" ({', '.join(repr(n) for n in names)})" if names else ""
        raise DataError(
            f"{where} has {len(names)} class folder{'' if len(names) == 1 else 's'}{listed}: a "
            "classifier needs at least 2, one folder of photos per class (e.g. cats/ and dogs/)."
        )
    if len(names) > MAX_CLASSES:
        raise DataError(f"{where} has {len(names):,} class folders; at most {MAX_CLASSES:,} here.")
    seen: dict[str, tuple[str, str]] = {}  # the name a class is known by -> (folder, key)
    for name in names:
        becomes = _check_one(name, key)
        seen_as = singular(becomes) if len(names) == 2 else becomes
        if seen_as in seen:
            first, first_becomes = seen[seen_as]
            why = " (two classes are named in the singular)" if first_becomes != becomes else ""
            raise DataError(
                f"Class folders '{first}' and '{name}' become the same class name "
                f"'{seen_as}'{why}: rename or merge one of them."
            )
        seen[seen_as] = (name, becomes)
    return names


def _check_one(name: str, key: Callable[[str], str]) -> str:
    """The name `name` becomes, or DataError when no class may take it."""
    becomes = key(name)
    if not becomes.strip():
        raise DataError(f"Class name '{name}' has no letter or digit: give the class a name.")
    if becomes.casefold() in RESERVED_TARGETS or name.casefold() in RESERVED_TARGETS:
        raise DataError(
            f"A class may not be named '{name}': that name means a target to explain "
            f"({', '.join(RESERVED_TARGETS)}); rename the class folder."
        )
    if CONTRAST_WORD in name.casefold():
        raise DataError(
            f"A class may not be named '{name}': '<class> minus <class>' names a two-class "
            "contrast; rename the class folder."
        )
    return becomes


def check_class_counts(
    classes: Sequence[str], train: Mapping[str, int], validation: Mapping[str, int]
) -> None:
    """Refuse, in one sentence, a class a training run could not use; photos per class given.

    Every class needs a photo to train on and one for validation: from
    validation/ when there is one, else a training photo held out, which a lone photo cannot be.
    Nothing at all is left to the caller to say.
    """
    if not any(train.values()) and not any(validation.values()):
        return
    for name in classes:
        in_train, in_validation = train.get(name, 0), validation.get(name, 0)
        if not in_train + in_validation:
            raise DataError(f"Class folder {name}/ has no usable photos: add some or remove it.")
        if not in_train:
            raise DataError(f"Class {name} has no training photos: add some to train/{name}/.")
        if any(validation.values()) and not in_validation:
            raise DataError(
                f"Class {name} has no validation photos: add some to validation/{name}/."
            )
        if not any(validation.values()) and in_train == 1:
            raise DataError(
                f"Class {name} has one photo, which cannot also serve for validation: add more."
            )


def counted(
    per_split: Mapping[str, Mapping[str, int]], between_classes: str, between_splits: str
) -> str:
    """Photos per split and class as words: each class for a few, totals for many.

    {"train": {"cats": 12, "dogs": 12}} -> "train 12 cats, 12 dogs"; 37 classes -> "37 classes;
    train 2,944; validation 736" (with "; " between splits). Splits with no photo are left out.
    """
    splits = {split: counts for split, counts in per_split.items() if counts}
    names = {name for counts in splits.values() for name in counts}
    if len(names) <= LISTED_CLASSES:
        return between_splits.join(
            f"{split} " + between_classes.join(f"{n:,} {name}" for name, n in counts.items())
            for split, counts in splits.items()
        )
    totals = (f"{split} {sum(counts.values()):,}" for split, counts in splits.items())
    return between_splits.join([f"{len(names):,} classes", *totals])
