"""Fuzzing the loader the app and the CLI share: random bytes and mutated real images.

10,000 cases in all. Every case ends as an upright RGB image or a one-line ImageError: no other
exception, no hang.
"""

import io
import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.config import ROOT
from core.images import ImageError, load_image

OUTCOMES: Counter = Counter()
CASES = 5_000  # per strategy


def seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    out = []
    for fmt, options in [
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("PNG", {}),
        ("WEBP", {}),
        ("GIF", {}),
        ("BMP", {}),
    ]:
        buffer = io.BytesIO()
        photo.save(buffer, format=fmt, **options)
        out.append(buffer.getvalue())
    return out


SEEDS = seeds()


def check(data: bytes) -> None:
    try:
        photo = load_image(data, name="fuzz")
    except ImageError as error:
        assert "\n" not in str(error) and str(error)
        OUTCOMES["refused"] += 1
        return
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    OUTCOMES["decoded"] += 1


@settings(
    max_examples=CASES, deadline=2000, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(st.binary(max_size=4096))
def random_bytes(data):
    check(data)


@settings(
    max_examples=CASES, deadline=2000, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(
    st.sampled_from(range(len(SEEDS))),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12),
    st.one_of(st.none(), st.integers(0, 10**6)),
)
def mutated_images(seed, flips, cut):
    data = bytearray(SEEDS[seed])
    for position, value in flips:
        data[position % len(data)] = value  # overwrite bytes anywhere, headers included
    check(bytes(data[: cut % len(data)] if cut is not None else data))


@pytest.mark.slow
def test_fuzz_the_loader():
    """Both strategies in one test, then the counts the README reports.

    One test, so that a worker of its own may run it.
    """
    random_bytes()
    mutated_images()
    assert sum(OUTCOMES.values()) >= 2 * CASES and OUTCOMES["decoded"] and OUTCOMES["refused"]
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "fuzz.json").write_text(json.dumps(dict(OUTCOMES)))
