"""Every setting of catdog-gradcam in one frozen dataclass, each default explained.

The operator's settings come from CATDOG_* environment variables. A process reads them once:
`settings()` builds the Config the CLI, the app and each worker hand down to what they call.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The four stage outputs of ResNet-50, from fine (56x56, edges and fur) to coarse (7x7,
# "dog-ness"). The last, the default, is the most semantic layer: the one Selvaraju et al. explain.
STAGE_LAYERS = ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out")
# A model tells 2 to MAX_CLASSES classes apart (ImageNet's 1,000 is the largest it is built for).
MAX_CLASSES = 1000
# Target names that mean something else than a class; a class folder may not take one. A K-class
# model's contrast is TOP1_VS_TOP2 (Finer-CAM's); a two-class model's "<class 1> minus <class 0>".
PREDICTED_TARGET, TOP1_VS_TOP2 = "predicted", "top1-vs-top2"
RESERVED_TARGETS = (PREDICTED_TARGET, TOP1_VS_TOP2)


def _env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name, default))


def _env_int(name: str, default: int) -> int:
    """An operator's whole number, e.g. CATDOG_MIN_FREE_MB=2048; a typo stops the app at once."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}.") from None


@dataclass(frozen=True)
class Config:
    # ResNet-50's ImageNet input size, and the seed article's.
    image_size: int = 224
    # The default demo's classes, in label order. Two classes get a one-logit head, which says
    # class_names[1] when its logit is > 0; K > 2 classes get K logits (core/model.py).
    class_names: tuple[str, ...] = ("cat", "dog")
    # Dropout before the new dense head, as in the keras-io transfer-learning recipe.
    dropout: float = 0.2
    # Fine-tuned models live here as <name>.keras with a <name>.json sidecar.
    weights_dir: Path = field(
        default_factory=lambda: _env_path("CATDOG_WEIGHTS_DIR", ROOT / "weights")
    )
    model_file: str = "model.keras"
    # Where "random validation photo" picks from: a folder with one sub-folder per class.
    validation_dir: Path = field(
        default_factory=lambda: _env_path("CATDOG_VALIDATION_DIR", ROOT / "data" / "validation")
    )
    # Offline machines: a local copy of ResNet-50's no-top ImageNet weights; "" = Keras' cache.
    backbone_weights: str = field(
        default_factory=lambda: os.environ.get("CATDOG_BACKBONE_WEIGHTS", "")
    )
    # Local copy of the with-top file, for the zero-shot ImageNet classifier; "" = Keras' cache.
    imagenet_weights: str = field(
        default_factory=lambda: os.environ.get("CATDOG_IMAGENET_WEIGHTS", "")
    )
    # Decompression-bomb guard: refuse images with more pixels (a 50-megapixel photo passes).
    max_pixels: int = 60_000_000
    # Largest photo file accepted, in bytes: each photo uploader's max_upload_size, and checked
    # again on decoding (.streamlit/config.toml's server-wide cap is the ZIP uploader's, larger).
    max_bytes: int = 25 * 1024 * 1024
    # Overlay colormap and opacity defaults (matplotlib colormap names).
    colormap: str = "jet"
    alpha: float = 0.4
    # Long side of the small overlays (the layer strip, the contrast cells, the Compare grid, a
    # run's mistakes and watch strip): a third to a fifth of a wide page.
    thumbnail_side: int = 384

    # Where the Training page looks for data by default: a folder with train/ and validation/.
    data_dir: Path = field(default_factory=lambda: _env_path("CATDOG_DATA_DIR", ROOT / "data"))
    # Folders the Training page may read (data_dir too); more with CATDOG_DATA_ROOTS=dir1:dir2.
    extra_data_roots: tuple[Path, ...] = field(
        default_factory=lambda: tuple(
            Path(p) for p in os.environ.get("CATDOG_DATA_ROOTS", "").split(os.pathsep) if p
        )
    )
    # Where "Download Oxford-IIIT Pet" (page and CLI) fetches from: a folder URL that holds
    # images.tar.gz and annotations.tar.gz, and their MD5s as "images,annotations" (a mirror's,
    # or a test server's). The defaults are the set's own server and torchvision's pins. This is
    # the one home of the source: core/data/pets.py reads it here.
    pets_url: str = field(
        default_factory=lambda: os.environ.get(
            "CATDOG_PETS_URL", "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
        )
    )
    pets_md5: str = field(
        default_factory=lambda: os.environ.get(
            "CATDOG_PETS_MD5", "5c4f3ee8e5d25df40f4fd59a7f44e54c,95a8c909bbe2e81eed6a22bccdf3f68f"
        )
    )
    # Files and folders listed in a dataset before it counts as too big to train on (the whole
    # Kaggle Dogs vs. Cats is 25,000 photos).
    max_files_per_class: int = 100_000
    # Run folders kept under weights/runs/, of any outcome (done, stopped, failed), the newest
    # first; the run in use and the run in progress are kept on top of these. A finished run holds
    # about 95 MB (model.keras) and a few MB of maps, so five cost about half a gigabyte.
    keep_runs: int = field(default_factory=lambda: max(1, _env_int("CATDOG_KEEP_RUNS", 5)))
    # Free space (MB) below which an upload, a download or a new run is refused, and a run in
    # progress stops and discards itself. 1 GB holds what one step may still write past the check:
    # a run's model.keras and maps (about 100 MB), or the biggest single upload (a 200 MB ZIP),
    # with room left for the operating system, logs and Keras' caches on the same disk. The
    # Oxford-IIIT Pet download (about 800 MB of archives, as much again unpacked) is checked
    # against the floor as it starts; a disk that fills during it ends it with one sentence.
    min_free_mb: int = field(default_factory=lambda: max(0, _env_int("CATDOG_MIN_FREE_MB", 1024)))
    # Largest model file (MB) a person may import (page and CLI). Keras' ResNet-50 is about 95 MB
    # as .keras, ResNet-152 and EfficientNetB7 about 240-260 MB; 500 takes those with room. A
    # model loaded, flattened and explained takes about three times its file in memory, so this
    # also bounds what one import can make the server hold.
    max_model_mb: int = field(default_factory=lambda: max(1, _env_int("CATDOG_MAX_MODEL_MB", 500)))

    # Memory (MB) the process keeps for explained photos, every session's together
    # (ui/explain/cache.py), the least recently used going first. A plain entry is its photo at
    # display size (at most 1024x768x3: 2.4 MB) and small maps; a guided method's adds its
    # gradients at the photo's size (9.4 MB a layer), so 256 keeps about a hundred plain ones or
    # half a dozen guided ones at four layers.
    explanation_cache_mb: int = field(
        default_factory=lambda: max(1, _env_int("CATDOG_EXPLANATION_CACHE_MB", 256))
    )
    # Memory (MB) the process keeps for pictures drawn from them (ui/picture_cache.py): coloured
    # maps, overlays, thumbnails, JPEGs, decoded photos, every page's and session's together. A
    # display-size map is 2.4 MB, a thumbnail's overlay a tenth of that: 128 keeps about fifty
    # maps, enough for each visitor's slider and colormap steps to be redrawn from memory.
    picture_cache_mb: int = field(
        default_factory=lambda: max(1, _env_int("CATDOG_PICTURE_CACHE_MB", 128))
    )

    # Photos one request may explain on the Folder page in public mode: a ResNet-50 on a 2-core CPU
    # explains about ten a second in the background, so 200 is a validation split in about half a
    # minute, and a visitor cannot queue hours of work. Local use has no limit.
    folder_max_photos: int = field(
        default_factory=lambda: max(1, _env_int("CATDOG_FOLDER_MAX_PHOTOS", 200))
    )
    # Folder runs going at once on this server, every session's together: each worker takes all
    # cores at nice 10, so a third would only slow the other two. Stopping one frees its place.
    folder_max_runs: int = field(
        default_factory=lambda: max(1, _env_int("CATDOG_FOLDER_MAX_RUNS", 2))
    )
    # Where the Folder page keeps its results (predictions and raw maps, a few KB per photo), one
    # folder per model, photos, method and target; "" = folders/ under the weights folder.
    folder_cache: str = field(default_factory=lambda: os.environ.get("CATDOG_FOLDER_CACHE", ""))
    # A Python module the operator trusts, defining a model's own layers (core/custom_objects.py):
    # imported before any model is loaded; "" = none, a layer Keras does not know is refused.
    custom_objects: str = field(
        default_factory=lambda: os.environ.get("CATDOG_CUSTOM_OBJECTS", "")
    )
    # A public demo (CATDOG_PUBLIC=1; or `public = true` in .streamlit/secrets.toml, which the app
    # reads beside this): training, uploads of data and models, and long work need the sign-in.
    public: bool = field(default_factory=lambda: os.environ.get("CATDOG_PUBLIC") == "1")

    @property
    def data_roots(self) -> tuple[Path, ...]:
        return (self.data_dir, *self.extra_data_roots)

    @property
    def folder_cache_dir(self) -> Path:
        """The Folder page's results: CATDOG_FOLDER_CACHE, else weights_dir/folders."""
        return Path(self.folder_cache) if self.folder_cache else Path(self.weights_dir) / "folders"


def settings() -> Config:
    """This process's Config, built once from its environment (`_built`) and handed down.

    Keyed by the CATDOG_* variables, so a process whose environment changes (a test's
    monkeypatch) gets a Config that says so; a server or a worker, whose environment does not,
    builds exactly one.
    """
    return _built(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CATDOG_"))))


@functools.lru_cache(maxsize=8)
def _built(_environment: tuple) -> Config:
    return Config()
