"""`python -m core explain`: JSON lines, overlays at the photo's size, refusals, exit codes."""

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli.commands import main
from core.config import Config
from core.images import load_image
from core.models.info import file_sha256
from tests.support.photos import make_located_pets, make_pets


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def write_photo(path, size=(30, 20)):
    rgb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def test_explain_writes_overlays_and_prints_json(capsys, tiny_weights, tmp_path):
    photos = [write_photo(tmp_path / "a.png", (30, 20)), write_photo(tmp_path / "b.jpg", (17, 41))]
    out = tmp_path / "out"
    code, records, _ = run(
        capsys,
        "explain",
        *photos,
        "--weights",
        tiny_weights / "model.keras",
        "--out",
        out,
        "--layer",
        "conv_a",
        "--target",
        "cat",
        "--raw",
    )
    assert code == 0 and [r["image"] for r in records] == [str(p) for p in photos]
    for record, photo, size in zip(records, photos, [(20, 30), (41, 17)]):
        assert record["layer"] == "conv_a" and record["target"] == "cat"
        assert (
            record["label"] in ("cat", "dog")
            and abs(sum(record["probabilities"].values()) - 1) < 1e-5
        )
        assert load_image(out / f"{photo.stem}_overlay.png").shape[:2] == size
        assert np.load(out / f"{photo.stem}_raw.npy").shape == (8, 8)


def test_refused_photo_gives_an_error_line_and_non_zero_exit(capsys, tiny_weights, tmp_path):
    good = write_photo(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code, records, _ = run(
        capsys,
        "explain",
        good,
        bad,
        tmp_path / "missing.png",
        "--weights",
        tiny_weights / "model.keras",
        "--out",
        tmp_path / "out",
    )
    assert code == 1
    errors = {r["image"]: r["error"] for r in records if "error" in r}
    assert set(errors) == {str(bad), str(tmp_path / "missing.png")}
    assert (
        "truncated or corrupt" in errors[str(bad)]
        and "no such file" in errors[str(tmp_path / "missing.png")]
    )
    assert [r["image"] for r in records if "label" in r] == [str(good)]


def test_missing_weights_and_bad_options_are_one_line(capsys, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    code, records, err = run(capsys, "explain", photo, "--weights", tmp_path / "absent.keras")
    assert code == 2 and records == [] and err.count("\n") == 1 and "No model at" in err
    code, _, err = run(
        capsys, "explain", photo, "--weights", tmp_path / "absent.keras", "--alpha", "3"
    )
    assert code == 2 and "--alpha" in err


def test_bad_target_and_layer_refused(capsys, tiny_weights, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    code, _, err = run(
        capsys, "explain", photo, "--weights", tiny_weights / "model.keras", "--target", "fox"
    )
    assert code == 2 and "Target 'fox'" in err
    code, _, err = run(
        capsys, "explain", photo, "--weights", tiny_weights / "model.keras", "--layer", "nope"
    )
    assert code == 2 and "Layer 'nope' is not in the model" in err


# `python -m core`'s commands, in the order its help lists them (core/cli/__init__.py).
COMMANDS = ("explain", "evaluate", "train", "import-model", "strategies", "merge", "download-data")


def help_commands(text: str) -> dict[str, str]:
    """The commands an argparse help offers: name -> its help line.

    Read twice: the {a,b,...} list of choices under "positional arguments:", and below it one
    line per command, indented four spaces, its help beside it or on the next line.
    """
    choices = re.search(r"^  \{([\w,-]+)\}$", text, re.M)
    assert choices, f"no list of commands in:\n{text}"
    listed = re.findall(r"^    ([\w-]+)(?: {2,}(\S.*))?\n(?: {5,}(\S.*))?", text, re.M)
    offered = {name: beside or below for name, beside, below in listed}
    assert list(offered) == choices.group(1).split(","), text
    return offered


def test_help_commands_reads_an_argparse_help():
    parser = argparse.ArgumentParser(prog="tool")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("a", help="the first")
    commands.add_parser("a-rather-long-command", help="the second, below its name")
    assert help_commands(parser.format_help()) == {
        "a": "the first",
        "a-rather-long-command": "the second, below its name",
    }


@pytest.mark.slow
def test_module_help_lists_the_commands(capsys):
    result = subprocess.run(
        [sys.executable, "-m", "core", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    offered = help_commands(result.stdout)
    assert tuple(offered) == COMMANDS
    assert all(offered.values()), offered  # each with its line of help
    for command in COMMANDS:  # and each answers its own --help
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: python -m core {command} ")


def test_real_photos_through_the_cli(capsys, pets, tiny_weights, tmp_path):
    photos = (
        sorted((pets / "validation" / "cats").glob("*.jpg"))[:3]
        + sorted((pets / "validation" / "dogs").glob("*.jpg"))[:3]
    )
    code, records, _ = run(
        capsys, "explain", *photos, "--weights", tiny_weights / "model.keras", "--out", tmp_path
    )
    assert code == 0 and len(records) == 6
    assert all((tmp_path / f"{p.stem}_overlay.png").is_file() for p in photos)


def test_explain_with_another_method_and_smoothing(capsys, tiny_weights, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    code, records, _ = run(
        capsys,
        "explain",
        photo,
        "--weights",
        tiny_weights / "model.keras",
        "--out",
        tmp_path,
        "--method",
        "Score-CAM",
        "--top-n",
        "3",
        "--aug-smooth",
        "--eigen-smooth",
        "--raw",
    )
    assert code == 0 and records[0]["method"] == "Score-CAM"
    assert np.isfinite(np.load(tmp_path / "a_raw.npy")).all()


def test_evaluate_prints_a_table_per_method(capsys, tiny_weights, tmp_path):
    (tmp_path / "photos").mkdir()
    for i in range(3):
        write_photo(tmp_path / "photos" / f"p{i}.png")
    code = main(
        [
            "evaluate",
            "--data",
            str(tmp_path / "photos"),
            "--weights",
            str(tiny_weights / "model.keras"),
            "--method",
            "Grad-CAM",
            "Eigen-CAM",
            "--steps",
            "5",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0].startswith("3 photos from")
    assert out[1] == (
        "| method | deletion AUC | random deletion AUC | insertion AUC | random insertion AUC "
        "| avg drop % | increase |"
    )
    rows = [
        line for line in out if line.startswith("| Grad-CAM") or line.startswith("| Eigen-CAM")
    ]
    assert len(rows) == 2 and all(len(row.split("|")) == 9 for row in rows)
    values = [float(v) for v in rows[0].split("|")[2:-1]]
    assert all(0 <= v <= 1 for v in values[:4])


def test_evaluate_refuses_an_empty_folder(capsys, tiny_weights, tmp_path):
    assert (
        main(["evaluate", "--data", str(tmp_path), "--weights", str(tiny_weights / "model.keras")])
        == 2
    )
    assert "No photos under" in capsys.readouterr().err


def three_class_weights(tmp_path):
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model

    names = ("Abyssinian", "Bengal", "beagle")
    info = ModelInfo(class_names=names, image_size=TINY_SIZE, backbone="tiny")
    return save_classifier(tiny_model(seed=4, classes=3), info, tmp_path / "m.keras")


def test_explain_k_classes_by_name_and_top1_vs_top2(capsys, tmp_path):
    weights, photo = three_class_weights(tmp_path), write_photo(tmp_path / "a.png")
    common = ["--weights", weights, "--out", tmp_path / "out"]
    code, (named,), _ = run(capsys, "explain", photo, *common, "--target", "Bengal")
    assert code == 0 and named["target"] == named["explained"] == "Bengal"
    assert list(named["probabilities"]) == sorted(
        named["probabilities"], key=named["probabilities"].get, reverse=True
    )
    code, (top,), _ = run(capsys, "explain", photo, *common, "--target", "top1-vs-top2")
    first, second = list(top["probabilities"])[:2]
    assert code == 0 and top["label"] == first and top["target"] == "top1-vs-top2"
    assert top["explained"] == f"top-1 vs top-2 ({first} minus {second})"
    code, _, err = run(capsys, "explain", photo, *common, "--target", "dog minus cat")
    assert code == 2 and "3 classes" in err
    # ImageNet's classes are the zero-shot model's, not a fine-tuned one's.
    code, _, err = run(capsys, "explain", photo, *common, "--classes", "imagenet")
    assert code == 2 and "needs the zero-shot model" in err and err.count("\n") == 1


def test_evaluate_scores_the_top_class_for_top1_vs_top2(capsys, tmp_path):
    (tmp_path / "photos").mkdir()
    for i in range(2):
        write_photo(tmp_path / "photos" / f"p{i}.png")
    argv = ["evaluate", "--data", tmp_path / "photos", "--weights", three_class_weights(tmp_path)]
    code = main([*map(str, argv), "--method", "Grad-CAM", "--target", "top1-vs-top2"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and "target top1-vs-top2" in out[0]
    (row,) = [line for line in out if line.startswith("| Grad-CAM")]
    assert all(0 <= float(v) <= 1 for v in row.split("|")[2:6])


# What TensorFlow 2.21 printed on every `python -m core train` before core/tf_logs.py.
HARMLESS_LINE = (
    "E0000 00:00:1796058819.192693    9131 node_def_util.cc:682] NodeDef mentions attribute "
    "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset; signature="
    "input_dataset:variant, other_arguments: -> handle:variant; attr=f:func> This may be expected "
    "if your graph generating binary is newer  than this binary. Unknown attributes will be "
    "ignored. NodeDef: {{node ParallelMapDatasetV2/_14}}"
)
ABSL_NOTICE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
)


def python_m_core(*argv, timeout=600, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# What TensorFlow 2.21 prints on a CPU where oneDNN is on (TF_ENABLE_ONEDNN_OPTS=1 or its own
# choice), at level 2 and, for the feature guard's two lines, at level 0; the last with float16.
CPU_AND_BUILD_LINES = (
    "I0000 00:00:1796667496.236329    2696 port.cc:153] oneDNN custom operations are on. You may "
    "see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796667502.502623    3672 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.",
    "W0000 00:00:1796667502.502623    3672 some_future_notice.cc:12] Any warning of the build.",
    "E0000 00:00:1796667506.312343    3672 util.cc:131] oneDNN supports DT_HALF only on platforms "
    "with AVX-512. Falling back to the default Eigen-based implementation if present.",
)


def test_only_the_known_harmless_lines_are_left_out():
    from core.tf_logs import forward

    real = HARMLESS_LINE.replace("use_unbounded_threadpool", "num_parallel_calls")
    real_dnn = CPU_AND_BUILD_LINES[-1].replace("Falling back", "Aborting instead of falling back")
    real_fatal = "F0000 00:00:1796667506.312343    3672 port.cc:153] Check failed: oneDNN"
    lines = [ABSL_NOTICE, HARMLESS_LINE, real, "error: Data folder x does not exist.", ""]
    lines += [f"note: {ABSL_NOTICE}", "Traceback (most recent call last):"]
    lines += [*CPU_AND_BUILD_LINES, real_dnn, real_fatal, f"note: {CPU_AND_BUILD_LINES[0]}"]
    out = io.BytesIO()
    forward(io.BytesIO("\n".join(lines).encode()), out)
    kept = [lines[2], lines[3], "", lines[5], lines[6], real_dnn, real_fatal, lines[-1]]
    assert out.getvalue().decode().split("\n") == kept


@pytest.mark.parametrize("onednn", ["0", "1"])
def test_a_persons_error_is_one_line_whether_onednn_is_on_or_off(tmp_path, onednn):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}
    result = python_m_core("train", "--data", tmp_path / "absent", env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "error: Data folder absent does not exist.\n"
    if onednn == "1":  # the line the filter left out is TensorFlow's, and --verbose shows it
        verbose = python_m_core("--verbose", "train", "--data", tmp_path / "absent", env=env)
        assert "oneDNN custom operations are on" in verbose.stderr


def test_verbose_lets_tensorflows_own_lines_through(tmp_path):
    result = python_m_core("--verbose", "train", "--data", tmp_path / "absent")
    assert result.returncode == 2 and "error: Data folder absent does not exist." in result.stderr
    # TF_CPP_MIN_LOG_LEVEL 0: TensorFlow's import logs at INFO in absl's format (on x86 Linux,
    # at least which CPU instructions this build leaves unused).
    assert re.search(r"^[IWE]\d{4} [\d:.]+ +\d+ \w+\.cc:\d+\] ", result.stderr, re.MULTILINE)
    # An option of `python -m core`, before the command: read there before TensorFlow loads.
    after = python_m_core("train", "--verbose", "--data", tmp_path)
    assert after.returncode == 2 and "unrecognized arguments: --verbose" in after.stderr


@pytest.mark.slow
@pytest.mark.resnet
def test_training_prints_its_own_lines_and_verbose_tensorflows_too(tmp_path):
    make_pets(tmp_path / "pets", 2, 1)
    argv = ["train", "--data", tmp_path / "pets", "--backbone-weights", "none", "--epochs", "1"]
    argv += ["--fine-tune-epochs", "0", "--batch-size", "4", "--out", tmp_path / "weights"]
    quiet, verbose = python_m_core(*argv), python_m_core("--verbose", *argv)
    assert quiet.returncode == verbose.returncode == 0
    assert quiet.stderr == "" and "Done: validation accuracy" in quiet.stdout
    assert "use_unbounded_threadpool" in verbose.stderr and ABSL_NOTICE in verbose.stderr


@pytest.mark.slow
@pytest.mark.resnet
def test_a_page_started_runs_log_holds_its_own_lines_only(tmp_path):
    from core.training import jobs
    from core.training.files import LOG
    from core.training.recipe import TrainConfig
    from core.workers.records import PROGRESS

    settings = TrainConfig(epochs=1, fine_tune_epochs=0, backbone_weights="none", batch_size=4)
    run_dir = jobs.start(make_pets(tmp_path / "pets", 2, 1), tmp_path / "weights", settings)
    deadline = time.time() + 300
    while jobs.lock_holder(tmp_path / "weights") and time.time() < deadline:
        time.sleep(1)
    assert json.loads((run_dir / PROGRESS).read_text())["state"] == "done"
    log = (run_dir / LOG).read_text()
    assert "Done: validation accuracy" in log
    assert "use_unbounded_threadpool" not in log and ABSL_NOTICE not in log


def own_cnn(path, classes=3):
    """A person's Sequential CNN (softmax head, trained with 1/255), saved at `path`."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    model.save(path)
    return model


def test_import_model_stores_it_and_explain_uses_it(capsys, tmp_path):
    own_cnn(tmp_path / "mine.h5")
    weights = tmp_path / "weights"
    code, out, err = run(
        capsys, "import-model", tmp_path / "mine.h5", "--classes", "ant,bee,wasp",
        "--preprocessing", "rescale", "--name", "Bugs", "--weights-dir", weights,
    )  # fmt: skip
    stored = weights / "imported" / "bugs" / "model.keras"
    assert code == 0 and out[0]["model"] == str(stored) and stored.is_file()
    assert out[0]["default_layer"] == "conv2" and out[0]["input_size"] == [24, 24]
    assert json.loads(stored.with_suffix(".json").read_text())["preprocessing"] == "rescale"
    photo = write_photo(tmp_path / "p.png")
    code, records, err = run(
        capsys, "explain", photo, "--weights", stored, "--layer", "conv1", "--out", tmp_path / "o"
    )
    assert code == 0 and records[0]["label"] in ("ant", "bee", "wasp") and err == ""
    assert records[0]["layer"] == "conv1"


def test_import_model_without_preprocessing_or_with_a_bad_file_is_one_line(capsys, tmp_path):
    own_cnn(tmp_path / "mine.keras")
    weights = tmp_path / "weights"
    code, _, err = run(
        capsys, "import-model", tmp_path / "mine.keras", "--classes", "a,b,c",
        "--weights-dir", weights,
    )  # fmt: skip
    assert code == 2 and err.startswith("error: Give --preprocessing") and err.count("\n") == 1
    (tmp_path / "notes.keras").write_text("hello")
    code, _, err = run(
        capsys, "import-model", tmp_path / "notes.keras", "--classes", "a,b",
        "--preprocessing", "none", "--weights-dir", weights,
    )  # fmt: skip
    assert code == 2 and "not a Keras model file" in err and err.count("\n") == 1
    assert not weights.exists()


def test_explain_and_evaluate_take_a_plain_keras_file_with_flags(capsys, tmp_path):
    own_cnn(tmp_path / "plain.keras", classes=2)
    photos = tmp_path / "photos"
    photos.mkdir()
    write_photo(photos / "a.png")
    flags = ["--weights", tmp_path / "plain.keras", "--classes", "cat,dog"]
    code, records, err = run(
        capsys, "explain", photos / "a.png", *flags, "--preprocessing", "tf", "--out", tmp_path
    )
    assert code == 0 and records[0]["label"] in ("cat", "dog") and err == ""
    evaluate = ["evaluate", "--data", photos, *flags, "--preprocessing", "tf", "--steps", "3"]
    code = main(list(map(str, evaluate)))
    out = capsys.readouterr().out
    assert code == 0 and "| Grad-CAM |" in out
    # No sidecar and no --classes: one line that says how.
    code, _, err = run(capsys, "explain", photos / "a.png", "--weights", tmp_path / "plain.keras")
    assert code == 2 and "--classes a,b" in err
    # No sidecar and no --preprocessing: asked for as import-model asks, nothing assumed.
    explain = ["explain", photos / "a.png", "--out", tmp_path / "o"]
    for command in (explain, ["evaluate", "--data", photos]):
        code, out, err = run(capsys, *command, *flags)
        assert code == 2 and err.count("\n") == 1 and not out
        assert err.startswith("error: plain.keras has no sidecar, so give --preprocessing (")
        assert "no known backbone was recognised" in err


def test_a_second_preprocessing_for_a_model_this_app_built_is_refused(capsys, tmp_path):
    from core.config import Config
    from core.models.build import build_classifier
    from core.models.info import ModelInfo, save_classifier

    path = tmp_path / "built.keras"
    model = build_classifier("none", Config(image_size=32))
    save_classifier(model, ModelInfo(image_size=32, backbone_weights="none"), path)
    photo = write_photo(tmp_path / "p.png")
    code, records, err = run(
        capsys, "explain", photo, "--weights", path, "--preprocessing", "caffe",
        "--out", tmp_path / "o",
    )  # fmt: skip
    assert code == 2 and not records
    assert err.splitlines()[-1].endswith("(that would preprocess twice).")
    code, records, err = run(
        capsys, "import-model", path, "--classes", "cat,dog", "--preprocessing", "rescale",
        "--weights-dir", tmp_path / "w",
    )  # fmt: skip
    assert code == 2 and "preprocess twice" in err and not (tmp_path / "w").exists()


def test_flags_win_over_a_sidecar_and_the_cli_says_so(capsys, tiny_weights, tmp_path):
    photo = write_photo(tmp_path / "p.png")
    model = tiny_weights / "model.keras"
    code, records, err = run(
        capsys, "explain", photo, "--weights", model, "--classes", "kitten,puppy",
        "--preprocessing", "none", "--out", tmp_path / "o",
    )  # fmt: skip
    assert code == 0 and records[0]["label"] in ("kitten", "puppy")
    assert err.strip() == "note: --classes/--preprocessing given: they win over model.json"
    code, _, err = run(capsys, "explain", photo, "--classes", "a,b", "--out", tmp_path / "o")
    assert code == 2 and "--weights" in err


@pytest.mark.parametrize("count", [1, 2, 3, 7, 12])
def test_shards_cover_the_sorted_list_exactly_once_whatever_the_listing_order(
    count, monkeypatch, tmp_path
):
    from core.data import shards
    from core.data.shards import Shard, listed_photos

    # 10 photos in nested folders (12 shards: some empty), a file beside a folder of that stem.
    names = ["b/x/1.png", "b/x/0.png", "b/2.png", "a/9.png", "a/b/3.png", "a.png", "c/d/e/4.png"]
    names += ["b/x0.png", "ab.png", "a/a.png"]
    for name in names:
        (tmp_path / "photos" / name).parent.mkdir(parents=True, exist_ok=True)
        write_photo(tmp_path / "photos" / name, (4, 4))
    walk = shards.images_in
    first = listed_photos([tmp_path / "photos"], 8)
    # The same folder listed in another order: reversed, then shuffled, as a file system may.
    order = np.random.default_rng(count).permutation(len(names))

    def reordered(*args, **kwargs):
        walked = list(walk(*args, **kwargs))[::-1]
        return [walked[i] for i in order]

    monkeypatch.setattr(shards, "images_in", reordered)
    second = listed_photos([tmp_path / "photos"], 8)
    assert [each.key for each in first] == sorted(names) == [each.key for each in second]
    taken = []
    for index in range(count):
        positions = Shard(index, count).positions(len(first))
        assert [first[p] for p in positions] == [second[p] for p in positions]
        assert len(positions) in (len(first) // count, -(-len(first) // count))
        taken += positions
    assert sorted(taken) == list(range(len(first)))


def test_a_bad_shard_is_one_line(capsys, tiny_weights, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    for shard in ("3/3", "-1/3", "0/0", "1", "a/b"):
        weights = tiny_weights / "model.keras"
        code, records, err = run(
            capsys, "explain", photo, "--weights", weights, f"--shard={shard}"
        )
        assert code == 2 and records == [] and err.count("\n") == 1
        assert f"--shard {shard!r}" in err and "numbered from 0" in err


def located_evaluate(data, weights, *more):
    return [
        "evaluate",
        "--data",
        data / "validation",
        "--weights",
        weights,
        "--annotations",
        data / "annotations",
        "--method",
        "Layer-CAM",
        "--layer",
        "all",
        "--steps",
        "2",
        "--limit",
        "0",
        *more,
    ]


def test_three_evaluate_shards_merge_into_one_runs_table(capsys, tiny_weights, tmp_path):
    data = make_located_pets(tmp_path / "located", n_train=0, n_validation=2, size=16)
    weights = tiny_weights / "model.keras"
    (data / "validation" / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 not a photo")
    assert main(list(map(str, located_evaluate(data, weights)))) == 0
    single, err = capsys.readouterr()
    assert single.startswith("4 photos from") and "layers conv_a, conv_b, fused" in single
    assert "(4 with a mask, 1 unreadable left out)" in single and "broken.jpg" in err
    rows = [line.split("|")[1:3] for line in single.splitlines()[3:]]
    assert [[c.strip() for c in row] for row in rows] == [
        ["Layer-CAM", layer] for layer in ("conv_a", "conv_b", "fused")
    ] + [["centre prior", "–"]]
    for index in range(3):
        more = ["--shard", f"{index}/3", "--out", tmp_path / "shards"]
        assert main(list(map(str, located_evaluate(data, weights, *more)))) == 0
        shard_out = capsys.readouterr().out
        assert shard_out.startswith(f"{[1, 2, 1][index]} photos from")  # shard 0: broken.jpg
    assert main(["merge", str(tmp_path / "shards")]) == 0
    assert capsys.readouterr().out == single


def test_explain_shards_of_a_folder_merge_into_its_records(capsys, tiny_weights, tmp_path):
    data = make_located_pets(tmp_path / "located", n_train=0, n_validation=3, size=16)
    folder, out = data / "validation", tmp_path / "out"
    (folder / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 not a photo")
    for index in range(2):
        argv = ["explain", folder, "--weights", tiny_weights / "model.keras", "--out", out]
        code, records, _ = run(capsys, *argv, "--layer", "fused", "--shard", f"{index}/2")
        assert code == 0 and all(r.get("layer", "fused") == "fused" for r in records)
    code = main(["merge", str(out)])
    assert "7 photos in 2 shards: 6 explained, 1 refused" in capsys.readouterr().out
    merged = [json.loads(line) for line in (out / "explain.jsonl").read_text().splitlines()]
    below = [str(Path(r["image"]).relative_to(folder.resolve())) for r in merged]
    assert code == 1 and below == sorted(below) and len(below) == 7  # 6 photos, 1 refused
    assert [r for r in merged if "error" in r][0]["image"].endswith("broken.jpg")
    assert (out / "dogs" / "validation_dog_002_overlay.png").is_file()
    assert not list(out.rglob(".*"))  # each overlay renamed in whole: no temporary left
    settings = json.loads((out / "explain-shard-0-of-2.json").read_text())["settings"]
    assert settings == {
        "weights_sha256": file_sha256(tiny_weights / "model.keras"),
        "classes": "cat-dog",
        "preprocessing": None,
        "target": "predicted",
        "layer": "fused",
        "method": "Grad-CAM",
        "aug_smooth": False,
        "eigen_smooth": False,
        "alpha": Config().alpha,
        "colormap": Config().colormap,
        "raw": False,
    }


def test_evaluate_scores_guided_backprop_once_and_a_shard_records_its_settings(
    capsys, tiny_weights, tmp_path
):
    (tmp_path / "photos").mkdir()
    write_photo(tmp_path / "photos" / "p0.png")
    weights = tiny_weights / "model.keras"
    argv = [
        "evaluate", "--data", tmp_path / "photos", "--weights", weights, "--method", "Grad-CAM",
        "Guided Backprop", "--layer", "all", "--steps", "2", "--shard", "0/1", "--out", tmp_path,
    ]  # fmt: skip
    assert main(list(map(str, argv))) == 0
    rows = [line.split("|")[1:3] for line in capsys.readouterr().out.splitlines()[3:]]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["Grad-CAM", layer] for layer in ("conv_a", "conv_b", "fused")
    ] + [["Guided Backprop", "–"]]  # no layer changes it: scored once
    settings = json.loads((tmp_path / "evaluate-shard-0-of-1.json").read_text())["settings"]
    assert settings["weights_sha256"] == file_sha256(weights) and str(weights) not in str(settings)
    assert settings["methods"] == ["Grad-CAM", "Guided Backprop"] and settings["limit"] == 10
    assert settings["layers"] == ["conv_a", "conv_b", "fused"] and settings["annotations"] is False


def test_merge_refuses_a_missing_a_doubled_or_a_foreign_shard(capsys, tmp_path):
    from core.data.shards import Shard, write_shard

    keys = [f"p{i}.png" for i in range(5)]

    def shard(index, folder=tmp_path, listed=keys, settings=None):
        records = [{"position": p} for p in Shard(index, 3).positions(len(listed))]
        settings = settings or {"target": "cat"}
        return write_shard(folder, "evaluate", Shard(index, 3), listed, settings, records)

    shard(0), shard(2)
    (tmp_path / ".evaluate-shard-1-of-3.json.7.tmp.json").write_text("{half")  # being written
    assert main(["merge", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 of 3 shards missing" in err and "--shard 1/3" in err
    (tmp_path / "copy-shard-0-of-3.json").write_bytes(shard(0).read_bytes())
    shard(1)
    assert main(["merge", str(tmp_path)]) == 2
    assert "Shard 0 of 3 is there twice" in capsys.readouterr().err
    (tmp_path / "copy-shard-0-of-3.json").unlink()
    shard(1, listed=[*keys, "p5.png"])  # cut from a longer list: another job
    assert main(["merge", str(tmp_path)]) == 2
    assert "of another job" in capsys.readouterr().err
    shard(1, settings={"target": "cat", "weights_sha256": "0" * 64})  # another model file
    assert main(["merge", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "of another job" in err and "setting weights_sha256" in err
    shard(1)
    lacking = json.loads(shard(0).read_text())
    for key, says in [("photos", "(no photos)"), ("settings", "(no settings)")]:
        (tmp_path / "evaluate-shard-0-of-3.json").write_text(
            json.dumps({k: v for k, v in lacking.items() if k != key})
        )
        assert main(["merge", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not a shard file" in err and says in err
    lacking["records"] = [{"photo": "p0.png"}, *lacking["records"][1:]]
    (tmp_path / "evaluate-shard-0-of-3.json").write_text(json.dumps(lacking))
    assert main(["merge", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 record(s) without a position" in err
    assert main(["merge", str(tmp_path / "empty")]) == 2
    assert "No shard files" in capsys.readouterr().err


def test_output_places_never_meet():
    from core.data.shards import output_places

    relative = [Path(p) for p in ("x.jpg", "x.png", "y.jpg", "Cat.JPG", "cat.png", "sub/x.jpg")]
    assert [p.as_posix() for p in output_places(relative)] == [
        "x.jpg", "x.png", "y", "Cat.JPG", "cat.png", "sub/x",
    ]  # fmt: skip
    given = [Path("a/cat.jpg"), Path("b/cat.jpg"), Path("/photos/a/dog.jpg"), Path("../b/dog.jpg")]
    relative = [Path(p.name) for p in given]
    assert [p.as_posix() for p in output_places(relative, given)] == [
        "a/cat", "b/cat", "a/dog", "b/dog",
    ]  # fmt: skip
    # Folders cannot tell ../a/cat.jpg from a/cat.jpg: numbered; one photo given twice, one place.
    given = [Path("../a/cat.jpg"), Path("a/cat.jpg"), Path("a/cat.jpg")]
    relative = [Path(p.name) for p in given]
    places = [p.as_posix() for p in output_places(relative, given)]
    assert places == ["a/cat", "a/cat-2", "a/cat-2"]


def test_explain_writes_every_photos_outputs_under_its_own_name(capsys, tiny_weights, tmp_path):
    """Two cat.jpg given as files, x.jpg beside x.png in a folder: four overlays, four maps."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "f").mkdir()
    given = [write_photo(tmp_path / "a" / "cat.jpg", (30, 20))]
    given.append(write_photo(tmp_path / "b" / "cat.jpg", (17, 41)))
    write_photo(tmp_path / "f" / "x.jpg", (12, 13))
    write_photo(tmp_path / "f" / "x.png", (14, 15))
    out, weights = tmp_path / "out", tiny_weights / "model.keras"
    argv = ["explain", *given, tmp_path / "f", "--weights", weights, "--out", out, "--raw"]
    code, records, _ = run(capsys, *argv)
    assert code == 0 and len(records) == 4
    written = {p.relative_to(out).as_posix() for p in out.rglob("*_overlay.png")}
    assert written == {
        "a/cat_overlay.png", "b/cat_overlay.png", "x.jpg_overlay.png", "x.png_overlay.png",
    }  # fmt: skip
    sizes = {name: load_image(out / name).shape[:2] for name in written}
    assert sizes["a/cat_overlay.png"] == (20, 30) and sizes["b/cat_overlay.png"] == (41, 17)
    assert sizes["x.jpg_overlay.png"] == (13, 12) and sizes["x.png_overlay.png"] == (15, 14)
    assert len(list(out.rglob("*_raw.npy"))) == 4
    # Shards name them the same way: each shard sees the whole list's names.
    for index in range(2):
        shard = ["--shard", f"{index}/2", "--out", tmp_path / "shards"]
        assert run(capsys, "explain", tmp_path / "f", "--weights", weights, *shard)[0] == 0
    assert {p.name for p in (tmp_path / "shards").glob("*_overlay.png")} == {
        "x.jpg_overlay.png", "x.png_overlay.png",
    }  # fmt: skip
