"""Tests of the command `python -m helpers.predict` (notebook 08), run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from helpers.config import REPO_ROOT
from helpers.predict import DEFAULT_MODEL

SAMPLES = REPO_ROOT / "data" / "handwriting"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers.predict", *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.png").write_text("this is not an image")
    Image.new("L", (60, 60), 255).save(folder / "blank.png")
    (folder / "empty.jpg").write_bytes(b"")
    return {"not_image": folder / "notes.png", "blank": folder / "blank.png",
            "empty": folder / "empty.jpg", "missing": folder / "missing.png"}


def test_default_model_is_committed() -> None:
    assert DEFAULT_MODEL.is_file()


def test_help_is_quick_and_does_not_need_tensorflow() -> None:
    result = run("--help")
    assert result.returncode == 0 and "--json" in result.stdout and "--model" in result.stdout
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
    with zipfile.ZipFile(DEFAULT_MODEL) as original, zipfile.ZipFile(corrupt, "w") as copy:
        for name in original.namelist():
            content = original.read(name)
            if name.endswith(".h5"):
                content = content[:200] + bytes(len(content) - 200)
            copy.writestr(name, content)
    result = run(str(SAMPLES / "1_plain.png"), "--model", str(corrupt))
    assert result.returncode == 2 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: {corrupt} could not be loaded")
