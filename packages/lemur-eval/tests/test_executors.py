"""Executors (lemur.eval.executors): ordered, bounded concurrency on threads, processes and Ray."""

from __future__ import annotations

import json
import operator
import random
import threading
import time

import pytest

from lemur.core.errors import ConfigError
from lemur.eval.config import RunConfig
from lemur.eval.executors import ProcessExecutor, ThreadExecutor, create_executor
from lemur.eval.runner import run


def test_threads_return_results_in_input_order_with_bounded_work_in_flight():
    running, peak, lock = 0, 0, threading.Lock()

    def work(item):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(random.uniform(0, 0.004))
        with lock:
            running -= 1
        return item * item

    with ThreadExecutor(workers=4) as executor:
        assert list(executor.imap(work, range(200), window=6)) == [i * i for i in range(200)]
    assert 1 < peak <= 4


def test_the_first_failure_in_input_order_is_raised():
    def work(item):
        if item in (7, 9):
            raise ValueError(f"bad {item}")
        return item

    with ThreadExecutor(workers=3) as executor, pytest.raises(ValueError, match="bad 7"):
        list(executor.imap(work, range(20)))


def test_process_pool_runs_importable_functions():
    with ProcessExecutor(workers=2) as executor:
        assert list(executor.imap(operator.neg, range(10))) == [-i for i in range(10)]


def test_bad_executor_settings():
    with pytest.raises(ConfigError, match="unknown executor 'slurm'; allowed: local, process, ray"):
        create_executor("slurm", 2)
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        create_executor("local", 0)


@pytest.mark.slow
def test_ray_run_matches_a_local_run(eval_test_plugin, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lemur-eval[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # joined by both runs below
    try:
        check_ray_runs(eval_test_plugin, tmp_path)
    finally:
        ray.shutdown()


def check_ray_runs(eval_test_plugin, tmp_path):
    benchmark = eval_test_plugin.ToySum(size=60)
    with (tmp_path / "replay.jsonl").open("w") as file:
        for index, sample in enumerate(benchmark.samples()):
            request = benchmark.request(sample).to_dict()
            file.write(json.dumps({"request": request, "output": str(sample.target + (index % 3 == 0))}) + "\n")
    fields = {
        "model": f"replay:{tmp_path / 'replay.jsonl'}",
        "benchmarks": ["toy-sum"],
        "benchmark_options": {"toy-sum": {"size": 60}},
        "chunk_size": 8,
        "progress": False,
    }
    local = run(RunConfig(**fields, out=tmp_path / "local", cache=tmp_path / "local.sqlite"))
    distributed = run(
        RunConfig(**fields, out=tmp_path / "ray", cache=tmp_path / "ray.sqlite", executor="ray", workers=2)
    )
    for name in ("generations.jsonl", "results.jsonl"):
        assert (tmp_path / "ray" / "toy-sum" / name).read_text() == (tmp_path / "local" / "toy-sum" / name).read_text()
    assert distributed["benchmarks"] == local["benchmarks"]
    assert distributed["benchmarks"]["toy-sum"]["scores"]["accuracy"] == pytest.approx(40 / 60)
    # the driver stored the answers the Ray workers computed
    from lemur.eval.cache import ResponseCache

    assert len(ResponseCache(tmp_path / "ray.sqlite")) == 60

    # episodes on Ray: the agent's model calls happen inside the workers
    agent_fields = {"model": "test-bisect", "benchmarks": ["toy-guess"], "progress": False}
    local_agent = run(RunConfig(**agent_fields, out=tmp_path / "agent-local", cache=tmp_path / "a.sqlite"))
    ray_agent = run(
        RunConfig(**agent_fields, out=tmp_path / "agent-ray", cache=tmp_path / "b.sqlite", executor="ray", workers=2)
    )
    assert ray_agent["benchmarks"] == local_agent["benchmarks"]
    for name in ("generations.jsonl", "results.jsonl"):
        ray_text = (tmp_path / "agent-ray" / "toy-guess" / name).read_text()
        assert ray_text == (tmp_path / "agent-local" / "toy-guess" / name).read_text()


def test_a_backend_that_workers_cannot_build_is_refused_before_anything_is_written(
    eval_test_plugin, tmp_path, monkeypatch
):
    # Workers build the backend from its class's import path; a class defined in a function has none.
    from lemur.eval.runner import prepare_run

    class LocalModel(eval_test_plugin.BisectModel):
        pass

    monkeypatch.setattr(eval_test_plugin, "BisectModel", LocalModel)
    config = RunConfig(model="test-bisect", benchmarks=["toy-guess"], out=tmp_path / "out", executor="process")
    with pytest.raises(ConfigError, match="--executor process: the model backend 'test-bisect' cannot be sent"):
        prepare_run(config)
    assert not (tmp_path / "out").exists()


def test_process_executor_run_matches_a_local_run(eval_test_plugin, tmp_path):
    benchmark = eval_test_plugin.ToySum(size=30)
    with (tmp_path / "replay.jsonl").open("w") as file:
        for index, sample in enumerate(benchmark.samples()):
            request = benchmark.request(sample).to_dict()
            file.write(json.dumps({"request": request, "output": str(sample.target - (index % 4 == 0))}) + "\n")
    fields = {
        "model": f"replay:{tmp_path / 'replay.jsonl'}",
        "benchmarks": ["toy-sum"],
        "benchmark_options": {"toy-sum": {"size": 30}},
        "chunk_size": 4,
        "progress": False,
        "use_cache": False,
    }
    local = run(RunConfig(**fields, out=tmp_path / "local"))
    pooled = run(RunConfig(**fields, out=tmp_path / "pooled", executor="process", workers=2))
    assert pooled["benchmarks"] == local["benchmarks"]
    assert pooled["benchmarks"]["toy-sum"]["scores"]["accuracy"] == pytest.approx(22 / 30)
    for name in ("generations.jsonl", "results.jsonl"):
        assert (tmp_path / "pooled" / "toy-sum" / name).read_text() == (
            tmp_path / "local" / "toy-sum" / name
        ).read_text()
