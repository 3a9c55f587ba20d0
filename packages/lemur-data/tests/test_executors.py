"""Executors: finished shards are never redone; Ray runs the same job on a local instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lemur.core.errors import LemurError
from lemur.data.executors import LocalExecutor, RayExecutor, make_executor


class RecordingTask:
    """Appends each call's rank to a log file; fails on ranks listed in ``fail_on``."""

    def __init__(self, log: Path, fail_on: tuple[int, ...] = ()):
        self.log = log
        self.fail_on = fail_on

    def __call__(self, rank: int, world_size: int) -> dict:
        with open(self.log, "a") as handle:
            handle.write(f"{rank}\n")
        if rank in self.fail_on:
            raise RuntimeError(f"rank {rank} failed")
        return {"rank": rank, "square": rank * rank, "world_size": world_size}


def calls(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_rerun_skips_finished_shards(tmp_path) -> None:
    log = tmp_path / "calls.txt"
    with pytest.raises(RuntimeError, match="rank 2 failed"):
        LocalExecutor(4, tmp_path / "logs", workers=1, progress=False).run(RecordingTask(log, fail_on=(2,)))
    assert calls(log) == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "logs" / "completions").iterdir()) == ["00000", "00001"]
    results = LocalExecutor(4, tmp_path / "logs", workers=1, progress=False).run(RecordingTask(log))
    assert calls(log) == [0, 1, 2, 2, 3]  # ranks 0 and 1 were not run again
    assert results == {r: {"rank": r, "square": r * r, "world_size": 4} for r in range(4)}
    assert json.loads((tmp_path / "logs" / "stats" / "00003.json").read_text())["square"] == 9
    LocalExecutor(4, tmp_path / "logs", workers=1, skip_completed=False, progress=False).run(RecordingTask(log))
    assert calls(log)[-4:] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tasks": 0}, "tasks must be"),
        ({"tasks": 2, "workers": 0}, "workers must be"),
        ({"tasks": 2.5}, "tasks must be"),
    ],
)
def test_arguments_are_validated(tmp_path, kwargs, message) -> None:
    with pytest.raises(LemurError, match=message):
        LocalExecutor(logging_dir=tmp_path, **kwargs)


def test_unknown_executor_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(LemurError, match="allowed: local, ray"):
        make_executor("slurm", 1, tmp_path)


@pytest.mark.slow
def test_ray_executor_on_a_local_instance(tmp_path) -> None:
    ray = pytest.importorskip("ray", reason="needs 'ray': pip install 'lemur-data[ray]'")
    from lemur.data.executors import run_rank

    log = tmp_path / "calls.txt"
    run_rank(RecordingTask(log), 1, 3, str(_prepare(tmp_path / "logs")))  # rank 1 already finished
    try:
        executor = RayExecutor(3, tmp_path / "logs", num_cpus=2, progress=False)
        results = executor.run(_ray_task(log))
    finally:
        ray.shutdown()
    assert sorted(calls(log)) == [0, 1, 2]  # rank 1 ran once, before Ray
    assert [results[r]["square"] for r in range(3)] == [0, 1, 4]


def _prepare(logs: Path) -> Path:
    (logs / "completions").mkdir(parents=True)
    (logs / "stats").mkdir()
    return logs


def _ray_task(log: Path):
    # Ray workers cannot import this test module (importlib mode), so ship the class by value.
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(__import__(RecordingTask.__module__))
    return RecordingTask(log)
