"""The CLI's batch side: which layers `--layer` names, what ties shards into one job, `merge`.

`chosen_layers` turns the `--layer` values (a layer, `fused`, `all`, `layer:NAME`) into the
layers one pass explains and the key of each map shown; what `fused` is made of is
`core.cams.fusion.fused_layers`' rule, the Explainer's too. `explain_settings` and
`evaluate_settings` are every option that changes a shard's outputs (the model by its file's
SHA-256, not its path), so `merge` (`core.data.shards`) refuses a shard of another job.
`run_merge` prints what one run would have printed (evaluate) or writes its records (explain).
`load_for` is the model the options name (--weights, --classes, --preprocessing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.atomic import replacing
from core.cams import FUSED
from core.cams.fusion import fused_layers
from core.data.classes import check_class_names
from core.data.shards import merge
from core.errors import SettingError
from core.explain.evaluation import summary
from core.models.build import imagenet_view
from core.models.info import Classifier, file_sha256
from core.models.load import app_model_path, load_classifier, load_default

ALL = "all"  # evaluate --layer all: every offered layer, then fused
MODEL_LAYER = "layer:"  # --layer layer:NAME: the model's own layer NAME, even one named fused
DEPTH = 8  # folder levels below `evaluate --data` (or a PHOTO folder) searched for photos


def chosen_layers(
    specs: list[str] | None, classifier: Classifier
) -> tuple[list[str], dict[str, str]]:
    """--layer values -> (the model layers to explain in one pass, each layer shown -> its key).

    The key names the map in `Explanation.raw_maps`. FUSED adds every offered layer to the pass
    and is made of them alone (`fused_layers`), whatever else is named; ALL is every offered
    layer, then FUSED when it is offered; MODEL_LAYER + NAME is the model's layer NAME, shown by
    that full name when NAME is reserved. Unknown layers are refused by the Explainer.
    """
    offered = list(classifier.layers)
    shown: dict[str, str] = {}
    for spec in specs or [classifier.default_layer]:
        if spec == ALL:
            shown |= {model_layer_label(name): name for name in offered}
            if fused_layers(offered, offered):
                shown[FUSED] = FUSED
        elif spec == FUSED:
            shown[FUSED] = FUSED
        else:
            name = spec.removeprefix(MODEL_LAYER)
            shown[model_layer_label(name)] = name
    named = [key for key in shown.values() if key != FUSED]
    if FUSED not in shown:
        return list(dict.fromkeys(named)), shown
    layers = list(dict.fromkeys([*offered, *named]))
    if not fused_layers(offered, layers):
        raise SettingError(not_fused(offered, layers))
    return layers, shown


def not_fused(offered: list[str], layers: list[str]) -> str:
    """Why --layer fused is refused for this model: a layer named fused, or one offered layer."""
    if FUSED in offered or FUSED in layers:
        return (
            f"This model has a layer named {FUSED!r}, so its layers are not fused: explain that "
            f"layer as --layer {MODEL_LAYER}{FUSED}, or name single layers."
        )
    return (
        f"--layer {FUSED} fuses two or more offered layers, and this model offers one: explain "
        f"it with --layer {offered[0]}."
    )


def model_layer_label(name: str) -> str:
    """A model layer as shown: its name, or MODEL_LAYER + its name when that is reserved."""
    return f"{MODEL_LAYER}{name}" if name in (FUSED, ALL) else name


def model_settings(args: argparse.Namespace) -> dict:
    """The model a command explains and what it explains: the same for every shard of a job."""
    path = args.weights or app_model_path()
    return {
        # The file's content, not its path: two machines may mount it at different paths.
        "weights_sha256": file_sha256(path) if Path(path).is_file() else "zero-shot",
        "classes": args.classes,
        "preprocessing": args.preprocessing,
        "target": args.target,
    }


def explain_settings(args: argparse.Namespace, shown: dict, options: dict) -> dict:
    """Every explain option that changes a shard's outputs; `options` as `method_options`."""
    return model_settings(args) | {
        "layer": next(iter(shown)),
        **options,  # the method, its smoothing and the options it declares (e.g. top_n)
        "alpha": args.alpha,
        "colormap": args.colormap,
        "raw": args.raw,
    }


def evaluate_settings(args: argparse.Namespace, shown: dict) -> dict:
    """Every evaluate option that changes a shard's figures (and the folder, for the header)."""
    return model_settings(args) | {
        "data": str(args.data),
        "layers": list(shown),
        "methods": list(args.method),
        "steps": args.steps,
        "limit": args.limit,
        "annotations": args.annotations is not None,
    }


def wrote(path: Path, out: Path) -> None:
    """Say where a shard's file is, and how to merge it with the others."""
    print(
        f"note: this shard's records are in {path}; when all are done: python -m core merge {out}",
        file=sys.stderr,
    )


def run_merge(args: argparse.Namespace) -> int:
    """The shards' records joined: evaluate's summary as one run prints it, explain's records.

    Exit code: evaluate 0 (an unreadable photo is counted in the header, as one run does);
    explain 1 when a shard recorded a refused photo, else 0.
    """
    header, records = merge(args.folder)
    if header["command"] == "evaluate":
        settings = header["settings"]
        print(summary(records, settings["data"], settings["layers"], settings["target"]))
        return 0
    path = args.folder / "explain.jsonl"
    with replacing(path) as temporary:
        temporary.write_text(
            "".join(json.dumps(without_position(record)) + "\n" for record in records)
        )
    refused = sum("error" in record for record in records)
    print(
        f"{len(records)} photos in {header['shards']} shards: {len(records) - refused} "
        f"explained, {refused} refused; their records in list order in {path}"
    )
    return 1 if refused else 0


def without_position(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "position"}


def class_list(text: str) -> tuple[str, ...] | None:
    """--classes as class names (None for the zero-shot views cat-dog and imagenet)."""
    if text in ("cat-dog", "imagenet"):
        return None
    names = tuple(name.strip() for name in text.split(","))
    return check_class_names(names, f"--classes {text!r}")


def load_for(args: argparse.Namespace) -> Classifier:
    """The model --weights names (default: the app's), seen through --classes.

    --classes a,b and --preprocessing describe the --weights file, and win over its sidecar.
    """
    names = class_list(args.classes)
    if names is not None or args.preprocessing:
        if not args.weights:
            raise SettingError(
                "--classes a,b and --preprocessing describe a model file: give it with --weights."
            )
        if args.weights.with_suffix(".json").is_file():
            print(
                f"note: --classes/--preprocessing given: they win over {args.weights.stem}.json",
                file=sys.stderr,
            )
        return load_classifier(args.weights, names, args.preprocessing)
    classifier = load_classifier(args.weights) if args.weights else load_default()
    if args.classes == "imagenet":
        if classifier.imagenet_layer is None:
            raise SettingError(
                f"--classes imagenet needs the zero-shot model, but this model is fine-tuned on "
                f"{len(classifier.info.class_names)} classes: leave --classes out, or move the "
                "fine-tuned model out of weights/."
            )
        classifier = imagenet_view(classifier)
    return classifier
