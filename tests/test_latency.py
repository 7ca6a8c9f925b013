"""helpers/latency.py: one process per engine, rounds in rotated order, ratios over rounds."""

from __future__ import annotations

import contextlib
import io
import json
import math
import statistics
import subprocess
import sys

import numpy as np
import pytest

from helpers import claims, latency
from helpers.config import REPO_ROOT


def records_of(times: dict[str, list[float]], batch: int = 1) -> list[dict]:
    """Records as run_rounds returns them: one per setup and round."""
    return [{"name": name, "batch": batch, "round": index, "median_ms": value}
            for name, values in times.items() for index, value in enumerate(values)]


def test_rotated_starts_each_round_one_place_later() -> None:
    assert latency.rotated("abc", 0) == ["a", "b", "c"]
    assert latency.rotated("abc", 1) == ["b", "c", "a"]
    assert latency.rotated("abc", 5) == ["c", "a", "b"]


def test_time_calls_counts_warmup_minimum_and_maximum() -> None:
    calls = []
    times = latency.time_calls(lambda: calls.append(1), seconds=0, min_calls=4, warmup=2)
    assert len(times) == 4 and len(calls) == 6  # 2 untimed warm-up calls, then 4 timed
    capped = latency.time_calls(lambda: None, seconds=60, min_calls=1, max_calls=7, warmup=0)
    assert len(capped) == 7  # the cap ends a long time budget
    with pytest.raises(ValueError):
        latency.time_calls(lambda: None, min_calls=5, max_calls=2)


def test_setups_parse_and_group_by_engine() -> None:
    setup = latency.parse_setup("TFLite int8=tflite:models/x=1.tflite")
    assert setup == {"name": "TFLite int8", "runtime": "tflite", "model": "models/x=1.tflite"}
    with pytest.raises(ValueError):
        latency.parse_setup("no runtime")
    setups = [{"name": n, "runtime": r, "model": "m"} for n, r in
              [("a", "tflite"), ("b", "keras-eager"), ("c", "tflite"), ("d", "keras-predict")]]
    groups = latency.engine_groups(setups)
    assert [(t, [s["name"] for s in group]) for t, group in groups] == [
        (1, ["a", "c"]), (1, ["b", "d"])]
    two = latency.engine_groups([*setups, {"name": "e", "runtime": "tflite", "model": "m",
                                           "threads": 2}])
    assert [(t, [s["name"] for s in group]) for t, group in two][2] == (2, ["e"])
    with pytest.raises(ValueError, match="unknown runtime"):
        latency.engine_groups([{"name": "x", "runtime": "keras-jit", "model": "m"}])


def test_ratio_pairs_rounds_and_gives_a_95_percent_interval() -> None:
    fast = [1.0, 1.2, 0.9, 1.1, 1.0]
    slow = [10.0, 12.5, 9.1, 10.8, 10.2]  # about ten times as long, in every round
    result = latency.ratio(records_of({"fast": fast, "slow": slow}), "fast", "slow", 1)
    logs = np.log(slow) - np.log(fast)
    assert result.ratio == pytest.approx(math.exp(logs.mean()))
    assert result.low < result.ratio < result.high and result.rounds == 5
    assert result.verdict() == "faster"
    assert result.line().startswith("fast vs slow (one image, 5 rounds paired): slow takes 1")
    assert latency.ratio(records_of({"fast": fast, "slow": slow}, batch=1000),
                         "slow", "fast", 1000).verdict() == "slower"
    # a drift that moves both alike cancels in the pairs; noise that does not, does not
    drift = latency.ratio(records_of({"a": [1, 2, 4], "b": [1.1, 2.2, 4.4]}), "a", "b", 1)
    assert drift.verdict() == "faster" and drift.ratio == pytest.approx(1.1)
    close = latency.ratio(records_of({"a": [1.0, 1.3, 0.9], "b": [1.2, 1.0, 1.1]}), "a", "b", 1)
    assert close.verdict() == "no measurable difference"
    with pytest.raises(ValueError):
        latency.ratio(records_of({"a": [1.0], "b": [2.0]}), "a", "b", 1)
    with pytest.raises(ValueError):
        latency.ratio(records_of({"a": [1.0, 2.0]}), "a", "missing", 1)


def test_summary_gives_quartiles_over_rounds_per_setup() -> None:
    records = records_of({"x": [5.0, 1.0, 3.0, 2.0, 4.0], "y": [1.0, 1.0, 1.0, 1.0, 1.0]})
    records.append({"name": "z", "batch": 9, "round": 0, "median_ms": 0.1})
    table = latency.summary(records, 1)
    assert list(table) == ["x", "y"]
    assert table["x"] == (2.0, 3.0, 4.0) and table["y"] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        latency.summary(records, 2)


def test_claim_raises_in_the_course_run_warns_in_a_full_run_prints_in_quick(
        monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = latency.ratio(records_of({"a": [1.0, 1.1, 0.9], "b": [5.0, 5.2, 4.9]}), "a", "b", 1)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        latency.claim(wrong, "slower")  # quick mode (conftest): printed, not raised
    assert "claim: a is slower -> DOES NOT HOLD" in printed.getvalue()
    monkeypatch.delenv("DIGITS_QUICK")
    with contextlib.redirect_stdout(io.StringIO()), pytest.warns(claims.ClaimWarning):
        latency.claim(wrong, "no measurable difference")
    monkeypatch.setenv("DIGITS_COURSE_RUN", "1")
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(claims.ClaimError):
        latency.claim(wrong, "slower")
    with contextlib.redirect_stdout(io.StringIO()):
        assert latency.claim(wrong, "faster") is wrong
    with pytest.raises(ValueError):
        latency.claim(wrong, "better")


def test_run_rounds_runs_each_engine_in_its_own_process_in_rotated_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    processes = []

    def fake_process(setups, threads, images, batches, **timing):
        processes.append([setup["name"] for setup in setups])
        assert threads == (2 if setups[0]["name"] == "o" else 1)
        return {"setups": {setup["name"]: {"runtime": setup["runtime"], "batches": {
            str(b): {"median_ms": float(b), "calls": 3, "times_ms": [b, b, b]}
            for b in batches}} for setup in setups}}

    monkeypatch.setattr(latency, "run_process", fake_process)
    setups = [{"name": n, "runtime": r, "model": "m"} for n, r in
              [("k1", "keras-predict"), ("k2", "keras-function"), ("o", "onnxruntime")]]
    setups[2]["threads"] = 2
    records = latency.run_rounds(setups, 2, "images.npy", (1, 10), threads=1, seconds=0.1)
    assert processes == [["k1", "k2"], ["o"], ["o"], ["k2", "k1"]]
    assert len(records) == 12 and {r["batch"] for r in records} == {1, 10}
    assert {r["threads"] for r in records if r["name"] == "o"} == {2}
    assert sorted(r["round"] for r in records if r["name"] == "o") == [0, 0, 1, 1]


@pytest.fixture(scope="module")
def tiny_model_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny model of the course's shapes as .keras, .onnx and .tflite, and test images."""
    import keras
    import tensorflow as tf
    import tf2onnx

    folder = tmp_path_factory.mktemp("latency")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1), name="image")
    hidden = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(hidden))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).random((6, 28, 28, 1), dtype=np.float32)
    files = {"keras": folder / "tiny.keras", "onnx": folder / "tiny.onnx",
             "tflite": folder / "tiny.tflite", "images": folder / "images.npy"}
    model.save(files["keras"])
    np.save(files["images"], images)
    tf2onnx.convert.from_keras(model, input_signature=(tf.TensorSpec(
        (None, 28, 28, 1), tf.float32, name="image"),), output_path=str(files["onnx"]))
    with contextlib.redirect_stdout(io.StringIO()):
        files["tflite"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    files["expected"] = model.predict(images, verbose=0)
    return files


def test_every_runtime_answers_with_the_models_probabilities(tiny_model_files: dict) -> None:
    """All runtimes, started in one fresh process (same thread count), on the same images."""
    files = tiny_model_files
    script = (
        "import json, sys, numpy as np\n"
        "from helpers import latency\n"
        "files = json.loads(sys.argv[1])\n"
        "images = np.load(files['images'])\n"
        "out = {}\n"
        "for runtime in sorted(latency.RUNTIMES):\n"
        "    kind = 'keras' if runtime.startswith('keras') else runtime.replace('runtime', '')\n"
        "    model = files[kind]\n"
        "    out[runtime] = np.asarray(latency.load_runtime(runtime, model, 2)(images)).tolist()\n"
        "print(json.dumps(out))\n")
    paths = {key: str(value) for key, value in files.items() if key != "expected"}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(paths)], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(answers) == set(latency.RUNTIMES)
    for runtime, probabilities in answers.items():
        assert np.abs(np.array(probabilities) - files["expected"]).max() < 1e-4, runtime
    with pytest.raises(ValueError, match="unknown runtime"):
        latency.load_runtime("keras-jit", files["keras"], 1)


def test_command_line_times_every_setup_and_batch(tiny_model_files: dict) -> None:
    onnx = str(tiny_model_files["onnx"])
    setups = [{"name": "first", "runtime": "onnxruntime", "model": onnx},
              {"name": "second", "runtime": "onnxruntime", "model": onnx}]
    result = latency.run_process(setups, 1, tiny_model_files["images"], (1, 4), seconds=0.01,
                                 min_calls=3, max_calls=5)
    assert result["threads"] == 1 and list(result["setups"]) == ["first", "second"]
    for measured in result["setups"].values():
        assert set(measured["batches"]) == {"1", "4"}
        for timed in measured["batches"].values():
            assert 3 <= timed["calls"] == len(timed["times_ms"]) <= 5
            assert timed["median_ms"] == statistics.median(timed["times_ms"])
    with pytest.raises(RuntimeError, match="failed"):  # batch 7 of 6 images
        latency.run_process(setups[:1], 1, tiny_model_files["images"], (7,), seconds=0.01)
