"""`python -m core ...`: the same code paths as the app, from a terminal.

Each command's body is here; its options are options.py's, and the batch side (what
`--layer` names, a shard's settings, `merge`) is core/batch.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.atomic import replacing
from core.cams import FUSED, METHODS
from core.cli import strategies
from core.cli.batch import (
    ALL,
    DEPTH,
    chosen_layers,
    class_list,
    evaluate_settings,
    explain_settings,
    load_for,
    run_merge,
    wrote,
)
from core.cli.options import parser
from core.cli.progress import Progress
from core.config import settings
from core.data.folders import DataError
from core.data.pet_layout import LAYOUTS, find_download
from core.data.pets import download_pets
from core.data.shards import Listed, Shard, listed_photos, write_shard
from core.errors import SettingError, UserError
from core.explain.caveats import caveats
from core.explain.evaluation import centre_prior_row, method_rows, summary
from core.explain.explainer import Explainer
from core.explain.localization import annotations_for
from core.explain.overlay import overlay
from core.images import ImageError, encode_png, photo_for_model
from core.models.custom_objects import load_module
from core.models.facts import preprocessing_question
from core.models.imported import import_loaded
from core.models.safe_load import load_source
from core.training import jobs
from core.training.recipe import TrainConfig

BATCH = 16  # photos explained per forward/backward pass


def main(argv: list[str] | None = None) -> int:
    """Run one command; a person's error is one line on stderr and exit code 2."""
    args = parser().parse_args(argv)
    handlers = {
        "explain": run_explain,
        "train": run_train,
        "download-data": run_download,
        "evaluate": run_evaluate,
        "merge": run_merge,
        "import-model": run_import,
        "strategies": strategies.run,
    }
    try:
        if getattr(args, "custom_objects", None):
            load_module(args.custom_objects)  # before any model is loaded: its classes known
        return handlers[args.command](args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def method_options(args: argparse.Namespace) -> dict:
    """--method and the options it declares, as Explainer.explain takes them."""
    own = {name: getattr(args, name) or None for name in METHODS[args.method].options}
    return {
        "method": args.method,
        "aug_smooth": args.aug_smooth,
        "eigen_smooth": args.eigen_smooth,
        **own,
    }


def run_evaluate(args: argparse.Namespace) -> int:
    shard = Shard.parse(args.shard) if args.shard else None
    listed = listed_photos([args.data], DEPTH)[: args.limit or None]
    if not listed:
        raise DataError(f"No photos under {args.data}.")
    classifier = load_for(args)
    layers, shown = chosen_layers(args.layer, classifier)
    explainer = Explainer(classifier, layers)
    explainer.target_index(args.target)  # refuse a bad target before any work
    positions = shard.positions(len(listed)) if shard else range(len(listed))
    # Method by method, each photo read again for each: one method's CAM (its compiled passes,
    # Score-CAM's masked batch) is alive at a time, and only each photo's figures are kept.
    photos = {p: {"position": p, "photo": listed[p].key} for p in positions}
    for number, method in enumerate(args.method, 1):
        progress = Progress(len(positions), f"{method} (method {number} of {len(args.method)})")
        for p in positions:
            if "error" not in photos[p]:  # an unreadable photo is left out once, with one note
                last = number == len(args.method)
                figures = evaluate_photo(explainer, listed[p].path, shown, args, method, last)
                if "rows" in figures:  # this method's rows after the earlier methods'
                    figures["rows"] = photos[p].get("rows", []) + figures["rows"]
                photos[p] |= figures
            progress.step()
        explainer.release()
    photos = list(photos.values())
    print(summary(photos, str(args.data), list(shown), args.target))
    if shard:
        settings = evaluate_settings(args, shown)
        keys = [each.key for each in listed]
        wrote(write_shard(args.out, "evaluate", shard, keys, settings, photos), args.out)
    return 0


def evaluate_photo(
    explainer: Explainer, path: Path, shown: dict, args, method: str, last: bool
) -> dict:
    """One photo's figures for one method: {"masks": how many it has, "rows": [(method, layer,
    figures)]}, the centre prior's row after the `last` method's when it has masks.

    A photo that cannot be read is left out with a note (a batch job is not stopped by one), and
    {"error": why} kept instead.
    """
    try:
        photo = photo_for_model(path)
    except ImageError as error:
        print(f"note: left out {path}: {error}", file=sys.stderr)
        return {"error": str(error)}
    masks = annotations_for(path, args.annotations, *photo.shape[:2]) if args.annotations else None
    rows = method_rows(explainer, photo, masks, method, shown, args.target, args.steps)
    if last and masks is not None:
        rows.append(centre_prior_row(photo, masks))
    return {"masks": len(masks or {}), "rows": rows}


def run_import(args: argparse.Namespace) -> int:
    classes = class_list(args.classes)
    if classes is None:
        raise SettingError("import-model needs the model's classes: --classes a,b[,c...].")
    model = load_source(args.file)  # once: checked, proposed for, imported
    if args.preprocessing is None:
        raise SettingError(preprocessing_question(model))
    path, facts = import_loaded(
        model, args.file.name, args.weights_dir, list(classes), args.preprocessing, args.name
    )
    print(
        json.dumps(
            {
                "model": str(path),
                "classes": list(classes),
                "preprocessing": args.preprocessing,
                "input_size": list(facts.input_size),
                "default_layer": facts.default_layer,
                "layers": list(facts.layers),
                "description": facts.description,
            }
        )
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    config = TrainConfig(
        epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        backbone_weights=args.backbone_weights,
        strategy=args.strategy,
        batch_size=args.batch_size,
        patience=args.patience,
        rotation=args.rotation,
        zoom=args.zoom,
        seed=args.seed,
        publish=args.publish,
    )
    state = jobs.train(args.data, args.out, config, verbose=1 if sys.stdout.isatty() else 2)
    print(state.message)
    return 0 if state.state == "done" else 1


def run_download(args: argparse.Namespace) -> int:
    data_dir = settings().data_dir
    dest = args.dest or (data_dir / LAYOUTS["breeds"] if args.layout == "breeds" else data_dir)
    earlier = find_download(data_dir, dest)
    counts = download_pets(dest, layout=args.layout, reuse=earlier)
    print(json.dumps(counts["train"] | {"split": "train"}))
    print(json.dumps(counts["validation"] | {"split": "validation"}))
    made = f"laid out from {earlier}" if counts["reused"] else "downloaded"
    print(f"{len(counts['dropped'])} broken file(s) dropped; {made}; data in {dest}")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    if not 0.0 <= args.alpha <= 1.0:
        raise SettingError(f"--alpha must be between 0 and 1, got {args.alpha}.")
    if args.layer == ALL:
        raise SettingError(
            f"explain draws one map per photo: give one --layer ({FUSED}: all of them fused); "
            f"--layer {ALL} is for evaluate."
        )
    shard = Shard.parse(args.shard) if args.shard else None
    # With --shard, the sorted list; without, the photos in the order given.
    listed = listed_photos(args.photos, DEPTH, given_order=not shard)
    classifier = load_for(args)
    layers, shown = chosen_layers([args.layer] if args.layer else None, classifier)
    explainer = Explainer(classifier, layers)
    explainer.target_index(args.target)  # refuse a bad target before any work
    positions = shard.positions(len(listed)) if shard else range(len(listed))
    # Over a folder, how far it has got; a photo or two named alone say nothing on stderr.
    folder = any(Path(each).is_dir() for each in args.photos)
    progress = Progress(len(positions), args.method) if folder else None
    records, refused = [], 0
    for start in range(0, len(positions), BATCH):
        batch = {p: listed[p] for p in positions[start : start + BATCH]}
        for position, record in explain_batch(explainer, batch, shown, args):
            print(json.dumps(record), flush=True)
            refused += "error" in record
            if progress:
                progress.step()
            if shard:  # kept for the shard file; a run without one may be of a million photos
                records.append({"position": position} | record)
    if not shard:
        return 1 if refused else 0
    settings = explain_settings(args, shown, method_options(args))
    keys = [each.key for each in listed]
    wrote(write_shard(args.out, "explain", shard, keys, settings, records), args.out)
    return 0


def explain_batch(explainer: Explainer, batch: dict[int, Listed], shown: dict, args):
    """Yield (position, record) for each photo of a batch, once its outputs are written.

    A photo that cannot be read gives a record with its error.
    """
    photos = {}
    for position, each in batch.items():
        try:
            photos[position] = photo_for_model(each.path)
        except ImageError as error:
            yield position, {"image": str(each.path), "error": str(error)}
    if not photos:
        return
    explanations = explainer.explain(list(photos.values()), args.target, **method_options(args))
    ((label, key),) = shown.items()
    for (position, photo), explanation in zip(photos.items(), explanations):
        place = args.out / batch[position].place
        place.parent.mkdir(parents=True, exist_ok=True)
        heatmap = explanation.heatmap(key)
        # Each file renamed in once written: a task killed mid-write leaves no half file.
        with replacing(place.with_name(f"{place.name}_overlay.png")) as temporary:
            temporary.write_bytes(encode_png(overlay(photo, heatmap, args.alpha, args.colormap)))
        if args.raw:  # a guided method's 3-channel gradient, else the raw map
            raw = (explanation.pixels or {}).get(key, explanation.raw_maps[key])
            with replacing(place.with_name(f"{place.name}_raw.npy")) as temporary:
                np.save(temporary, raw)  # the temporary ends in .npy: saved under its name
        record = {
            "image": str(batch[position].path),
            "label": explanation.label,
            # The 5 most probable classes (both of two), most probable first.
            "probabilities": {k: round(v, 6) for k, v in explanation.top(5)},
            "layer": label,
            "target": explanation.target,
            "explained": explanation.title,  # a contrast names its two classes
            "method": args.method,
            "seconds": round(explanation.seconds / len(photos), 4),
        }
        if explanation.note:
            record["note"] = explanation.note
        if explanation.guidance:  # a guided method: how much of the model it guided
            record["guided"] = explanation.guidance
        if said := caveats(explanation, key, photo.shape, explainer.classifier.info):
            record["caveats"] = said  # when the map means little
        yield position, record
