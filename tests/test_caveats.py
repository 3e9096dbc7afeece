"""When an explanation means little, it is said: a flat map, a tiny photo, a near-chance model."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from core.cli.commands import main
from core.data.uploads import from_photos
from core.explain.caveats import caveats, map_caveat, model_caveats
from core.explain.display import colored_map
from core.explain.explainer import Explanation
from core.images import photo_caveat
from core.models.info import ModelInfo, save_classifier
from tests.support import apps
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import png_bytes


def explanation(raw: float, score: float, fused: bool = False) -> Explanation:
    maps = {"conv_a": np.full((4, 4), raw, np.float32)}
    maps["conv_a"][0, 0] = raw * 2  # not constant: stretched, it would show a "peak"
    if fused:
        maps["fused"] = np.where(maps["conv_a"] > raw, 1.0, 0.5).astype(np.float32)
    return Explanation({"cat": 0.5, "dog": 0.5}, "cat", "cat", score, maps, 0.0)


def test_a_map_of_float_noise_is_flat_and_drawn_blank_not_stretched():
    noise = explanation(1e-13, 1e-12, fused=True)  # an untrained model's map and logit
    assert noise.is_flat("conv_a") and noise.is_flat("fused")
    assert not noise.heatmap("conv_a").any() and not noise.heatmap("fused").any()
    assert "The map is flat: its largest value is 2e-13 for a score of 1e-12" in map_caveat(
        noise, "conv_a"
    )
    signed = colored_map(noise, "conv_a", 4, 4, relu=False)
    assert (signed == signed[0, 0]).all()  # one colour, the diverging map's zero
    evidence = explanation(0.25, 3.0)
    assert not evidence.is_flat("conv_a") and map_caveat(evidence, "conv_a") is None
    assert evidence.heatmap("conv_a").max() == 1.0
    # Measured against the logit: for a logit of 1,000, a map of 2e-4 is noise, one of 0.2 not.
    assert explanation(1e-4, 1e3).is_flat("conv_a")
    assert not explanation(1e-1, 1e3).is_flat("conv_a")


def test_a_photo_far_below_the_input_says_by_how_much():
    assert photo_caveat((10, 10, 3), (224, 224)) == (
        "This photo is 10×10 px, upscaled 22× to the model's 224×224: its prediction and map rest "
        "on a few pixels."
    )
    assert photo_caveat((100, 60, 3), (224, 224)) is None  # 3.7×
    assert "upscaled 6×" in photo_caveat((37, 500, 3), (224, 224))  # a strip: its short side


def test_near_chance_and_random_backbones_are_said():
    names = ("cat", "dog")
    assert "57.0%, near chance (50.0%)" in model_caveats(
        ModelInfo(class_names=names, val_accuracy=0.57)
    )[0]
    assert model_caveats(ModelInfo(class_names=names, val_accuracy=0.9)) == []
    breeds = tuple(f"b{i}" for i in range(37))
    assert model_caveats(ModelInfo(class_names=breeds, val_accuracy=0.26))  # chance 2.7 %
    assert not model_caveats(ModelInfo(class_names=breeds, val_accuracy=0.30))
    random_backbone = model_caveats(ModelInfo(backbone_weights="none", val_accuracy=0.99))
    assert random_backbone == [
        "This model's backbone was not pretrained (random weights, as offline runs start): its "
        "maps mean little."
    ]
    assert model_caveats(ModelInfo(kind="imported", backbone_weights="none")) == []
    info = ModelInfo(backbone_weights="none", val_accuracy=0.55)
    said = caveats(explanation(1e-13, 1e-12), "conv_a", (10, 10, 3), info)
    assert [sentence[:14] for sentence in said] == [
        "The map is fla", "This photo is ", "This model's v", "This model's b",
    ]  # fmt: skip


def untrained(path) -> None:
    """An imported-looking model that has learnt nothing: its logit kernel near 1e-12."""
    model = tiny_model()
    kernel, bias = model.get_layer("logit").get_weights()
    model.get_layer("logit").set_weights([kernel * 1e-12, bias * 0])
    info = ModelInfo(kind="imported", image_size=TINY_SIZE, backbone="tiny", val_accuracy=None)
    save_classifier(model, info, path)


def test_the_cli_record_and_the_page_say_a_map_is_flat(tmp_path, capsys, monkeypatch):
    untrained(tmp_path / "weights" / "model.keras")
    photo = tmp_path / "pet.png"
    photo.write_bytes(png_bytes(seed=1))
    argv = ["explain", str(photo), "--weights", str(tmp_path / "weights" / "model.keras")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["caveats"][0].startswith("The map is flat: its largest value is")
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    at = apps.open_page("app.py")
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=1), "image/png")).run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("The map is flat") for w in warnings)
    assert not any("nothing" in w.lower() and "speaks" in w.lower() for w in warnings)


def test_a_dataset_says_how_many_photos_are_tiny(tmp_path):
    def photo(side: int, shade: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (side, side), (shade, 90, 20)).save(buffer, "PNG")
        return buffer.getvalue()

    photos = {
        "cats": [("a.png", photo(10, 1)), ("b.png", photo(300, 2))],
        "dogs": [("c.png", photo(300, 3)), ("d.png", photo(40, 4))],
    }
    report = from_photos(tmp_path / "data", "mixed", photos)
    assert report.tiny == 2 and (
        "2 photos under 56 px kept: upscaled 4× or more for the model, they teach it little."
        in report.summary()
    )
