"""The benchmark command: its arithmetic on small hand-made examples, its test-set record,
and its quick variant end to end. No timing is asserted: quick-mode figures mean nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import benchmark, test_record
from tests.helpers_for_tests import real_mnist_path


def test_ensemble_accuracy_averages_the_members_probabilities():
    labels = np.array([0, 1, 2])
    # Member A is right on digits 0 and 1, member B on 1 and 2; on digit 0 A is more sure
    # than B is wrong, on digit 2 B is more sure than A is wrong: the average is right on all.
    member_a = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.6, 0.4]])
    member_b = np.array([[0.4, 0.6, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9]])
    records = [{"description": "wider CNN (plain), x", "train_seconds": 10.0,
                "test_accuracy": 2 / 3},
               {"description": "wider CNN (batch norm 0.9), x", "train_seconds": 5.0,
                "test_accuracy": 2 / 3}]
    shifted_a = np.array([[0.1, 0.9, 0.0], [0.95, 0.05, 0.0], [0.1, 0.5, 0.4]])  # all wrong
    result = benchmark.ensemble_result(records, [member_a, member_b], [shifted_a, member_b],
                                       labels)
    assert result["test_accuracy_without_shifts"] == 1.0
    assert result["test_accuracy"] == pytest.approx(1 / 3)  # only digit 2 survives A's junk
    assert result["train_seconds"] == 15.0 and result["members"] == 2
    assert "plain, batch norm 0.9" in result["description"]


def test_speed_summary_statistics_by_hand():
    rungs = [{"target": 0.99, "seed": seed, "train_seconds": seconds, "test_accuracy": accuracy}
             for seed, seconds, accuracy in ((1, 5.0, 0.990), (2, 6.0, 0.992), (3, 7.0, 0.994))]
    (entry,) = benchmark.summarise_speed(rungs)
    assert entry["seeds"] == [1, 2, 3]
    assert entry["mean_test_accuracy"] == pytest.approx(0.992)
    assert entry["std_test_accuracy"] == pytest.approx(0.002)  # sample sd of .990 .992 .994
    assert (entry["min_test_accuracy"], entry["max_test_accuracy"]) == (0.990, 0.994)
    assert (entry["mean_train_seconds"], entry["max_train_seconds"]) == (6.0, 7.0)
    assert "mean_test_accuracy_with_shifts" not in entry


def test_declared_seeds_are_fresh_and_distinct():
    seeds = [seed for group in benchmark.SPEED_SEEDS.values() for seed in group]
    seeds += [seed for seed, _ in benchmark.ENSEMBLE_MEMBERS]
    assert len(seeds) == len(set(seeds))
    assert all(len(group) == 5 for group in benchmark.SPEED_SEEDS.values())
    assert not set(seeds) & {1, 2, 3, *range(101, 109)}  # scored by earlier benchmark runs


def test_quick_benchmark_writes_json_table_and_record(tmp_path, monkeypatch):
    real_mnist_path()
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    assert benchmark.main(["--quick"]) == 0
    results = json.loads((tmp_path / "results" / "benchmark.json").read_text())
    assert [record["name"] for record in results["models"]] == ["reference_keras_io",
                                                                "original_cnn"]
    assert {rung["target"] for rung in results["speed_rungs"]} == {0.99, 0.995}
    assert [entry["target"] for entry in results["speed_summary"]] == [0.99, 0.995]
    for entry in results["speed_summary"]:
        assert {"target", "seeds", "mean_test_accuracy", "std_test_accuracy",
                "min_test_accuracy", "max_train_seconds"} <= set(entry)
    ensemble = results["ensemble"]
    assert ensemble["members"] == 2 and len(ensemble["member_records"]) == 2
    # Every run read the test set once, and the record says so.
    rows = test_record.read_record(tmp_path / "results" / "test_set_record.csv")
    runs = results["speed_rungs"] + results["models"] + ensemble["member_records"]
    assert sorted(int(row["seed"]) for row in rows) == sorted(run["seed"] for run in runs)
    # A second run with the same recipes and seeds is allowed; the record grows.
    table = (tmp_path / "results" / "benchmark.md").read_text()
    assert "| reference_keras_io |" in table and "Ensemble of 2 wider CNNs" in table
