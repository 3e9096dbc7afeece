"""`python -m core strategies`: a folder's strategies per predicted class, the shortcuts among
them flagged (core/explain/strategies.py), and with --check how much of a flagged cluster leans on
the region it points at (core/explain/shortcuts.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.atomic import replacing
from core.cli.batch import DEPTH, load_for
from core.data.folders import DataError
from core.data.shards import listed_photos
from core.explain.explainer import Explainer
from core.explain.shortcuts import check
from core.folder.strategies import from_photos
from core.images import photo_for_model, to_model_input


def run(args: argparse.Namespace) -> int:
    """Each predicted class's strategies over --data, one line each; --json writes them."""
    listed = listed_photos([args.data], DEPTH)[: args.limit or None]
    if not listed:
        raise DataError(f"No photos under {args.data}.")
    classifier = load_for(args)
    layer = args.layer or classifier.default_layer
    explainer = Explainer(classifier, [layer])
    root = Path(args.data)
    relative = [each.key for each in listed]  # as listed below --data, links kept as links
    print(f"explaining {len(relative):,} photos at {layer}…", file=sys.stderr)
    found = from_photos(explainer, root, relative, layer, annotations=args.annotations)
    records = []
    for strategy in found.strategies:
        record = strategy.record() | {"typical": [found.photos[i] for i in strategy.typical]}
        if args.check and strategy.flagged:
            photos = [to_model_input([photo_for_model(root / found.photos[i])],
                                     classifier.input_size)[0].astype(np.uint8)
                      for i in strategy.members]  # fmt: skip
            before = found.before(strategy)
            record["check"] = check(classifier, photos, strategy, args.hide, before)
        records.append(record)
        print(strategy_line(record))
    if args.json:
        with replacing(args.json) as temporary:
            temporary.write_text(json.dumps(records, indent=2))
    return 0


def strategy_line(record: dict) -> str:
    """One cluster in a line: class, size, accuracy, peak, spread, the share peaking on the pet
    (with --annotations), and a flag's reason."""
    accuracy = "" if record["accuracy"] is None else f" · accuracy {record['accuracy']:.0%}"
    y, x = record["peak"]
    on_object = record.get("on_object")
    on_pet = "" if on_object is None else f" · peaks on the pet {on_object:.0%}"
    line = (
        f"{record['class']}: {record['size']} photos{accuracy} · peak at ({y:.2f}, {x:.2f}) · "
        f"spread {record['spread']:.2f}{on_pet}"
    )
    if record["flagged"]:
        line += f"\n  FLAGGED: {record['reason']}"
    if checked := record.get("check"):
        line += (
            f"\n  hidden ({checked['hidden']}): {checked['flipped']} of {checked['photos']} flip, "
            f"{checked['weaker']} lose confidence: {checked['share']:.0%} lean on it"
        )
    return line
