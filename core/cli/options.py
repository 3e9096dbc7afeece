"""`python -m core`'s commands and their options: the argparse side of commands.py."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cams import METHODS
from core.config import settings
from core.data.pet_layout import LAYOUTS
from core.explain.overlay import COLORMAPS
from core.explain.strategies import OFF_OBJECT
from core.models.imported import PREPROCESSING
from core.training.recipe import TrainConfig

LAYER_HELP = (
    "layer to explain, a conv layer or a transformer block's tokens (default: the model's own, "
    "conv5_block3_out for ResNet-50, a ViT's last block whose patches reach the score); fused: "
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
    add_strategies_parser(commands)
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
    add_custom_objects_option(explain)
    explain.add_argument(
        "--alpha", type=float, default=settings().alpha, help="overlay opacity, 0-1"
    )
    explain.add_argument("--colormap", default=settings().colormap, choices=COLORMAPS)
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
    add_folder_options(evaluate)
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
    add_custom_objects_option(evaluate)
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
    add_annotations_option(evaluate, "adds the pointing game and its energy form")
    evaluate.add_argument("--shard", help=SHARD_HELP + " (--limit 0: of the whole folder)")
    evaluate.add_argument(
        "--out", type=Path, default=Path("out"), help="folder for the shard file (with --shard)"
    )


def add_folder_options(parser) -> None:
    """--data (a folder of photos) and --weights: what evaluate and strategies read."""
    parser.add_argument(
        "--data", type=Path, required=True, help="a folder of photos (searched recursively)"
    )
    parser.add_argument(
        "--weights",
        type=Path,
        help="a .keras model (default: the app's); one with no sidecar needs --classes a,b and "
        "--preprocessing",
    )


def add_annotations_option(parser, what: str) -> None:
    """--annotations: Oxford-IIIT Pet's masks (evaluate and strategies); `what` they add."""
    parser.add_argument(
        "--annotations",
        type=Path,
        metavar="DIR",
        help="trimaps/ and xmls/ of Oxford-IIIT Pet (download-data keeps them in "
        f"DEST/annotations): {what}",
    )


def add_target_options(parser) -> None:
    """--target (what to explain), --classes and --preprocessing (which model, seen how)."""
    parser.add_argument(
        "--target",
        default="predicted",
        help="predicted | a class name (e.g. cat, Bengal) | top1-vs-top2 (the top class minus "
        "its runner-up); two classes also '<class 1> minus <class 0>' (dog minus cat)",
    )
    add_model_options(parser)


def add_model_options(parser) -> None:
    """--classes and --preprocessing: which model, seen how.

    --classes is the zero-shot model's view (cat-dog, imagenet) or a --weights file's classes.
    """
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


def add_custom_objects_option(parser) -> None:
    """--custom-objects: a trusted module defining the model's own layers (explain, evaluate,
    import-model)."""
    parser.add_argument(
        "--custom-objects",
        type=Path,
        metavar="FILE.py",
        help="a Python module you trust that defines the model's own layer classes (a ViT's "
        "class token, say): imported before the model is loaded, its classes given to Keras "
        "(CATDOG_CUSTOM_OBJECTS does the same for the app)",
    )


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
        "--weights-dir", type=Path, default=settings().weights_dir, help="the weights/ folder"
    )
    add_custom_objects_option(imports)


def add_train_parser(commands) -> None:
    defaults = TrainConfig()
    train = commands.add_parser(
        "train", help="fine-tune the classifier on a dataset folder (docs/data.md: its layouts)"
    )
    train.add_argument(
        "--data",
        type=Path,
        required=True,
        help="dataset folder: class folders, split folders (train/ valid/ test/...) or photos "
        "named by class (cat.0.jpg)",
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
        default=settings().backbone_weights or defaults.backbone_weights,
        help="imagenet | none (random: offline smoke runs) | PATH to a no-top weights file",
    )
    train.add_argument(
        "--out", type=Path, default=settings().weights_dir, help="the weights/ folder"
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
    train.add_argument(
        "--publish",
        default=defaults.publish,
        choices=["if-better", "always"],
        help="make the run the current model only if it beats it on the same validation set "
        "(default), or always",
    )


def add_strategies_parser(commands) -> None:
    found = commands.add_parser(
        "strategies",
        help="cluster the maps of a folder's photos per predicted class (SpRAy) and flag the "
        "clusters that look like shortcuts",
    )
    add_folder_options(found)
    found.add_argument("--layer", help="the layer whose maps are clustered (default: the model's)")
    add_model_options(found)
    add_custom_objects_option(found)
    found.add_argument(
        "--limit", type=int, default=0, help="the first photos to use, in sorted order; 0: all"
    )
    found.add_argument("--json", type=Path, help="write the clusters as a JSON list to this file")
    add_annotations_option(
        found,
        f"a cluster whose maps peak off the pet in at least {OFF_OBJECT * 100:.0f}%% of its "
        "photos with a trimap is flagged, the trimaps deciding where the pet is instead of the "
        "centre prior",
    )
    found.add_argument(
        "--check",
        action="store_true",
        help="for each flagged cluster, hide the region it points at in its photos and count "
        "the predictions that flip or lose confidence (one forward pass per photo)",
    )
    found.add_argument(
        "--hide", choices=("blur", "mean"), default="blur", help="how --check hides the region"
    )
