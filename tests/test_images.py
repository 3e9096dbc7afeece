"""Every kind of photo a user sends: converted and turned upright, or refused with one line."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from core.config import Config
from core.data.choices import images_in
from core.images import ImageError, encode_png, load_image, readable, upright_size
from tests.support import devices


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient_rgb(width=40, height=20) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    rgb = np.stack(
        [
            np.tile(x, (height, 1)),
            np.full((height, width), 100, np.uint8),
            np.zeros((height, width), np.uint8),
        ],
        -1,
    )
    return Image.fromarray(rgb)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_common_formats_decode_to_rgb_uint8(fmt):
    photo = load_image(encoded(gradient_rgb(), fmt))
    assert photo.shape == (20, 40, 3) and photo.dtype == np.uint8
    assert photo[:, -1, 0].mean() > 200 and photo[:, 0, 0].mean() < 50  # red ramps left to right


def test_cmyk_greyscale_and_palette_become_rgb():
    for mode in ("CMYK", "L", "P"):
        photo = load_image(
            encoded(gradient_rgb().convert(mode), "JPEG" if mode == "CMYK" else "PNG")
        )
        assert photo.shape == (20, 40, 3), mode
    grey = load_image(encoded(Image.new("L", (4, 4), 77), "PNG"))
    assert (grey == 77).all()


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    values = np.array([[0, 16384], [32768, 65535]], dtype=np.uint16)
    photo = load_image(encoded(Image.fromarray(values), "PNG"))
    np.testing.assert_array_equal(photo[..., 0], [[0, 64], [128, 255]])


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    photo = load_image(encoded(rgba, "PNG"))
    assert tuple(photo[0, 0]) == (255, 0, 0) and tuple(photo[3, 3]) == (255, 255, 255)
    palette = Image.new("P", (2, 2), 0)
    palette.putpalette([0, 0, 0, 10, 20, 30])
    palette.putpixel((1, 1), 1)
    photo = load_image(encoded(palette, "PNG", transparency=0))
    assert tuple(photo[0, 0]) == (255, 255, 255) and tuple(photo[1, 1]) == (10, 20, 30)


def test_exif_rotated_photo_is_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: "rotate 90 degrees clockwise to view"
    data = encoded(gradient_rgb(40, 20), "JPEG", exif=exif)
    photo = load_image(data)
    assert photo.shape == (40, 20, 3)
    # Its size as a person sees it, from the header alone: 20 wide, 40 high.
    assert upright_size(data) == (20, 40)
    assert upright_size(encoded(gradient_rgb(40, 20), "PNG")) == (40, 20)


def test_animation_gives_first_frame_and_tiny_images_pass():
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert load_image(gif)[0, 0, 0] > 200
    assert load_image(encoded(Image.new("RGB", (5, 5), (1, 2, 3)), "PNG")).shape == (5, 5, 3)


def test_bad_inputs_refused_with_one_line(tmp_path):
    jpeg = encoded(gradient_rgb(200, 200), "JPEG")
    cases = {
        "not an image": (b"hello, I am text", "is not an image"),
        "truncated": (jpeg[: len(jpeg) // 2], "truncated or corrupt"),
        "zero bytes": (b"", "empty"),
    }
    for label, (data, message) in cases.items():
        with pytest.raises(ImageError, match=message) as caught:
            load_image(data, name="x.jpg")
        assert "\n" not in str(caught.value), label
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")


def test_decompression_bomb_refused_before_decoding():
    big = encoded(Image.new("L", (300, 300)), "PNG")  # 90,000 pixels against a 10,000-pixel limit
    with pytest.raises(ImageError, match="300x300 pixels, over the 10,000-pixel limit"):
        load_image(big, config=Config(max_pixels=10_000))
    # Pillow's own guard (over twice its limit) also ends as a one-line refusal.
    header = encoded(Image.new("1", (20000, 20000)), "PNG")
    with pytest.raises(ImageError, match="too many pixels to decode safely"):
        load_image(header, config=Config(max_pixels=10**12))


def test_png_round_trip_and_listing(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(encode_png(rgb))
    (tmp_path / "notes.txt").write_text("not a photo")
    assert images_in(tmp_path) == [tmp_path / "a" / "x.png"]
    assert readable(tmp_path / "a" / "x.png") is None
    assert "not an image this app can read" in readable(tmp_path / "notes.txt")
    np.testing.assert_array_equal(load_image(tmp_path / "a" / "x.png"), rgb)
    assert images_in(tmp_path / "absent") == []


def test_real_photos_load(pets):
    for path in images_in(pets / "validation")[:20]:
        photo = load_image(path)
        assert photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 64


def test_progressive_jpeg_animated_webp_and_16_bit_rgb_png():
    assert load_image(encoded(gradient_rgb(), "JPEG", progressive=True)).shape == (20, 40, 3)
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    assert (
        load_image(
            encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
        )[0, 0, 0]
        > 200
    )
    import cv2

    deep = np.zeros((3, 4, 3), np.uint16)
    deep[..., 2] = 65535  # OpenCV writes BGR: this is a fully red 48-bit PNG
    photo = load_image(cv2.imencode(".png", deep)[1].tobytes())
    assert photo.shape == (3, 4, 3) and tuple(photo[0, 0]) == (255, 0, 0)


def test_absurd_shapes_are_explained(tiny_weights):
    from core.explain.explainer import Explainer
    from core.explain.overlay import overlay
    from core.models.load import load_classifier

    explainer = Explainer(load_classifier(tiny_weights / "model.keras"))
    for size in [(10000, 3), (3, 10000), (1, 1)]:
        photo = load_image(encoded(Image.new("RGB", size, (90, 120, 30)), "PNG"))
        explanation = explainer.explain([photo])[0]
        assert overlay(photo, explanation.heatmap("conv_b")).shape == (size[1], size[0], 3)


def test_heic_and_oversized_files_are_refused_with_one_line(tmp_path):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    with pytest.raises(
        ImageError, match="HEIC/HEIF photo, which this app cannot read: export it as JPEG"
    ):
        load_image(heic, name="IMG_0001.HEIC")
    with pytest.raises(ImageError, match="over the 0 MB limit"):
        load_image(encoded(gradient_rgb(), "PNG"), config=Config(max_bytes=100))
    path = tmp_path / "big.png"
    path.write_bytes(encoded(gradient_rgb(), "PNG"))
    with pytest.raises(ImageError, match="big.png is 0.0 MB, over"):
        load_image(path, config=Config(max_bytes=100))


def test_display_size_decode_gives_the_full_size_model_input(pets):
    """A 12-MP JPEG decoded at display size gives the full decode's 224 px model input."""
    from core.images import encode_jpeg, to_model_input

    photo = load_image(sorted((pets / "validation" / "dogs").glob("*.jpg"))[5])
    phone = encode_jpeg(cv2.resize(photo, (4032, 3024), interpolation=cv2.INTER_CUBIC))
    full, display = load_image(phone), load_image(phone, max_side=1024)
    assert full.shape == (3024, 4032, 3) and display.shape == (768, 1024, 3)
    gap = np.abs(to_model_input([full], 224) - to_model_input([display], 224))
    assert gap.mean() < 0.5 and np.percentile(gap, 99) <= 2.0, (gap.mean(), np.percentile(gap, 99))
    # A photo smaller than the display size is left untouched.
    small = load_image(encode_jpeg(photo), max_side=1024)
    assert small.shape == photo.shape


# Photos as devices and other tools make them --------------------------------------------------

ADOBE_COLOUR = (200, 120, 60)  # an orange well inside sRGB once converted


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_an_adobe_rgb_photo_is_converted_to_srgb_as_a_viewer_shows_it(fmt):
    image = Image.new("RGB", (16, 16), ADOBE_COLOUR)
    options = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    photo = load_image(encoded(image, fmt, icc_profile=devices.adobe_rgb_profile(), **options))
    want = devices.expected_srgb(ADOBE_COLOUR, devices.ADOBE_TO_XYZ_D65, 563 / 256)
    np.testing.assert_allclose(photo.reshape(-1, 3).mean(0), want, atol=2.5)
    assert np.abs(want - ADOBE_COLOUR).max() > 20  # read as sRGB, the colour would be far off


def test_a_prophoto_photo_is_converted_to_srgb():
    colour = (150, 120, 90)
    image = Image.new("RGB", (8, 8), colour)
    photo = load_image(encoded(image, "PNG", icc_profile=devices.prophoto_rgb_profile()))
    to_xyz_d65 = devices.BRADFORD_D50_TO_D65 @ devices.PROPHOTO_TO_XYZ_D50
    want = devices.expected_srgb(colour, to_xyz_d65, 1.8)
    np.testing.assert_allclose(photo.reshape(-1, 3).mean(0), want, atol=2.5)
    assert np.abs(want - colour).max() > 20


def test_a_broken_or_srgb_profile_leaves_the_plain_conversion():
    image = gradient_rgb()
    plain = load_image(encoded(image, "PNG"))
    for profile in (b"not a profile", b"acsp" * 40):
        np.testing.assert_array_equal(
            load_image(encoded(image, "PNG", icc_profile=profile)), plain
        )
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    np.testing.assert_array_equal(load_image(encoded(image, "PNG", icc_profile=srgb)), plain)


def test_a_12_bit_png_in_a_16_bit_container_is_scaled_by_its_range():
    rgb = np.full((6, 8, 3), (2000, 1000, 4000), np.uint16)  # 12-bit values, R G B
    grey = np.full((6, 8), 2000, np.uint16)
    np.testing.assert_array_equal(load_image(devices.png_16bit(rgb))[0, 0], [125, 62, 249])
    assert (load_image(devices.png_16bit(grey)) == 125).all()  # not 8, the top byte alone


def test_a_pngs_sbit_chunk_says_the_depth():
    dark = np.full((4, 4, 3), 1000, np.uint16)  # a dark 12-bit photo: its range alone says 10 bits
    assert (load_image(devices.png_16bit(dark)) == 249).all()
    assert (load_image(devices.png_16bit(dark, significant_bits=12)) == 62).all()
    assert (load_image(devices.png_16bit(dark[..., 0], significant_bits=12)) == 62).all()


def test_full_range_16_bit_colour_keeps_its_low_bits():
    ramp = np.linspace(0, 65535, 64).astype(np.uint16)
    rgb = np.stack([np.tile(ramp, (2, 1))] * 3, -1)
    for data in (devices.png_16bit(rgb), devices.tiff_by_opencv(rgb)):  # phone RAW, scanner
        np.testing.assert_array_equal(load_image(data)[0, :, 0], np.rint(ramp / 257).astype(int))


def test_float_tiffs_in_0_1_are_read_as_such():
    grey = np.full((4, 5), 0.5, np.float32)
    assert (load_image(encoded(Image.fromarray(grey), "TIFF")) == 128).all()
    colour = np.full((4, 5, 3), (0.25, 0.5, 1.0), np.float32)
    np.testing.assert_array_equal(load_image(devices.tiff_by_opencv(colour))[0, 0], [64, 128, 255])


def test_a_16_bit_png_with_alpha_is_composited_on_white():
    rgba = np.zeros((2, 4, 4), np.uint16)
    rgba[..., 3] = 0  # transparent: white
    rgba[0, 0] = (65535, 0, 0, 65535)  # opaque red at the top left
    photo = load_image(devices.png_16bit(rgba))
    assert tuple(photo[0, 0]) == (255, 0, 0) and tuple(photo[1, 3]) == (255, 255, 255)


def test_a_float_tiff_over_the_pixel_limit_is_refused_from_its_header():
    colour = np.full((300, 200, 3), 0.5, np.float32)  # Pillow cannot open float colour TIFFs
    with pytest.raises(ImageError, match="is 200x300 pixels, over the 1,000-pixel limit"):
        load_image(devices.tiff_by_opencv(colour), config=Config(max_pixels=1000))
