"""Files as devices and other tools write them: ICC profiles, 16-bit and float photos.

The ICC profiles are written here byte by byte (ICC.1:2001-04, version 2 matrix/TRC), with the
published primaries of Adobe RGB (1998) and ProPhoto RGB (ROMM, ISO 22028-2), so the tests need
no profile installed. The expected colours come from the same standards' D65 matrices, computed
here without LittleCMS: an independent check of core/images.py's conversion.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

D50 = (0.9642, 1.0, 0.8249)
# Primaries adapted to D50 (the profile connection space), as the standards' own profiles hold.
ADOBE_RGB = {
    "primaries": (
        (0.60974, 0.31111, 0.01947),
        (0.20528, 0.62567, 0.06087),
        (0.14919, 0.06322, 0.74457),
    ),
    "gamma": 563 / 256,
}
PROPHOTO_RGB = {
    "primaries": (
        (0.7976749, 0.2880402, 0.0),
        (0.1351917, 0.7118741, 0.0),
        (0.0313534, 0.0000857, 0.8252100),
    ),
    "gamma": 1.8,
}

# From linear RGB to CIE XYZ (D65 for Adobe RGB, D50 for ProPhoto), and XYZ (D65) to linear sRGB.
ADOBE_TO_XYZ_D65 = np.array(
    [
        [0.5767309, 0.1855540, 0.1881852],
        [0.2973769, 0.6273491, 0.0752741],
        [0.0270343, 0.0706872, 0.9911085],
    ]
)
PROPHOTO_TO_XYZ_D50 = np.array(
    [[0.7976749, 0.1351917, 0.0313534], [0.2880402, 0.7118741, 0.0000857], [0.0, 0.0, 0.8252100]]
)
BRADFORD_D50_TO_D65 = np.array(
    [
        [0.9555766, -0.0230393, 0.0631636],
        [-0.0282895, 1.0099416, 0.0210077],
        [0.0122982, -0.0204830, 1.3299098],
    ]
)
XYZ_D65_TO_SRGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)


def icc_profile(name: str, primaries, gamma: float) -> bytes:
    """A version 2 RGB display profile: three primaries (XYZ, D50), one gamma for every channel."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(values) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(s15(v) for v in values)

    text = name.encode("ascii")
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text) + 1) + text + b"\0"
    desc += b"\0" * 8 + b"\0\0\0" + b"\0" * 67  # no Unicode or ScriptCode description
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", xyz(D50)), (b"cprt", b"text\0\0\0\0none\0")]
    tags += [(sig, xyz(p)) for sig, p in zip((b"rXYZ", b"gXYZ", b"bXYZ"), primaries)]
    tags += [(sig, curve) for sig in (b"rTRC", b"gTRC", b"bTRC")]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
    header += b"".join(s15(v) for v in D50) + b"\0" * 48
    return header + struct.pack(">I", len(tags)) + table + body


def adobe_rgb_profile() -> bytes:
    return icc_profile("Adobe RGB (1998)", ADOBE_RGB["primaries"], ADOBE_RGB["gamma"])


def prophoto_rgb_profile() -> bytes:
    return icc_profile("ProPhoto RGB", PROPHOTO_RGB["primaries"], PROPHOTO_RGB["gamma"])


def expected_srgb(rgb, to_xyz_d65: np.ndarray, gamma: float) -> np.ndarray:
    """An RGB colour (0-255) of a gamma-encoded space in sRGB 0-255, by the standards' maths."""
    linear = (np.asarray(rgb, float) / 255.0) ** gamma
    srgb = np.clip(XYZ_D65_TO_SRGB @ (to_xyz_d65 @ linear), 0, 1)
    encoded = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055)
    return encoded * 255.0


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_16bit(values: np.ndarray, significant_bits: int | None = None) -> bytes:
    """A 16-bit PNG as cameras, scanners and OpenCV write it (RGB(A) given, stored as BGR(A)).

    With `significant_bits`, an sBIT chunk after IHDR says how many bits carry data (PNG 1.2).
    """
    stored = _bgr(values)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(stored.astype(np.uint16)))
    data = data.tobytes()
    if significant_bits is None:
        return data
    channels = 3 if values.ndim == 3 else 1
    body = b"sBIT" + bytes([significant_bits] * channels)
    chunk = struct.pack(">I", channels) + body + struct.pack(">I", zlib.crc32(body))
    end_of_ihdr = 8 + 8 + 13 + 4
    return data[:end_of_ihdr] + chunk + data[end_of_ihdr:]


def tiff_by_opencv(values: np.ndarray) -> bytes:
    """A TIFF as OpenCV writes it (16-bit or float colour, RGB given)."""
    stored = _bgr(values)
    ok, data = cv2.imencode(".tiff", np.ascontiguousarray(stored))
    return data.tobytes()


def _bgr(values: np.ndarray) -> np.ndarray:
    """OpenCV's channel order for grey, RGB or RGBA values."""
    if values.ndim == 2:
        return values
    return values[..., [2, 1, 0, 3][: values.shape[2]]]
