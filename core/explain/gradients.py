"""The guided methods' 3-channel input gradient as a picture the page shows beside the overlay."""

from __future__ import annotations

import cv2
import numpy as np

# |g| at this percentile maps to full colour: a few extreme pixels would otherwise leave the rest
# grey.
SCALE_PERCENTILE = 99.0


def gradient_picture(gradient: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, 3) signed gradient -> (height, width, 3) uint8 RGB, grey where it is zero.

    Each channel shows its own sign and size: 128 + 127 * g / s, clipped, with s the
    SCALE_PERCENTILE-th percentile of |g| over the picture (a zero gradient stays plain grey).
    Stretched bilinearly from the model's input to (height, width).
    """
    scale = np.percentile(np.abs(gradient), SCALE_PERCENTILE) if gradient.size else 0.0
    if scale <= 0:
        scale = max(float(np.abs(gradient).max(initial=0.0)), 1.0)
    unit = np.clip(gradient / scale, -1.0, 1.0).astype(np.float32)
    unit = cv2.resize(unit, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(128.0 + 127.0 * unit + 0.5, 0, 255).astype(np.uint8)
