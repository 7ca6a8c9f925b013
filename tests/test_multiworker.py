"""The two-worker run of notebook 10 (helpers.multiworker): a loopback-only cluster, and no
worker left behind when its partner never comes. (The full two-worker epoch runs in
notebook 10 itself, in quick mode, where both workers must agree on validation.)"""

from __future__ import annotations

import json

import psutil
import pytest

from helpers import multiworker
from tests.helpers_for_tests import real_mnist_path


def own_children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE}


def test_tf_config_names_the_same_loopback_cluster_and_a_different_task():
    ports = multiworker.free_loopback_ports(2)
    assert len(set(ports)) == 2
    configs = [multiworker.tf_config(ports, index) for index in range(2)]
    assert configs[0]["cluster"] == configs[1]["cluster"] == {
        "worker": [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"]}
    assert [config["task"] for config in configs] == [{"type": "worker", "index": 0},
                                                      {"type": "worker", "index": 1}]
    json.dumps(configs)  # what TF_CONFIG holds must be JSON


def test_worker_environment_sets_threads_and_only_its_own_tf_config(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"stale": true}')
    single = multiworker._environment(2, None)
    assert "TF_CONFIG" not in single and single["TF_NUM_INTRAOP_THREADS"] == "2"
    worker = multiworker._environment(1, multiworker.tf_config([1, 2], 1))
    assert json.loads(worker["TF_CONFIG"])["task"]["index"] == 1
    assert worker["TF_NUM_INTEROP_THREADS"] == "1"


def test_the_worker_refuses_to_start_without_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit):
        multiworker.main(["--role", "worker"])


def test_a_worker_whose_partner_never_comes_is_stopped_at_the_timeout():
    """Only worker 0 of a two-worker cluster starts: it waits for its partner, and the
    timeout must stop it (and raise), not hang."""
    real_mnist_path()
    before = own_children()
    ports = multiworker.free_loopback_ports(2)
    command = multiworker._command("worker", 2000, seed=1, batch_size=None, timeout=60)
    environment = multiworker._environment(1, multiworker.tf_config(ports, 0))
    with pytest.raises(TimeoutError, match="stopped"):
        multiworker._run_processes([(command, environment)], timeout=4)
    assert own_children() <= before
