"""Watch the model learn where to look: Grad-CAM of a few fixed validation photos after each epoch.

While the backbone is frozen (head epochs on cached features), the maps come from the photos'
activations at the last stage, computed once, weighted by the head: for global average pooling,
(inference-mode) dropout and a dense head, d logit_c / dA_k is w_kc / (h w) at every position, so
Grad-CAM's channel weight is w_kc / (h w) (one logit: w_k, signed by the class explained). That is
exact, and costs a product of arrays per epoch. In fine-tune epochs the backbone changes, so the
maps come from one forward and backward pass of the few photos with GradCAM itself.

The run folder keeps watch.json (the photos, their classes, one entry per epoch) and watch.npy
(epochs x photos x h x w raw maps), both rewritten whole after every epoch.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import keras
import numpy as np

from core.atomic import replacing, write_json
from core.cams import GradCAM
from core.images import photo_for_model, to_model_input
from core.models.build import LOGIT
from core.models.graph import conv_layer_shapes, default_layer

WATCH_JSON, WATCH_MAPS = "watch.json", "watch.npy"
PHOTOS = 4  # two per class of two; one per class of four chosen by the seed when K >= 4


def pick(paths, labels, n: int = PHOTOS, seed: int = 0) -> list[tuple[str, int]]:
    """`n` validation photos from up to `n` classes, chosen before the run by `seed`.

    Two classes give n/2 each (as many as they have); K > n classes, one each of n classes picked
    by the seed; in between, n spread as evenly as can be (K = 3: 2, 1, 1). Sorted by class.
    """
    rng = random.Random(seed)
    classes = sorted(set(labels))
    if len(classes) > n:
        classes = sorted(rng.sample(classes, n))
    chosen = []
    for i, label in enumerate(classes):
        own = sorted(path for path, y in zip(paths, labels) if y == label)
        share = n // len(classes) + (i < n % len(classes))
        chosen += [(str(p), int(label)) for p in rng.sample(own, min(len(own), share))]
    return chosen


class Watch(keras.callbacks.Callback):
    """After every epoch of either phase, the fixed photos' raw Grad-CAM maps at `layer`."""

    def __init__(self, run_dir: Path, photos: list[tuple[str, int]], model):
        super().__init__()
        self.layer = default_layer(conv_layer_shapes(model))
        self.run_dir, self.photos = Path(run_dir), photos
        size = model.input_shape[1]
        self.inputs = to_model_input([photo_for_model(path) for path, _ in photos], size)
        self.classes = np.array([label for _, label in photos], dtype=np.int32)
        # One logit: class 0 is explained by -logit; K logits: each photo by its own logit.
        self.sign = np.where(self.classes == 1, 1.0, -1.0)
        # The frozen backbone's activations, once: what every head epoch's maps are made of.
        stage = keras.Model(model.input, model.get_layer(self.layer).output)
        self.activations = stage.predict(self.inputs, verbose=0).astype(np.float64)
        self.cam = GradCAM(model, [self.layer])
        self.maps: list[np.ndarray] = []
        self.epochs: list[dict] = []
        self.stopped = False  # set when the run folder's disk is full

    def head_maps(self, kernel: np.ndarray) -> np.ndarray:
        """(photos, h, w) Grad-CAM maps from the cached activations and the (C, 1 or K) kernel.

        Photo n's channel weights are kernel[:, class n] / (h w); with one logit, the sign says
        which class.
        """
        h, w = self.activations.shape[1:3]
        if kernel.shape[1] == 1:
            weights = kernel[:, 0][None, :] * self.sign[:, None] / (h * w)  # (photos, channels)
        else:
            weights = kernel[:, self.classes].T / (h * w)
        return np.einsum("nhwc,nc->nhw", self.activations, weights)

    def on_epoch_end(self, epoch, logs=None):
        # Training the head alone, Keras hands us the head model; fine-tuning, the whole one.
        fine_tune = any(layer.name == self.layer for layer in self.model.layers)
        if fine_tune:  # the backbone moves: one forward and backward pass of the few photos
            maps = self.cam(self.inputs, self.classes).maps[self.layer]
        else:
            maps = self.head_maps(self.model.get_layer(LOGIT).get_weights()[0])
        self.maps.append(np.asarray(maps, dtype=np.float32))
        phase = "fine-tune" if fine_tune else "head"
        self.epochs.append({"phase": phase, "epoch": epoch + 1, **(logs or {})})
        self._write()

    def _write(self) -> None:
        """Both files, each replaced whole; a full disk stops the watching, never the run.

        The run's own files (progress, model) matter more, and it reports their failure itself.
        """
        if self.stopped:
            return
        try:
            with replacing(self.run_dir / WATCH_MAPS) as maps:
                np.save(maps, np.stack(self.maps))
            fields = {"layer": self.layer, "photos": self.photos, "epochs": self.epochs}
            write_json(self.run_dir / WATCH_JSON, fields, default=float)
        except OSError:
            self.stopped = True
            for path in (self.run_dir / WATCH_MAPS, self.run_dir / WATCH_JSON):
                path.unlink(missing_ok=True)  # the space back to the run


def read(run_dir: Path) -> tuple[dict, np.ndarray] | None:
    """The run's watch record and maps, or None before its first epoch (or if unreadable)."""
    try:
        record = json.loads((Path(run_dir) / WATCH_JSON).read_text())
        maps = np.load(Path(run_dir) / WATCH_MAPS)
    except (OSError, ValueError):
        return None
    n = min(len(record["epochs"]), len(maps))  # the two files are replaced one after the other
    return {**record, "epochs": record["epochs"][:n]}, maps[:n]
