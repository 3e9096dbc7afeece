"""`python -m core ...`: the same code paths as the app, from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.config import Config
from core.explain import Explainer
from core.images import ImageError, encode_png, load_image
from core.model import Classifier, ModelError, load_classifier, load_default
from core.overlay import COLORMAPS, overlay

BATCH = 16  # photos explained per forward/backward pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Explain a cat/dog classifier.")
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser("explain", help="predict and write Grad-CAM overlays for photos")
    explain.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")
    explain.add_argument("--weights", type=Path, help="a .keras model (default: weights/model.keras)")
    explain.add_argument("--layer", help="conv layer to explain (default: conv5_block3_out)")
    explain.add_argument("--target", default="predicted", help="predicted | cat | dog")
    explain.add_argument("--alpha", type=float, default=Config().alpha, help="overlay opacity, 0-1")
    explain.add_argument("--colormap", default=Config().colormap, choices=COLORMAPS)
    explain.add_argument("--out", type=Path, default=Path("out"), help="folder for the overlays")
    explain.add_argument("--raw", action="store_true", help="also save the raw map as <stem>_raw.npy")
    args = parser.parse_args(argv)
    try:
        return run_explain(args)
    except (ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_explain(args: argparse.Namespace, config: Config = Config()) -> int:
    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be between 0 and 1, got {args.alpha}.")
    classifier = load_classifier(args.weights, config) if args.weights else load_default(config)
    layer = args.layer or default_layer(classifier, config)
    explainer = Explainer(classifier, [layer], config)
    explainer.target_index(args.target)  # refuse a bad target before any work
    args.out.mkdir(parents=True, exist_ok=True)
    refused = 0
    for start in range(0, len(args.photos), BATCH):
        photos = {}
        for path in args.photos[start : start + BATCH]:
            try:
                photos[path] = load_image(path)
            except ImageError as error:
                refused += 1
                print(json.dumps({"image": str(path), "error": str(error)}), flush=True)
        if not photos:
            continue
        for (path, photo), explanation in zip(photos.items(), explainer.explain(list(photos.values()), args.target)):
            (args.out / f"{path.stem}_overlay.png").write_bytes(
                encode_png(overlay(photo, explanation.heatmap(layer), args.alpha, args.colormap))
            )
            if args.raw:
                np.save(args.out / f"{path.stem}_raw.npy", explanation.raw_maps[layer])
            record = {
                "image": str(path),
                "label": explanation.label,
                "probabilities": {k: round(v, 6) for k, v in explanation.probabilities.items()},
                "layer": layer,
                "target": explanation.target,
                "seconds": round(explanation.seconds / len(photos), 4),
            }
            if explanation.note:
                record["note"] = explanation.note
            print(json.dumps(record), flush=True)
    return 1 if refused else 0


def default_layer(classifier: Classifier, config: Config) -> str:
    offered = classifier.offered_layers(config)
    return config.default_layer if config.default_layer in offered else list(offered)[-1]
