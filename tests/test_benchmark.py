"""The benchmark command's quick variant: the code path works and the JSON has its keys.

No timing is asserted: figures measured in quick mode mean nothing.
"""

from __future__ import annotations

import json

from helpers import benchmark
from tests.helpers_for_tests import real_mnist_path


def test_quick_benchmark_writes_json_and_table(tmp_path, monkeypatch):
    real_mnist_path()
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    assert benchmark.main(["--quick"]) == 0
    results = json.loads((tmp_path / "results" / "benchmark.json").read_text())
    names = [record["name"] for record in results["models"]]
    assert names[0] == "reference_keras_io" and "best_cnn" in names
    for record in results["models"]:
        assert 0.0 <= record["test_accuracy"] <= 1.0
        assert record["train_seconds"] > 0 and record["images_per_second"] > 0
        assert set(record["reach"]) == {"0.990", "0.995"}
        assert record["peak_memory_mib"] > 0
    assert {rung["target"] for rung in results["speed_rungs"]} == {0.99, 0.995}
    for rung in results["speed_rungs"]:
        assert set(rung) == {"target", "seed", "train_seconds", "test_accuracy", "epochs"}
    ensemble = results["ensemble"]
    assert {"test_accuracy", "members", "train_seconds"} <= set(ensemble)
    assert ensemble["members"] == 2 and len(ensemble["member_test_accuracy"]) == 2
    assert 0.0 <= ensemble["test_accuracy_without_shifts"] <= 1.0
    assert ensemble["train_seconds"] > 0
    table = (tmp_path / "results" / "benchmark.md").read_text()
    assert "| reference_keras_io |" in table and "1.00x" in table
    assert "Ensemble of 2 fast CNNs" in table
