"""Real model backends on the process and Ray executors (lemur.eval.workers): same files as a local run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lemur.eval.cache import ResponseCache
from lemur.eval.config import RunConfig
from lemur.eval.runner import run

from .models.conftest import build_tiny_model

FILES = ("generations.jsonl", "results.jsonl")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The tiny random Llama of the model tests, built here."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def serving(lemur_serve):
    """``with serving(model) as url``: ``lemur serve`` over ``hf:model`` on a free 127.0.0.1 port.

    ``max_batch=1``: each request is answered alone, so the numbers do not depend on which
    requests happen to arrive together (that differs between executors).
    """
    pytest.importorskip("fastapi", reason="lemur serve needs fastapi: pip install 'lemur-eval[serve]'")
    pytest.importorskip("httpx", reason="the openai backend needs httpx: pip install 'lemur-eval[openai]'")
    from lemur.eval.models.hf import HFBackend

    @contextlib.contextmanager
    def serve(model: Path) -> Iterator[str]:
        backend = HFBackend(str(model), device="cpu", dtype="float32")
        try:
            with lemur_serve(backend, max_batch=1) as (_server, url):
                yield url
        finally:
            backend.close()

    return serve


def _same_files(left: Path, right: Path, benchmarks: list[str]) -> None:
    for benchmark in benchmarks:
        for name in FILES:
            assert (left / benchmark / name).read_text() == (right / benchmark / name).read_text(), (benchmark, name)


def _runs(tmp_path: Path, model: str, executors: list[str], benchmarks: list[str]) -> dict[str, dict]:
    """One run per executor (each with its own cache), then the last executor again on its now full cache."""
    fields = {
        "model": model,
        "benchmarks": benchmarks,
        "benchmark_options": {"toy-sum": {"size": 16}},
        "chunk_size": 3,
        "workers": 2,
        "progress": False,
    }
    summaries = {}
    for executor in ["local", *executors]:
        config = RunConfig(**fields, executor=executor, out=tmp_path / executor, cache=tmp_path / f"{executor}.sqlite")
        summaries[executor] = run(config)
    last = executors[-1]
    config = RunConfig(**fields, executor=last, out=tmp_path / "again", cache=tmp_path / f"{last}.sqlite")
    summaries["again"] = run(config)
    return summaries


def _check(tmp_path: Path, summaries: dict[str, dict], executors: list[str], benchmarks: list[str]) -> None:
    local_entries = len(ResponseCache(tmp_path / "local.sqlite"))
    assert local_entries == 16 + 12 * 4  # toy-sum generations + toy-choice log-likelihoods
    for executor in executors:
        _same_files(tmp_path / "local", tmp_path / executor, benchmarks)
        assert summaries[executor]["benchmarks"] == summaries["local"]["benchmarks"]
        # the parent stored what the workers computed
        assert len(ResponseCache(tmp_path / f"{executor}.sqlite")) == local_entries
    # a second run answers everything from the cache, read inside the workers
    for benchmark in benchmarks:
        again = (tmp_path / "again" / benchmark / "generations.jsonl").read_text()
        assert '"cached": false' not in again and '"cached": true' in again
        assert (tmp_path / "again" / benchmark / "results.jsonl").read_text() == (
            tmp_path / "local" / benchmark / "results.jsonl"
        ).read_text()


@pytest.mark.slow
def test_openai_over_lemur_serve_on_process_and_ray_executors_matches_a_local_run(
    eval_test_plugin, tiny, tmp_path, serving
):
    executors = ["process"]
    ray = None
    try:
        import ray
    except ImportError:
        pass
    else:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        executors.append("ray")
    benchmarks = ["toy-sum", "toy-choice"]
    try:
        with serving(tiny) as url:
            summaries = _runs(tmp_path, f"openai:{url},model=tiny", executors, benchmarks)
    finally:
        if ray is not None:
            ray.shutdown()
    _check(tmp_path, summaries, executors, benchmarks)
    if ray is None:
        pytest.skip("the process executor passed; Ray is not installed (pip install 'lemur-eval[ray]')")


@pytest.mark.slow
def test_hf_on_the_process_executor_matches_a_local_run(eval_test_plugin, tiny, tmp_path):
    # Each worker process loads the checkpoint once, then answers all its chunks with it.
    benchmarks = ["toy-sum", "toy-choice"]
    summaries = _runs(tmp_path, f"hf:{tiny},device=cpu,dtype=float32,batch_size=3", ["process"], benchmarks)
    _check(tmp_path, summaries, ["process"], benchmarks)


def test_a_relative_target_is_made_absolute_for_workers(tmp_path, monkeypatch) -> None:
    from lemur.eval.models.spec import backend_recipe

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "x.jsonl").write_text("")
    recipe = backend_recipe("replay:runs/x.jsonl").with_absolute_target()
    assert recipe.args == (str(tmp_path / "runs" / "x.jsonl"),)
    url = backend_recipe("openai:http://127.0.0.1:8000/v1,model=tiny,check=false").with_absolute_target()
    assert url.args == ("http://127.0.0.1:8000/v1",) and url.spec.options == {"model": "tiny", "check": "false"}


def test_a_worker_builds_the_backend_once_and_again_when_the_identity_changes(eval_test_plugin, monkeypatch) -> None:
    from lemur.eval import workers
    from lemur.eval.models.spec import backend_recipe

    monkeypatch.setattr(workers, "_BACKENDS", {})
    closed = []
    monkeypatch.setattr(eval_test_plugin.BisectModel, "close", lambda self: closed.append(self), raising=False)
    recipe = backend_recipe("test-bisect:v1")
    first = workers._built(recipe, {"backend": "test-bisect", "revision": "a"})
    assert workers._built(recipe, {"backend": "test-bisect", "revision": "a"}) is first
    # e.g. a checkpoint rewritten at the same path: its fingerprint, so the parent's identity, changed
    second = workers._built(recipe, {"backend": "test-bisect", "revision": "b"})
    assert second is not first and closed == [first]
    assert isinstance(second, eval_test_plugin.BisectModel) and second.tag == "v1"
