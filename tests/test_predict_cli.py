"""Tests of the command `python -m helpers.predict` (notebooks 08 and 09), run as a real
subprocess.

The declining tests use a tiny deterministic model built here (not the course's trained
one): its logits are linear in the amount of ink of the 28x28 image, so a thin line reads as
a confident 1, a ring is split evenly between 0 and 8 ("not sure") and a filled square goes
to the 11th class ("not a digit").
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from helpers import decline, predict
from helpers.config import REPO_ROOT
from helpers.predict import DEFAULT_MODEL, default_model

SAMPLES = REPO_ROOT / "data" / "handwriting"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers.predict", *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )


def ink_model(classes: int):
    """A Keras model whose logits depend only on the mean ink s of the image: z1 = -80 (s -
    0.1) for the digit 1, z0 = z8 = 0, z10 = 80 (s - 0.3) for "not a digit" (11 classes),
    -20 for the other digits."""
    import keras

    image = keras.Input((28, 28, 1), name="image")
    flat = keras.layers.Flatten()(image)
    output = keras.layers.Dense(classes, activation="softmax", name="probabilities")
    model = keras.Model(image, output(flat))
    slopes = np.zeros(classes, np.float32)
    biases = np.full(classes, -20.0, np.float32)
    slopes[1], biases[1] = -80.0, 8.0
    biases[0] = biases[8] = 0.0
    if classes == 11:
        slopes[10], biases[10] = 80.0, -24.0
    kernel = np.tile(slopes / 784, (784, 1))
    output.set_weights([kernel, biases])
    return model


RULE_11 = decline.DeclineRule(temperature=1.5, min_confidence=0.6, max_not_digit=0.5, classes=11)
RULE_10 = decline.DeclineRule(temperature=1.5, min_confidence=0.6, max_not_digit=None, classes=10)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Three drawings with little, some and much ink after preprocessing (mean 0.05, 0.14, 0.51)."""
    folder = tmp_path_factory.mktemp("shapes")
    drawings = {
        "line": lambda draw: draw.line([(50, 15), (50, 85)], fill=0, width=6),
        "ring": lambda draw: draw.ellipse([20, 15, 80, 85], outline=0, width=6),
        "square": lambda draw: draw.rectangle([35, 35, 65, 65], fill=0),
    }
    paths = {}
    for name, draw in drawings.items():
        picture = Image.new("L", (100, 100), 255)
        draw(ImageDraw.Draw(picture))
        paths[name] = str(folder / f"{name}.png")
        picture.save(paths[name])
    return paths


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The ink models with 11 and 10 outputs, each with its rule file next to it, and a
    12-output model."""
    import keras

    folder = tmp_path_factory.mktemp("models")
    paths = {"eleven": folder / "eleven.keras", "ten": folder / "ten.keras",
             "twelve": folder / "twelve.keras"}
    ink_model(11).save(paths["eleven"])
    decline.save_rule(RULE_11, decline.rule_path_for(paths["eleven"]))
    ink_model(10).save(paths["ten"])
    decline.save_rule(RULE_10, decline.rule_path_for(paths["ten"]))
    image = keras.Input((28, 28, 1))
    dense = keras.layers.Dense(12, activation="softmax")(keras.layers.Flatten()(image))
    keras.Model(image, dense).save(paths["twelve"])
    return paths


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.png").write_text("this is not an image")
    Image.new("L", (60, 60), 255).save(folder / "blank.png")
    (folder / "empty.jpg").write_bytes(b"")
    return {"not_image": folder / "notes.png", "blank": folder / "blank.png",
            "empty": folder / "empty.jpg", "missing": folder / "missing.png"}


def test_default_model_is_committed() -> None:
    """The deployed model (notebook 09) and its decline rule are committed."""
    assert default_model() == DEFAULT_MODEL and DEFAULT_MODEL.is_file()
    rule = decline.load_rule(decline.rule_path_for(DEFAULT_MODEL))
    assert rule.classes == 11 and rule.max_not_digit is not None


def test_the_deployed_model_declines_the_website_star_and_reads_a_drawn_seven(tmp_path) -> None:
    """End to end with the committed model and rule: the website's star (drawn on its
    canvas) is declined with its top guess, a sample 7 is answered, and the exit status is 0."""
    from helpers import drawing, negatives

    star = tmp_path / "star.png"
    page = drawing.rasterise_strokes(negatives.website_strokes()["star"], 280, 18)
    Image.fromarray(page).save(star)
    result = run("--json", str(SAMPLES / "7_thick_slanted.png"), str(star))
    assert result.returncode == 0, result.stderr
    seven, drawn_star = (json.loads(line) for line in result.stdout.splitlines())
    assert (seven["digit"], seven["declined"]) == (7, None), seven
    assert drawn_star["digit"] is None and drawn_star["declined"] in ("not a digit", "not sure")
    assert drawn_star["top_guess"] in range(10), drawn_star


def test_help_is_quick_and_does_not_need_tensorflow() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in ("--json", "--model", "--rule", "--always-answer"):
        assert option in result.stdout
    script = (
        "import runpy, sys\n"
        "sys.argv = ['predict', '--help']\n"
        "try:\n"
        "    runpy.run_module('helpers.predict', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    imported = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=120)
    assert imported.stdout.strip().splitlines()[-1] == "False False", imported.stderr[-2000:]


def test_json_lines_for_good_images_only_on_stdout() -> None:
    images = [str(SAMPLES / "7_thick_slanted.png"), str(SAMPLES / "3_chalk.jpg")]
    result = run(*images, "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == images
    assert [line["digit"] for line in lines] == [7, 3]
    for line in lines:
        assert 0.5 < line["probability"] <= 1.0
        assert line["runner_up"] != line["digit"]
        assert sum(line["probabilities"]) == pytest.approx(1.0, abs=1e-3)


def test_bad_files_get_one_line_errors_and_the_rest_is_classified(bad_files) -> None:
    good = str(SAMPLES / "4_thin.png")
    result = run(str(bad_files["not_image"]), good, str(bad_files["blank"]),
                 str(bad_files["missing"]), str(bad_files["empty"]))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{good}: 4 (") and "runner-up" in result.stdout
    assert len(result.stdout.splitlines()) == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("error: ") for line in errors)
    assert "not an image" in errors[0] and "blank" in errors[1]
    assert "no such file" in errors[2] and "not an image" in errors[3]


def test_a_model_from_elsewhere_is_a_one_line_error(bad_files) -> None:
    result = run(str(SAMPLES / "1_plain.png"), "--model", str(bad_files["blank"]))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Keras" in result.stderr


def test_every_image_failing_is_exit_status_1(bad_files) -> None:
    result = run(str(bad_files["blank"]), str(bad_files["missing"]))
    assert result.returncode == 1 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "blank" in errors[0] and "no such file" in errors[1]


def test_a_corrupt_model_archive_is_exit_status_2(tmp_path: Path) -> None:
    """A real .keras archive whose weights are damaged: one line on stderr, nothing on stdout."""
    corrupt = tmp_path / "damaged.keras"
    with zipfile.ZipFile(default_model()) as original, zipfile.ZipFile(corrupt, "w") as copy:
        for name in original.namelist():
            content = original.read(name)
            if name.endswith(".h5"):
                content = content[:200] + bytes(len(content) - 200)
            copy.writestr(name, content)
    result = run(str(SAMPLES / "1_plain.png"), "--model", str(corrupt))
    assert result.returncode == 2 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: {corrupt} could not be loaded")


# Declining ------------------------------------------------------------------------------------

def test_json_lines_of_answered_and_declined_images(shapes, tiny_models) -> None:
    result = run(shapes["line"], shapes["ring"], shapes["square"], "--json",
                 "--model", str(tiny_models["eleven"]))
    assert result.returncode == 0 and result.stderr == "", result.stderr  # declining is no error
    line, ring, square = (json.loads(text) for text in result.stdout.splitlines())
    assert [line["path"], ring["path"], square["path"]] == [shapes[name] for name in shapes]

    assert (line["digit"], line["declined"], line["top_guess"]) == (1, None, 1)
    assert line["probability"] == line["top_guess_probability"] > 0.8

    assert (ring["digit"], ring["declined"], ring["probability"]) == (None, "not sure", None)
    assert (ring["top_guess"], ring["runner_up"]) == (0, 8)  # a tie: the lower digit first
    assert ring["top_guess_probability"] == ring["runner_up_probability"]
    assert 0.4 < ring["top_guess_probability"] < RULE_11.min_confidence
    assert ring["not_digit_probability"] < RULE_11.max_not_digit

    assert (square["digit"], square["declined"]) == (None, "not a digit")
    assert square["not_digit_probability"] > 0.99 and square["top_guess"] == 0
    for answer in (line, ring, square):
        assert len(answer["probabilities"]) == 10
        assert sum(answer["probabilities"]) == pytest.approx(1.0, abs=1e-3)


def test_text_lines_say_not_sure_and_not_a_digit_with_the_top_guess(shapes, tiny_models) -> None:
    result = run(shapes["line"], shapes["ring"], shapes["square"],
                 "--model", str(tiny_models["eleven"]))
    assert result.returncode == 0, result.stderr
    line, ring, square = result.stdout.splitlines()
    assert line.startswith(f"{shapes['line']}: 1 (") and "runner-up" in line
    assert ring.startswith(f"{shapes['ring']}: not sure; top guess 0 (")
    assert "runner-up 8" in ring
    assert square.startswith(f"{shapes['square']}: not a digit (")
    assert "top guess 0 (" in square


def test_a_ten_class_model_declines_only_as_not_sure(shapes, tiny_models) -> None:
    result = run(shapes["line"], shapes["square"], "--json", "--model", str(tiny_models["ten"]))
    assert result.returncode == 0, result.stderr
    line, square = (json.loads(text) for text in result.stdout.splitlines())
    assert (line["digit"], line["declined"]) == (1, None)
    assert (square["digit"], square["declined"], square["top_guess"]) == (None, "not sure", 0)
    assert square["not_digit_probability"] is None


def test_always_answer_gives_the_model_probabilities(shapes, tiny_models) -> None:
    result = run(shapes["ring"], shapes["square"], "--json", "--always-answer",
                 "--model", str(tiny_models["eleven"]))
    assert result.returncode == 0, result.stderr
    ring, square = (json.loads(text) for text in result.stdout.splitlines())
    assert (ring["digit"], ring["declined"]) == (0, None)
    assert (square["digit"], square["declined"]) == (0, None)  # 0 and 8 tie among the digits
    # no temperature: the model's own probabilities (the rule's T = 1.5 would flatten them)
    from helpers.preprocess import to_batch, to_mnist

    raw = ink_model(11).predict(to_batch([to_mnist(shapes["ring"])]), verbose=0)[0]
    assert ring["top_guess_probability"] == pytest.approx(raw[0] / raw[:10].sum(), abs=1e-4)
    scaled = decline.decide(raw, RULE_11).top_probability
    assert abs(ring["top_guess_probability"] - scaled) > 5e-3
    assert square["not_digit_probability"] > 0.99


def test_declined_images_and_bad_files_together(shapes, tiny_models, bad_files) -> None:
    result = run(shapes["square"], str(bad_files["missing"]), shapes["line"],
                 "--model", str(tiny_models["eleven"]))
    assert result.returncode == 1  # for the missing file, not for the declined square
    assert len(result.stdout.splitlines()) == 2 and "not a digit" in result.stdout
    assert result.stderr.strip().startswith("error: ") and "no such file" in result.stderr


def test_an_explicit_rule_and_bad_rules(shapes, tiny_models, tmp_path) -> None:
    strict = tmp_path / "strict.json"
    decline.save_rule(decline.DeclineRule(1.0, 0.999, 0.5, 11), strict)
    result = run(shapes["line"], "--json", "--model", str(tiny_models["eleven"]),
                 "--rule", str(strict))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["declined"] == "not sure"

    broken = tmp_path / "broken.json"
    broken.write_text('{"temperature": 0, "min_confidence": 0.5, "max_not_digit": null, '
                      '"classes": 10}')
    result = run(shapes["line"], "--model", str(tiny_models["eleven"]), "--rule", str(broken))
    assert result.returncode == 2 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and str(broken) in errors[0] and "temperature" in errors[0]

    ten_classes = tmp_path / "ten.json"
    decline.save_rule(RULE_10, ten_classes)
    result = run(shapes["line"], "--model", str(tiny_models["eleven"]), "--rule", str(ten_classes))
    assert result.returncode == 2 and result.stdout == ""
    assert "rule is for 10 classes" in result.stderr and "11 outputs" in result.stderr


def test_a_model_with_twelve_outputs_is_refused(shapes, tiny_models) -> None:
    result = run(shapes["line"], "--model", str(tiny_models["twelve"]))
    assert result.returncode == 2 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "outputs (12,)" in errors[0] and "or 11" in errors[0]


def test_the_deployed_model_needs_its_rule(monkeypatch, tmp_path, tiny_models) -> None:
    """Without its rule file the deployed model would silently never decline: exit status 2
    (checked before TensorFlow is imported)."""
    deployed = tmp_path / "deployed_cnn.keras"
    deployed.write_bytes(tiny_models["eleven"].read_bytes())
    monkeypatch.setattr(predict, "DEFAULT_MODEL", deployed)
    assert predict.default_model() == deployed
    assert predict.main([str(SAMPLES / "1_plain.png")]) == 2
    decline.save_rule(RULE_11, decline.rule_path_for(deployed))
    assert predict.model_rule(deployed, None) == RULE_11
