"""Turn whatever a user sends into an upright sRGB uint8 photo, or refuse it with one line.

What a photo viewer shows is what the model gets: an embedded ICC profile (a phone's Display P3, a
camera's Adobe RGB, Lightroom's ProPhoto) is applied to sRGB with Pillow's ImageCms (LittleCMS),
and high bit depths (a scanner's 16-bit TIFF, a 12-bit PNG, a float TIFF in [0, 1]) are scaled by
their significant bits, not cut to their top byte.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from core.config import Config, settings
from core.errors import UserError

UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the turn that makes the photo upright (Pillow's own ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# The long side at which every route decodes a photo for the model (training and its report,
# the Explain, Compare, Side by side and Folder pages, `explain` and `evaluate`), so that one photo
# gives one prediction everywhere; the pages show the same decode (a page column is ~450 px, a
# full-width picture ~1,000 px). A JPEG is decoded at a reduced DCT scale, then area-averaged.
MODEL_SIDE = 1024
# A photo upscaled this much or more to the model's input (a 56-px photo for 224 px) carries a
# few pixels of evidence smeared over the grid: said so (core/explain/caveats.py), and counted
# when a dataset is made.
UPSCALED = 4.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(UserError):
    """A photo that cannot be used; the message is one line meant for the user."""


def load_image(
    source: bytes | str | Path,
    name: str | None = None,
    config: Config | None = None,
    max_side: int | None = None,
) -> np.ndarray:
    """Decode a file or bytes into an upright (H, W, 3) uint8 sRGB array.

    EXIF rotation is applied, an embedded ICC profile converts to sRGB (a broken one is ignored),
    alpha is composited on white, palette/CMYK/greyscale images are converted, 16-bit and float
    images are scaled by their content (`_high_depth`), animations give their first frame.
    Anything else raises ImageError with one line. With `max_side`, the photo comes back with its
    long side at most that: a JPEG is decoded at a reduced DCT scale (a 12-MP photo in 50 ms
    instead of 200-450 ms), then area-averaged down.
    """
    config = config or settings()
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
                _check_pixels(*image.size, name, config)
                if max_side:
                    # JPEG only: decode at a scale whose result is still >= max_side.
                    image.draft(None, (max_side, max_side))
                image.load()
                photo = _in_srgb(_to_rgb(image, data), image)
                orientation = image.getexif().get(EXIF_ORIENTATION, 1)
                if orientation in UPRIGHT:
                    photo = photo.transpose(UPRIGHT[orientation])
                return shrink(np.asarray(photo, dtype=np.uint8).copy(), max_side)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(
            f"{name} declares too many pixels to decode safely (a decompression bomb?)."
        ) from None
    except UnidentifiedImageError:
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return shrink(_colour_float_tiff(data, name, config), max_side)
        raise ImageError(
            f"{name} is not an image this app can read (use JPEG, PNG, WebP or BMP)."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"{name} is truncated or corrupt ({error}).") from None


def photo_for_model(
    source: bytes | str | Path, name: str | None = None, config: Config | None = None
) -> np.ndarray:
    """The photo as every route prepares it for the model: decoded with its long side at most
    MODEL_SIDE, (H, W, 3) uint8 sRGB; `to_model_input` then squashes it. ImageError if unreadable.
    """
    return load_image(source, name, config, max_side=MODEL_SIDE)


def photo_caveat(photo_shape: tuple[int, ...], input_size: tuple[int, int]) -> str | None:
    """The photo is far below the model's input: upscaled `UPSCALED` times or more."""
    height, width = photo_shape[:2]
    factor = max(input_size[0] / height, input_size[1] / width)
    if factor < UPSCALED:
        return None
    return (
        f"This photo is {width}×{height} px, upscaled {factor:.0f}× to the model's "
        f"{input_size[1]}×{input_size[0]}: its prediction and map rest on a few pixels."
    )


def upright_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a readable photo as shown upright, read from its header.

    EXIF orientations 5-8 (a quarter turn) swap the two.
    """
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
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


def _to_rgb(image: Image.Image, data: bytes) -> Image.Image:
    """An 8-bit RGB image, still in the file's colour space; alpha composited on white."""
    high = _high_depth(image, data)
    if high is not None:
        return _deep_to_rgb(*high)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, not the black or garbage colour hidden under the alpha.
        rgba = np.asarray(image.convert("RGBA"))
        return _on_white(rgba[..., :3], rgba[..., 3:])
    return image.convert("RGB")


def _deep_to_rgb(values: np.ndarray, significant_bits: int | None) -> Image.Image:
    """8-bit RGB from OpenCV's deep grey (H, W), BGR or BGRA samples, or Pillow's deep grey."""
    if values.ndim == 3 and values.shape[2] == 4:
        colour, alpha = values[..., 2::-1], values[..., 3:]
        return _on_white(_scaled(colour, significant_bits), _scaled(alpha, significant_bits))
    if values.ndim == 3:
        return Image.fromarray(_scaled(values[..., 2::-1], significant_bits))
    return Image.fromarray(np.repeat(_scaled(values, significant_bits)[..., None], 3, axis=2))


def _colour_float_tiff(data: bytes, name: str, config: Config) -> np.ndarray:
    """A float colour TIFF (HDR and scientific tools write them), which Pillow has no mode for.

    Its size is read from its header first: a few compressed megabytes may declare gigapixels.
    """
    size = _tiff_size(data)
    if size is None:
        raise ImageError(f"{name} is not an image this app can read (use JPEG, PNG, WebP or BMP).")
    _check_pixels(*size, name, config)
    values = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if values is None:
        raise ImageError(f"{name} is not an image this app can read (use JPEG, PNG, WebP or BMP).")
    return np.asarray(_deep_to_rgb(values, None))


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a TIFF's first directory (tags 256 and 257), or None if unreadable."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return None
    at = int.from_bytes(data[4:8], "little" if order == "<" else "big")
    found = {}
    count = int.from_bytes(data[at : at + 2], "little" if order == "<" else "big")
    for entry in range(min(count, 512)):
        raw = data[at + 2 + 12 * entry : at + 14 + 12 * entry]
        if len(raw) < 12:
            return None
        tag, kind = np.frombuffer(raw[:4], f"{order}u2")
        value = raw[8:10] if kind == 3 else raw[8:12]  # SHORT or LONG, stored in the entry
        found[int(tag)] = int.from_bytes(value, "little" if order == "<" else "big")
    return (found[256], found[257]) if 256 in found and 257 in found else None


def _check_pixels(width: int, height: int, name: str, config: Config) -> None:
    if width * height > config.max_pixels:
        raise ImageError(
            f"{name} is {width}x{height} pixels, over the {config.max_pixels:,}-pixel limit; "
            "resize it first."
        )


def _on_white(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """uint8 colour over a white background by its uint8 alpha (H, W, 1)."""
    weight = alpha.astype(np.float32) / 255.0
    return Image.fromarray(np.rint(rgb * weight + 255.0 * (1.0 - weight)).astype(np.uint8))


def _high_depth(image: Image.Image, data: bytes) -> tuple[np.ndarray, int | None] | None:
    """(values, significant bits or None) of a photo with more than 8 bits a sample, else None.

    Pillow keeps 16-bit and float greyscale ("I;16", "I", "F") but cuts 16-bit colour to its top
    byte, so 16-bit colour PNG and TIFF files are decoded again by OpenCV, which keeps every bit
    (BGR order, as OpenCV gives it). A PNG's sBIT chunk says how many bits are significant.
    """
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return np.asarray(image), _png_significant_bits(data)
    sixteen_bit_png = image.format == "PNG" and len(data) > 24 and data[24] == 16  # IHDR depth
    deep_tiff = image.format == "TIFF" and max(image.tag_v2.get(258, (8,))) > 8  # BitsPerSample
    if not (sixteen_bit_png or deep_tiff):
        return None
    values = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if values is None:
        return None  # OpenCV cannot read it: Pillow's 8 bits are what there is
    return values, _png_significant_bits(data)


def _png_significant_bits(data: bytes) -> int | None:
    """The largest value of a PNG's sBIT chunk (bits that carry data in each sample), or None."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        if kind == b"sBIT":
            return max(data[at + 8 : at + 8 + length], default=None)
        if kind in (b"IDAT", b"IEND"):
            return None  # sBIT comes before the image data
        at += 12 + length
    return None


def _scaled(values: np.ndarray, significant_bits: int | None) -> np.ndarray:
    """Samples of any depth as uint8, full scale at the depth they were written with.

    Floats: [0, 1] as such (a float TIFF's convention), larger values as 0-255 or by their range.
    Integers: by the significant bits when known, else by the smallest of 8, 10, 12, 14 or 16 bits
    that holds the largest value (a 12-bit camera or scanner file in a 16-bit container is not
    near-black).
    """
    floating = np.issubdtype(values.dtype, np.floating)
    values = np.nan_to_num(values.astype(np.float32))  # float32: a 60-MP scan stays < 1 GB
    top = float(values.max(initial=0))
    if floating and top <= 1.0 and significant_bits is None:
        full_scale = 1.0
    elif significant_bits:
        full_scale = 2.0**significant_bits - 1
    else:
        bits = next((b for b in (8, 10, 12, 14, 16) if top < 2**b), 16)
        full_scale = 2.0**bits - 1 if top <= 65535 else top
    values *= np.float32(255.0 / full_scale)
    values += np.float32(0.5)
    return np.clip(values, 0, 255, out=values).astype(np.uint8)


def _in_srgb(photo: Image.Image, original: Image.Image) -> Image.Image:
    """The RGB `photo` converted to sRGB by the original's ICC profile, as a viewer shows it.

    An RGB profile converts `photo`; a CMYK or grey profile converts the original's own samples.
    No profile, an sRGB one, or one LittleCMS cannot use: `photo` unchanged (the plain
    conversion, which treats the samples as sRGB).
    """
    icc = original.info.get("icc_profile")
    if not icc:
        return photo
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = profile.profile.xcolor_space.strip()
        if space == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return photo  # already sRGB: no transform to pay for
        source = photo if space == "RGB" else original
        if (space, source.mode) not in (("RGB", "RGB"), ("CMYK", "CMYK"), ("GRAY", "L")):
            return photo
        return ImageCms.profileToProfile(source, profile, SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError, AttributeError):
        return photo


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
    """PNG bytes of an RGB uint8 array (for downloads), at zlib level 1: a 12-MP overlay 4-6 times
    faster than at Pillow's default 6 (0.9 s against 5.2 s), for a file 6-38 % larger."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
