"""A report over real agent trajectories: InterCode's published GPT-4 logs (10 turns) in ../shared/data.

The run directory is built from the logs as the runner would record them (success turn = the
first turn with reward 1). The expected success counts come from shared/data's SOURCE.md,
counted there independently: SQL 762 of 1,034, Bash 25+25+31+16 of 60+53+60+27, CTF 37 of 93.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lemur.eval.reports.report import build_report, render

LOGS = {
    "intercode-sql": ["sql/gpt-4/ic_sql_multiturn_gpt-4_10_turns.json"],
    "intercode-bash": [f"bash/gpt-4/ic_bash_multiturn_gpt-4_10_turns_fs_{i}.json" for i in (1, 2, 3, 4)],
    "intercode-ctf": ["ctf/ic_ctf_multiturn_gpt-4_10_turns.json"],
}
EXPECTED = {"intercode-sql": (762, 1034), "intercode-bash": (97, 200), "intercode-ctf": (37, 93)}


def _success_turns(files: list[Path]) -> list[int | None]:
    turns: list[int | None] = []
    for file in files:
        for episode in json.loads(file.read_text(encoding="utf-8")).values():
            rewards = episode["turn_history"]["rewards"]
            turns.append(rewards.index(1.0) + 1 if 1.0 in rewards else None)
    return turns


@pytest.fixture
def gpt4_run(shared_data: Path, make_run, tmp_path: Path) -> Path:
    results = shared_data / "intercode" / "data" / "results"
    turns = {name: _success_turns([results / f for f in files]) for name, files in LOGS.items()}
    samples = {name: [0.0 if t is None else 1.0 for t in values] for name, values in turns.items()}
    return make_run(
        tmp_path, "gpt4-logs", "replay:intercode-gpt-4-logs.jsonl", samples, success_turns=turns, max_turns=10
    )


def test_report_over_real_intercode_logs(gpt4_run: Path) -> None:
    report = build_report([gpt4_run], plots=True)
    scores = next(table for table in report.tables if table.id == "scores")
    row = dict(zip((c.key for c in scores.columns), scores.rows[0].texts, strict=True))
    for name, (solved, total) in EXPECTED.items():
        assert row[name] == f"{100 * solved / total:.1f}"
    run = report.runs[0]
    for name, (solved, total) in EXPECTED.items():
        curve = run.benchmarks[name].success_by_turn
        assert curve is not None and len(curve) == 10
        assert curve[-1] == pytest.approx(solved / total)
        assert list(curve) == sorted(curve)
    # SQL and Bash feed Self-debug, CTF feeds Exploration; neither group is complete here.
    table5 = next(table for table in report.tables if table.id == "table5")
    assert dict(zip((c.key for c in table5.columns), table5.rows[0].texts, strict=True))["avg:self-debug"] == "—"
    files = render(report, ["md", "png"])
    assert sorted(name for name in files if name.endswith(".png")) == [
        f"plots/success_by_turn_{name}.png" for name in ("intercode-bash", "intercode-ctf", "intercode-sql")
    ]
    assert "| replay:intercode-gpt-4-logs.jsonl |" in files["report.md"].decode()
