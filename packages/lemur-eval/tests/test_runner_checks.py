"""Runner checks made before and during a run: replay coverage, resume against changed benchmarks,
file modes, run metadata, and the message of a run that fails part-way."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import stat
from pathlib import Path

import pytest

from lemur.core.errors import LemurError
from lemur.eval.config import RunConfig
from lemur.eval.models.base import ModelBackend
from lemur.eval.models.replay import ReplayMissError
from lemur.eval.results import RunDirError, new_file_mode
from lemur.eval.runner import RunInterruptedError, execute_run, prepare_run, run


def write_replay(path: Path, plugin, size: int) -> None:
    """Record toy-sum answers (every fifth wrong) and toy-choice log-likelihoods for the first ``size`` samples."""
    with path.open("w") as file:
        for index, sample in enumerate(plugin.ToySum(size=size).samples()):
            request = plugin.ToySum().request(sample).to_dict()
            answer = sample.target if index % 5 else -1
            file.write(json.dumps({"request": request, "output": f" {answer}"}) + "\n")
        for sample in list(plugin.ToyChoice().samples())[:size]:
            for rank, request in enumerate(plugin.ToyChoice().request(sample)):
                record = {"request": dataclasses.asdict(request), "logprob": -1.0 - rank}
                file.write(json.dumps(record) + "\n")


def config(tmp_path: Path, **fields) -> RunConfig:
    base = {
        "model": f"replay:{tmp_path / 'replay.jsonl'}",
        "benchmarks": ["toy-sum"],
        "out": tmp_path / "run",
        "cache": tmp_path / "cache.sqlite",
        "progress": False,
    }
    return RunConfig.model_validate({**base, **fields})


def assert_one_error_line(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_replay_missing_recordings_fail_before_anything_is_written(eval_test_plugin, tmp_path):
    write_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=6)
    with pytest.raises(ReplayMissError) as caught:
        prepare_run(config(tmp_path, benchmarks=["toy-sum", "toy-choice"], limit=10))
    message = str(caught.value)
    assert "no recording for 4 of 10 samples of benchmark 'toy-sum'" in message
    assert "'sum-00006', 'sum-00007', 'sum-00008', 'sum-00009'" in message
    assert not (tmp_path / "run").exists()


def test_replay_lists_the_first_five_missing_samples(eval_test_plugin, tmp_path):
    write_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=2)
    with pytest.raises(ReplayMissError, match=r"no recording for 18 of 20 .*'sum-00006' and 13 more"):
        prepare_run(config(tmp_path, limit=20))


def test_replay_missing_log_likelihoods_are_found_too(eval_test_plugin, tmp_path):
    write_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=3)
    with pytest.raises(ReplayMissError, match=r"no recording for 9 of 12 samples of benchmark 'toy-choice'"):
        prepare_run(config(tmp_path, benchmarks=["toy-choice"]))


def test_cli_short_replay_is_one_line_status_2_and_leaves_no_directory(eval_cli, eval_test_plugin, tmp_path):
    write_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=6)
    args = ["eval", "run", "--model", "replay:replay.jsonl", "--benchmarks", "toy-sum", "--out", "y", "--no-progress"]
    result = eval_cli(*args, "--limit", "8")
    assert_one_error_line(result, "no recording for 2 of 8 samples of benchmark 'toy-sum'", "'sum-00006'")
    assert not (tmp_path / "y").exists()
    rerun = eval_cli(*args, "--limit", "6")  # the same --out works at once: nothing was left behind
    assert rerun.returncode == 0, rerun.stderr


def finished_run(plugin, tmp_path: Path, **fields) -> dict:
    write_replay(tmp_path / "replay.jsonl", plugin, size=20)
    return run(config(tmp_path, limit=20, **fields))


def test_resume_refuses_a_changed_benchmark_version(eval_test_plugin, tmp_path, monkeypatch):
    summary = finished_run(eval_test_plugin, tmp_path)
    assert summary["plan"]["toy-sum"] == {
        "version": "1",
        "prompt_hash": summary["benchmarks"]["toy-sum"]["prompt_hash"],
    }
    spec = eval_test_plugin.ToySum.spec
    monkeypatch.setattr(eval_test_plugin.ToySum, "spec", dataclasses.replace(spec, version="2"))
    with pytest.raises(RunDirError, match=r"benchmark 'toy-sum' version was '1' when .* but is '2' now"):
        prepare_run(config(tmp_path, limit=20), resume=True)


def test_resume_refuses_a_changed_prompt_format(eval_test_plugin, tmp_path, monkeypatch):
    finished_run(eval_test_plugin, tmp_path)
    original = eval_test_plugin.ToySum.request

    def reworded(self, sample):
        return dataclasses.replace(
            original(self, sample), prompt=f"What is {sample.inputs['a']} + {sample.inputs['b']}?"
        )

    monkeypatch.setattr(eval_test_plugin.ToySum, "request", reworded)
    with pytest.raises(RunDirError, match=r"benchmark 'toy-sum' prompt_hash was '[0-9a-f]{64}' when"):
        prepare_run(config(tmp_path, limit=20), resume=True)


def test_resume_of_a_run_cut_before_its_end_checks_the_start_summary(eval_test_plugin, tmp_path, monkeypatch):
    finished_run(eval_test_plugin, tmp_path)
    summary_path = tmp_path / "run" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary_path.write_text(json.dumps({**summary, "finished": False, "benchmarks": {}}))  # as when a run starts
    prepare_run(config(tmp_path, limit=20), resume=True).close()  # unchanged lemur: resumes
    spec = eval_test_plugin.ToySum.spec
    monkeypatch.setattr(eval_test_plugin.ToySum, "spec", dataclasses.replace(spec, version="1.1"))
    with pytest.raises(RunDirError, match="benchmark 'toy-sum' version"):
        prepare_run(config(tmp_path, limit=20), resume=True)


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_run_and_report_files_follow_the_umask(eval_test_plugin, tmp_path, umask_027):
    from lemur.eval.reports.report import write_report

    finished_run(eval_test_plugin, tmp_path)
    assert new_file_mode() == 0o640
    out = tmp_path / "run"
    written = [out / "config.yaml", out / "summary.json", out / "toy-sum" / "generations.jsonl"]
    _, reports = write_report([out], tmp_path / "report", paper=False, formats=("md",))
    for path in [*written, *reports]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_summary_records_versions_and_whether_the_checkout_was_dirty(eval_test_plugin, tmp_path):
    import importlib.metadata

    summary = finished_run(eval_test_plugin, tmp_path)
    versions = summary["versions"]
    assert versions["python"] == platform.python_version()
    for name in ("torch", "transformers", "httpx"):
        try:
            assert versions[name] == importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            assert name not in versions
    if summary["git_revision"] is None:
        assert summary["git_dirty"] in (None, False, True)
    else:
        assert isinstance(summary["git_dirty"], bool)
    assert "server_version" not in summary["model"]  # replay has no server


class _BrokenServer(ModelBackend):
    name = "broken"

    @property
    def identity(self):
        return {"backend": self.name}

    def generate(self, requests):
        raise LemurError("model server at http://127.0.0.1:9/v1 stopped answering")


def test_a_run_failing_part_way_says_how_to_resume(eval_test_plugin, tmp_path):
    write_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=20)
    prepared = prepare_run(config(tmp_path, limit=20, use_cache=False))
    prepared.backend.inner = _BrokenServer()
    try:
        with pytest.raises(RunInterruptedError) as caught:
            execute_run(prepared)
    finally:
        prepared.close()
    message = str(caught.value)
    assert message.startswith("model server at http://127.0.0.1:9/v1 stopped answering; ")
    assert f"{tmp_path / 'run'} keeps every finished item" in message and "--resume" in message
    assert caught.value.exit_code == 2


def test_resume_needs_recordings_only_for_what_is_left(eval_test_plugin, tmp_path):
    finished_run(eval_test_plugin, tmp_path)
    out = tmp_path / "run" / "toy-sum"
    for name in ("generations.jsonl", "results.jsonl"):
        lines = (out / name).read_text().splitlines(keepends=True)
        (out / name).write_text("".join(lines[:15]))  # as if killed after 15 items
    replay = (tmp_path / "replay.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "replay.jsonl").write_text("".join(replay[16:20]))  # samples 16-19 only
    with pytest.raises(ReplayMissError, match=r"no recording for 1 of 20 samples .*\('sum-00015'\)"):
        prepare_run(config(tmp_path, limit=20), resume=True)
    (tmp_path / "replay.jsonl").write_text("".join(replay[15:20]))
    summary = run(config(tmp_path, limit=20), resume=True)
    assert summary["finished"] and summary["benchmarks"]["toy-sum"]["n"] == 20
