"""`python -m core ...`: the same code paths as the app, from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.atomic import replacing
from core.batch import (
    ALL,
    chosen_layers,
    evaluate_settings,
    explain_settings,
    run_merge,
    wrote,
)
from core.cams import FUSED, METHODS
from core.config import Config
from core.data.classes import check_class_names
from core.data.folders import DataError
from core.data.pet_layout import LAYOUTS, find_download
from core.data.pets import download_pets
from core.data.shards import Listed, Shard, listed_photos, write_shard
from core.errors import SettingError, UserError
from core.explain.evaluation import photo_rows, summary
from core.explain.explainer import Explainer
from core.explain.localization import annotations_for
from core.explain.overlay import COLORMAPS, overlay
from core.images import ImageError, encode_png, load_image
from core.imported import PREPROCESSING, import_loaded, preprocessing_question
from core.model import Classifier, imagenet_view, load_classifier, load_default
from core.safe_load import load_source
from core.training import jobs
from core.training.recipe import TrainConfig

BATCH = 16  # photos explained per forward/backward pass
DEPTH = 8  # folder levels below `evaluate --data` (or a PHOTO folder) searched for photos
LAYER_HELP = (
    "conv layer to explain (default: the model's own, conv5_block3_out for ResNet-50); fused: "
    "the maps of all offered layers (ResNet-50's four stages) fused into one, from the same "
    "pass; layer:NAME: the model's layer NAME, the full name that reaches a layer named fused"
)
SHARD_HELP = (
    "I/N: take only shard I (0-based, 0..N-1) of the sorted photo list, every N-th photo "
    "from the I-th, and write its records to --out as <command>-shard-I-of-N.json; "
    "`python -m core merge OUT` joins the N shards"
)
# --preprocessing's names, each with what it does (explain, evaluate and import-model).
PREPROCESSING_HELP = "; ".join(f"{name}: {line}" for name, line in PREPROCESSING.items())


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
    }
    try:
        return handlers[args.command](args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    """`python -m core`'s commands and their options."""
    parser = argparse.ArgumentParser(
        prog="python -m core", description="Explain a cat/dog classifier."
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own log lines too (by default those known to be harmless are "
        "left out: core/tf_logs.py); before the command",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_explain_parser(commands)
    add_evaluate_parser(commands)
    add_train_parser(commands)
    add_import_parser(commands)
    merging = commands.add_parser(
        "merge", help="join the shard files of an explain or evaluate job (--shard I/N)"
    )
    merging.add_argument("folder", type=Path, metavar="OUT", help="the shards' --out folder")
    download = commands.add_parser(
        "download-data", help="download Oxford-IIIT Pet as train/ and validation/"
    )
    download.add_argument(
        "--dest",
        type=Path,
        help="where train/ and validation/ go (default: the data folder for species, its "
        "oxford-iiit-pet-breeds/ for breeds)",
    )
    download.add_argument(
        "--layout",
        choices=tuple(LAYOUTS),
        default="species",
        help="cats/ and dogs/, or one folder per breed (37); made from an earlier download "
        "under the data folder when there is one, without downloading again",
    )
    return parser


def add_explain_parser(commands) -> None:
    explain = commands.add_parser("explain", help="predict and write Grad-CAM overlays for photos")
    explain.add_argument(
        "photos",
        nargs="+",
        type=Path,
        metavar="PHOTO",
        help="a photo, or a folder of them (searched recursively; the overlays keep its layout)",
    )
    explain.add_argument(
        "--weights",
        type=Path,
        help="a .keras model (default: weights/model.keras); one with no sidecar needs "
        "--classes a,b and --preprocessing",
    )
    explain.add_argument("--layer", help=LAYER_HELP)
    add_target_options(explain)
    explain.add_argument(
        "--alpha", type=float, default=Config().alpha, help="overlay opacity, 0-1"
    )
    explain.add_argument("--colormap", default=Config().colormap, choices=COLORMAPS)
    explain.add_argument("--out", type=Path, default=Path("out"), help="folder for the overlays")
    explain.add_argument(
        "--raw", action="store_true", help="also save the raw map as <stem>_raw.npy"
    )
    explain.add_argument(
        "--shard", help=SHARD_HELP + " (a refused photo is a record there, not exit code 1)"
    )
    add_method_options(explain)


def add_evaluate_parser(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="mean deletion/insertion AUC of each method over a folder"
    )
    evaluate.add_argument(
        "--data", type=Path, required=True, help="a folder of photos (searched recursively)"
    )
    evaluate.add_argument(
        "--weights",
        type=Path,
        help="a .keras model (default: the app's); one with no sidecar needs --classes a,b and "
        "--preprocessing",
    )
    evaluate.add_argument(
        "--method", nargs="+", default=list(METHODS), choices=list(METHODS), metavar="NAME"
    )
    evaluate.add_argument(
        "--layer",
        action="append",
        help=LAYER_HELP + "; all: every offered layer, then fused. Repeat it for a row per "
        "layer, all from one pass per photo (e.g. --layer conv4_block6_out --layer fused)",
    )
    add_target_options(evaluate)
    evaluate.add_argument(
        "--limit",
        type=int,
        default=10,
        help="the first photos to use, in sorted order (each costs ~100 forward passes per "
        "method and layer); 0: all",
    )
    evaluate.add_argument(
        "--steps", type=int, default=50, help="steps of each deletion/insertion curve (0: none)"
    )
    evaluate.add_argument(
        "--annotations",
        type=Path,
        help="trimaps/ and xmls/ of Oxford-IIIT Pet (download-data "
        "keeps them in DEST/annotations): adds the pointing game and its energy form",
    )
    evaluate.add_argument("--shard", help=SHARD_HELP + " (--limit 0: of the whole folder)")
    evaluate.add_argument(
        "--out", type=Path, default=Path("out"), help="folder for the shard file (with --shard)"
    )


def add_target_options(parser) -> None:
    """--target (what to explain), --classes and --preprocessing (which model, seen how).

    --classes is the zero-shot model's view (cat-dog, imagenet) or a --weights file's classes.
    """
    parser.add_argument(
        "--target",
        default="predicted",
        help="predicted | a class name (e.g. cat, Bengal) | top1-vs-top2 (the top class minus "
        "its runner-up); two classes also '<class 1> minus <class 0>' (dog minus cat)",
    )
    parser.add_argument(
        "--classes",
        default="cat-dog",
        help="cat-dog | imagenet: the zero-shot model's view (no fine-tuned model): its dog "
        "breeds and cats folded into cat and dog (default), or ImageNet's 1,000 classes, each "
        "explained by its own logit; or a,b[,c...]: the --weights model's classes in output "
        "order (they win over its sidecar's)",
    )
    parser.add_argument(
        "--preprocessing",
        choices=list(PREPROCESSING),
        help="what the --weights model expects of 0-255 RGB pixels (wins over its sidecar's; "
        f"needed without one): {PREPROCESSING_HELP}",
    )


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


def add_method_options(parser) -> None:
    parser.add_argument("--method", default="Grad-CAM", choices=list(METHODS))
    parser.add_argument(
        "--aug-smooth", action="store_true", help="average over flips and intensity scales"
    )
    parser.add_argument(
        "--eigen-smooth",
        action="store_true",
        help="first principal component of the weighted maps",
    )
    # Every option a method declares, e.g. Score-CAM's --top-n (0 = all channels).
    declared = {
        name: (cls, option) for cls in METHODS.values() for name, option in cls.options.items()
    }
    for name, (cls, option) in declared.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=option.default,
            help=f"{cls.name}: {option.label or name} (0 = all). {option.help}",
        )


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
    photos = [
        {"position": p, "photo": listed[p].key}
        | evaluate_photo(explainer, listed[p].path, shown, args)
        for p in positions
    ]
    print(summary(photos, str(args.data), list(shown), args.target))
    if shard:
        settings = evaluate_settings(args, shown)
        keys = [each.key for each in listed]
        wrote(write_shard(args.out, "evaluate", shard, keys, settings, photos), args.out)
    return 0


def evaluate_photo(explainer: Explainer, path: Path, shown: dict, args) -> dict:
    """One photo's figures: {"masks": how many it has, "rows": [(method, layer, figures)]}.

    A photo that cannot be read is left out with a note (a batch job is not stopped by one), and
    {"error": why} kept instead.
    """
    try:
        photo = load_image(path)
    except ImageError as error:
        print(f"note: left out {path}: {error}", file=sys.stderr)
        return {"error": str(error)}
    masks = annotations_for(path, args.annotations, *photo.shape[:2]) if args.annotations else None
    rows = photo_rows(explainer, photo, masks, args.method, shown, args.target, args.steps)
    return {"masks": len(masks or {}), "rows": rows}


def add_import_parser(commands) -> None:
    imports = commands.add_parser(
        "import-model",
        help="store your own Keras model (.keras or a legacy full-model .h5) to explain it",
    )
    imports.add_argument("file", type=Path, metavar="FILE")
    imports.add_argument(
        "--classes", required=True, help="a,b[,c...]: the model's classes in output order"
    )
    imports.add_argument(
        "--preprocessing",
        choices=list(PREPROCESSING),
        help="what the model expects of 0-255 RGB pixels (left out: the proposal is shown): "
        + PREPROCESSING_HELP,
    )
    imports.add_argument(
        "--name", help="its folder under weights/imported/ (default: FILE's stem)"
    )
    imports.add_argument(
        "--weights-dir", type=Path, default=Config().weights_dir, help="the weights/ folder"
    )


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


def add_train_parser(commands) -> None:
    defaults = TrainConfig()
    train = commands.add_parser(
        "train", help="fine-tune the classifier on a train/ + validation/ folder"
    )
    train.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder with train/<class>/ (and validation/<class>/)",
    )
    train.add_argument(
        "--epochs", type=int, default=defaults.epochs, help="head epochs on cached features"
    )
    train.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=defaults.fine_tune_epochs,
        help="then epochs with ResNet-50's last stage unfrozen (slow on a CPU)",
    )
    train.add_argument(
        "--backbone-weights",
        default=Config().backbone_weights or defaults.backbone_weights,
        help="imagenet | none (random: offline smoke runs) | PATH to a no-top weights file",
    )
    train.add_argument(
        "--out", type=Path, default=Config().weights_dir, help="the weights/ folder"
    )
    train.add_argument(
        "--strategy",
        default=defaults.strategy,
        choices=["auto", "default", "mirrored", "multi-worker"],
    )
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--patience", type=int, default=defaults.patience)
    train.add_argument(
        "--rotation",
        type=float,
        default=defaults.rotation,
        help="augmentation: fraction of a turn",
    )
    train.add_argument(
        "--zoom", type=float, default=defaults.zoom, help="augmentation: fraction of the size"
    )
    train.add_argument("--seed", type=int, default=defaults.seed)


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
    )
    state = jobs.train(args.data, args.out, config, verbose=1 if sys.stdout.isatty() else 2)
    print(state["message"])
    return 0 if state["state"] == "done" else 1


def run_download(args: argparse.Namespace) -> int:
    data_dir = Config().data_dir
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
    listed = listed_photos(args.photos, DEPTH) if shard else given_photos(args.photos)
    classifier = load_for(args)
    layers, shown = chosen_layers([args.layer] if args.layer else None, classifier)
    explainer = Explainer(classifier, layers)
    explainer.target_index(args.target)  # refuse a bad target before any work
    positions = shard.positions(len(listed)) if shard else range(len(listed))
    records, refused = [], 0
    for start in range(0, len(positions), BATCH):
        batch = {p: listed[p] for p in positions[start : start + BATCH]}
        for position, record in explain_batch(explainer, batch, shown, args):
            print(json.dumps(record), flush=True)
            refused += "error" in record
            if shard:  # kept for the shard file; a run without one may be of a million photos
                records.append({"position": position} | record)
    if not shard:
        return 1 if refused else 0
    settings = explain_settings(args, shown, method_options(args))
    keys = [each.key for each in listed]
    wrote(write_shard(args.out, "explain", shard, keys, settings, records), args.out)
    return 0


def given_photos(arguments: list[Path]) -> list[Listed]:
    """Photos in the order given, a folder's in sorted order."""
    return [each for argument in arguments for each in listed_photos([argument], DEPTH)]


def explain_batch(explainer: Explainer, batch: dict[int, Listed], shown: dict, args):
    """Yield (position, record) for each photo of a batch, once its outputs are written.

    A photo that cannot be read gives a record with its error.
    """
    photos = {}
    for position, each in batch.items():
        try:
            photos[position] = load_image(each.path)
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
        yield position, record
