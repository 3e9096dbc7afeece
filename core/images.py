"""Turn whatever a user sends into an upright RGB uint8 photo, or refuse it with one line."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.config import Config
from core.errors import UserError

UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class ImageError(UserError):
    """A photo that cannot be used; the message is one line meant for the user."""


def load_image(
    source: bytes | str | Path,
    name: str | None = None,
    config: Config | None = None,
    max_side: int | None = None,
) -> np.ndarray:
    """Decode a file or bytes into an upright (H, W, 3) uint8 RGB array.

    EXIF rotation is applied, alpha is composited on white, palette/CMYK/greyscale/16-bit images
    are converted, animations give their first frame. Anything else raises ImageError with one
    line. With `max_side`, the photo comes back with its long side at most that: a JPEG is decoded
    at a reduced DCT scale (a 12-MP photo in 50 ms instead of 200-450 ms), then area-averaged down.
    """
    config = config or Config()
    name = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    data = _read_bytes(source, name, config.max_bytes)
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        raise ImageError(
            f"{name} is a HEIC/HEIF photo, which this app cannot read: export it as JPEG first."
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between max_pixels and 2x; our own limit below refuses instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > config.max_pixels:
                    raise ImageError(
                        f"{name} is {width}x{height} pixels, over the {config.max_pixels:,}-pixel "
                        "limit; resize it first."
                    )
                if max_side:
                    # JPEG only: decode at a scale whose result is still >= max_side.
                    image.draft(None, (max_side, max_side))
                image.load()
                return shrink(_to_rgb(ImageOps.exif_transpose(image)), max_side)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(
            f"{name} declares too many pixels to decode safely (a decompression bomb?)."
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is not an image this app can read (use JPEG, PNG, WebP or BMP)."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"{name} is truncated or corrupt ({error}).") from None


def upright_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a readable photo as shown upright, read from its header.

    EXIF orientations 5-8 (a quarter turn) swap the two.
    """
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def readable(source: bytes | str | Path, name: str | None = None) -> str | None:
    """None when `source` decodes as a photo, else the one-line reason it does not."""
    try:
        load_image(source, name)
    except ImageError as error:
        return str(error)
    return None


def _read_bytes(source: bytes | str | Path, name: str, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{name}: no such file ({path}).")
        if path.stat().st_size > max_bytes:
            raise ImageError(
                f"{name} is {path.stat().st_size / 2**20:.1f} MB, over the "
                f"{max_bytes / 2**20:.0f} MB limit."
            )
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit."
        )
    if not data:
        raise ImageError(f"{name} is empty (0 bytes).")
    return data


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit and float greyscale: scale to 8 bits instead of letting convert() clip at 255.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, not the black or garbage colour hidden under the alpha.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def shrink(photo: np.ndarray, max_side: int | None) -> np.ndarray:
    """The photo with its long side at most `max_side`, area-averaged; unchanged if smaller.

    Area averaging, unlike sampling, does not alias.
    """
    height, width = photo.shape[:2]
    scale = (max_side or 0) / max(height, width)
    if not max_side or scale >= 1.0:
        return photo
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)


def to_model_input(photos: list[np.ndarray], size: int | tuple[int, int]) -> np.ndarray:
    """Squash each RGB photo to size x size (or (height, width)), as float32 0-255, (N, h, w, 3).

    Alike in training, app and CLI.

    Squashing, not cropping, keeps the whole photo in view, so the map lines up with it when
    stretched back. Shrinking averages areas, so a 12-MP photo and its display-size copy give
    nearly the same input (bilinear sampling would alias: it reads 4 of the ~300 pixels each input
    pixel stands for).
    """
    return np.stack([_squash(p, size) for p in photos]).astype(np.float32)


def _squash(photo: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    height, width = (size, size) if isinstance(size, int) else size
    shrinking = photo.shape[0] >= height and photo.shape[1] >= width
    return cv2.resize(
        photo, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB uint8 array: what the page sends the browser.

    Streamlit sends these bytes on as they are.
    """
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 array (for downloads)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()
