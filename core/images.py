"""Turn whatever a user sends into an upright RGB uint8 photo, or refuse it with one line."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.config import Config

UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class ImageError(ValueError):
    """A photo that cannot be used; the message is one line meant for the user."""


def load_image(source: bytes | str | Path, name: str | None = None, config: Config = Config()) -> np.ndarray:
    """Decode a file or bytes into an upright (H, W, 3) uint8 RGB array.

    EXIF rotation is applied, alpha is composited on white, palette/CMYK/greyscale/16-bit images are
    converted, animations give their first frame. Anything else raises ImageError with one line.
    """
    name = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    data = _read_bytes(source, name, config.max_bytes)
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        raise ImageError(f"{name} is a HEIC/HEIF photo, which this app cannot read: export it as JPEG first.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between max_pixels and 2x; we refuse on our own limit below instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > config.max_pixels:
                    raise ImageError(
                        f"{name} is {width}x{height} pixels, over the {config.max_pixels:,}-pixel limit; "
                        "resize it first."
                    )
                image.load()
                return _to_rgb(ImageOps.exif_transpose(image))
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{name} declares too many pixels to decode safely (a decompression bomb?).") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image this app can read (use JPEG, PNG, WebP or BMP).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"{name} is truncated or corrupt ({error}).") from None


def _read_bytes(source: bytes | str | Path, name: str, max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{name}: no such file ({path}).")
        if path.stat().st_size > max_bytes:
            raise ImageError(f"{name} is {path.stat().st_size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit.")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise ImageError(f"{name} is {len(data) / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit.")
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


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 array (for downloads)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def list_images(folder: Path) -> list[Path]:
    """Image files below a folder, sorted; empty when the folder does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
