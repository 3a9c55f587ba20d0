"""lemur.eval.reports.loader: reading and validating run directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lemur.eval.reports.loader import RunSummaryError, load_run, load_runs


def test_load_run_reads_every_field(two_runs: list[Path], data) -> None:
    run = load_run(two_runs[0])
    assert run.run_id == "run-a"
    assert run.finished is True
    assert run.model_spec == "replay:lemur-70b-chat.jsonl"
    assert run.backend == "replay"
    gsm8k = run.benchmarks["gsm8k"]
    assert (gsm8k.category, gsm8k.metric, gsm8k.n) == ("text", "accuracy", 80)
    assert gsm8k.score == pytest.approx(41 / 80)
    assert gsm8k.success_by_turn is None
    sql = run.benchmarks["intercode-sql"]
    assert sql.category == "agent"
    # 9 of 20 solved: 2 at turn 1, 3 at turn 2, 1 at 3, 1 at 4, 2 at 5.
    assert sql.success_by_turn == pytest.approx((2 / 20, 5 / 20, 6 / 20, 7 / 20, 9 / 20))
    assert sql.score == pytest.approx(sum(t is not None for t in data.SQL_TURNS) / len(data.SQL_TURNS))


def test_unknown_keys_are_ignored(make_run, tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "r", "replay:x", {"gsm8k": [1.0, 0.0]})
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["new_runner_field"] = {"anything": 1}
    summary["benchmarks"]["gsm8k"]["timing_seconds"] = 3.5
    (run_dir / "summary.json").write_text(json.dumps(summary))
    assert load_run(run_dir).benchmarks["gsm8k"].score == 0.5


def _edit_summary(run_dir: Path, edit) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    edit(summary)
    (run_dir / "summary.json").write_text(json.dumps(summary))


def _set(path: list[str], value):
    def edit(summary: dict) -> None:
        target = summary
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return edit


_DELETE = object()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_set(["finished"], _DELETE), "field 'finished' is required but missing"),
        (_set(["model", "spec"], _DELETE), "field 'model.spec' is required but missing"),
        (_set(["benchmarks", "gsm8k", "category"], "math"), "field 'benchmarks.gsm8k.category' is 'math'"),
        (
            _set(["benchmarks", "gsm8k", "metric"], "exact_match"),
            "scores has no value for the headline metric 'exact_match'",
        ),
        (_set(["benchmarks", "gsm8k", "scores"], {"accuracy": 55.3}), "the headline score must be in [0, 1]"),
        (_set(["benchmarks", "gsm8k", "n"], -1), "field 'benchmarks.gsm8k.n'"),
        (_set(["benchmarks", "gsm8k", "success_by_turn"], [0.2, 0.1]), "success_by_turn must not decrease"),
        (_set(["benchmarks", "gsm8k", "success_by_turn"], [0.2, 1.5]), "fractions in [0, 1]"),
    ],
)
def test_malformed_summary_is_one_line_naming_file_and_field(make_run, tmp_path: Path, edit, expected: str) -> None:
    run_dir = make_run(tmp_path, "r", "replay:x", {"gsm8k": [1.0, 0.0]})
    _edit_summary(run_dir, edit)
    with pytest.raises(RunSummaryError) as caught:
        load_run(run_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(run_dir / "summary.json"))
    assert expected in message


def test_missing_directory_and_summary(tmp_path: Path) -> None:
    with pytest.raises(RunSummaryError, match="not a directory"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunSummaryError, match=r"summary\.json: missing; is .* a run directory"):
        load_run(tmp_path / "empty")


def test_not_json_gives_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "summary.json").write_text('{"run_id": "x",\n  "finished": tru\n}')
    with pytest.raises(RunSummaryError, match=r"not valid JSON at line 2, column 15"):
        load_run(tmp_path / "r")
    (tmp_path / "r" / "summary.json").write_text("[1, 2]")
    with pytest.raises(RunSummaryError, match="expected a JSON object at the top level, got list"):
        load_run(tmp_path / "r")


def test_load_runs_rejects_empty_and_duplicates(two_runs: list[Path]) -> None:
    with pytest.raises(RunSummaryError, match="no run directory given"):
        load_runs([])
    with pytest.raises(RunSummaryError, match="given twice"):
        load_runs([two_runs[0], two_runs[0] / ".." / "run-a"])
    assert [run.run_id for run in load_runs(two_runs)] == ["run-a", "run-b"]
