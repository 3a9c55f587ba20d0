"""lemur.eval.reports.tables: values and averages against numbers computed here by hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lemur.eval.reports.loader import load_runs
from lemur.eval.reports.paper import load_paper_scores
from lemur.eval.reports.report import build_report
from lemur.eval.reports.tables import Column, average, capability_table, paper_table, radar_series, scores_table


def _row(table, label_start: str) -> dict[str, float | None]:
    row = next(r for r in table.rows if r.label.startswith(label_start))
    return {column.key: value for column, value in zip(table.columns, row.values, strict=True)}


def test_table3_values_and_averages(two_runs: list[Path]) -> None:
    runs = load_runs(two_runs)
    paper = load_paper_scores()
    table = paper_table(paper.tables[0], runs, paper, reference=False)
    assert table is not None and table.id == "table3"
    a = _row(table, "replay:lemur-70b-chat")
    # Sample counts from the fixture: mmlu 33/50, bbh 27/60, gsm8k 41/80.
    assert a["mmlu"] == pytest.approx(66.0)
    assert a["bbh"] == pytest.approx(45.0)
    assert a["gsm8k"] == pytest.approx(51.25)
    assert a["avg:text"] == pytest.approx((66.0 + 45.0 + 51.25) / 3)
    # humaneval 20/41, mbpp 30/50, spider 31/50, multipl-e 12/40, ds-1000 9/30.
    code = [100 * 20 / 41, 60.0, 62.0, 30.0, 30.0]
    assert a["avg:code"] == pytest.approx(sum(code) / 5)
    # "All" is the mean of the eight benchmarks, not of the two group averages.
    assert a["all"] == pytest.approx((66.0 + 45.0 + 51.25 + sum(code)) / 8)
    assert a["all"] != pytest.approx((a["avg:text"] + a["avg:code"]) / 2)
    b = _row(table, "replay:llama-2-70b-chat")
    assert b["avg:text"] == pytest.approx((56.0 + 100 * 22 / 60 + 100 * 36 / 80) / 3)
    assert b["humaneval"] is None and b["avg:code"] is None and b["all"] is None
    text = {column.key: text for column, text in zip(table.columns, table.rows[0].texts, strict=True)}
    assert text["gsm8k"] == "51.2" and text["avg:text"] == "54.1"


def test_scores_table_groups_by_category_in_paper_order(two_runs: list[Path]) -> None:
    runs = load_runs(two_runs)
    table = scores_table(runs, load_paper_scores())
    keys = [column.key for column in table.columns]
    assert keys[:4] == ["mmlu", "bbh", "gsm8k", "avg:text"]
    assert keys[4:10] == ["humaneval", "mbpp", "spider", "multipl-e", "ds-1000", "avg:code"]
    assert "avg:agent" not in keys and "intercode-sql" in keys
    b = _row(table, "replay:llama-2-70b-chat")
    assert b["intercode-sql"] == pytest.approx(20.0)  # 4 of 20 solved
    assert table.rows[1].label.endswith("(unfinished)")


def test_capabilities_average_as_their_tables(two_runs: list[Path]) -> None:
    runs = load_runs(two_runs)
    paper = load_paper_scores()
    table = capability_table(runs, paper, reference=False)
    assert table is not None
    a = _row(table, "replay:lemur-70b-chat")
    # Tools is paper Table 4's MicroAvg: solved tasks over all tasks (20/48, 15/43, 30/100, 40/76, 10/49).
    tools = 100 * (20 + 15 + 30 + 40 + 10) / (48 + 43 + 100 + 76 + 49)
    assert a["avg:tools"] == pytest.approx(tools)
    assert a["avg:exploration"] == pytest.approx((15.0 + 6.0 + 30.0) / 3)
    assert a["avg:self-debug"] is None  # only InterCode-SQL of its five benchmarks
    assert a["avg:feedback"] is None
    # Run B completes no capability group, so it has no row here.
    assert [row.label for row in table.rows] == ["replay:lemur-70b-chat.jsonl"]

    axes, series = radar_series(runs, paper)
    assert axes == ["Text", "Code", "Augment with tools", "Explore environments"]
    code = [100 * 20 / 41, 60.0, 62.0, 30.0, 30.0]
    assert series[0][1] == pytest.approx([(66.0 + 45.0 + 51.25) / 3, sum(code) / 5, tools, 17.0])
    assert series[1][1][0] == pytest.approx((56.0 + 100 * 22 / 60 + 100 * 36 / 80) / 3)
    assert series[1][1][1:] == [None, None, None]


def test_reference_rows_match_the_bundled_data(two_runs: list[Path]) -> None:
    paper = load_paper_scores()
    report = build_report(two_runs, paper=True, plots=False)
    table7 = next(table for table in report.tables if table.id == "table7")
    spec = next(spec for spec in paper.tables if spec.id == "table7")
    references = [row for row in table7.rows if row.reference]
    assert [row.label for row in references] == [f"{row.model} (paper)" for row in spec.rows]
    for row, published in zip(references, spec.rows, strict=True):
        for column, value, text in zip(table7.columns, row.values, row.texts, strict=True):
            if column.is_average:
                continue
            assert value == published.values.get(column.key)
            assert text == ("—" if value is None else f"{value:.2f}")  # Table 7 prints two decimals: 9.00
    shown = {table.id for table in report.tables}
    assert "table6" not in shown  # no run evaluated a benchmark with feedback
    assert [(label, title) for label, title, _ in report.sources] == [
        (f"{row.model} (paper)", table.title) for table in paper.tables if table.id in shown for row in table.rows
    ]
    assert all(source for _, _, source in report.sources)

    without = build_report(two_runs, paper=False, plots=False)
    assert not any(row.reference for table in without.tables for row in table.rows)
    assert without.sources == ()


def test_mint_tables_micro_average_runs_and_show_printed_averages(two_runs: list[Path]) -> None:
    paper = load_paper_scores()
    runs = load_runs(two_runs)
    table4 = paper_table(paper.tables[1], runs, paper)
    assert table4 is not None and table4.id == "table4"
    assert any("micro average" in note for note in table4.notes)
    a = _row(table4, "replay:lemur-70b-chat")
    assert a["avg:tools"] == pytest.approx(100 * 115 / 316)
    assert a["avg:tools"] != pytest.approx((100 * 20 / 48 + 100 * 15 / 43 + 30.0 + 100 * 40 / 76 + 100 * 10 / 49) / 5)
    lemur = _row(table4, "Lemur-70B-Chat (paper)")
    assert lemur["mint-gsm8k"] == 58.33 and lemur["avg:tools"] == 31.65  # as printed
    # Table 3: the published "All" is the paper's printed Avg, even where the row's values give another mean.
    table3 = paper_table(paper.tables[0], runs, paper)
    assert table3 is not None
    published = _row(table3, "Lemur-70B-Chat (paper)")
    assert published["all"] == 55.0
    assert published["avg:text"] == pytest.approx((65.3 + 61.9 + 66.3) / 3)  # no printed group average
    capabilities = capability_table(runs, paper)
    assert capabilities is not None
    lemur = _row(capabilities, "Lemur-70B-Chat (paper)")
    assert lemur["avg:tools"] == 31.65 and lemur["avg:feedback"] == 38.50
    assert lemur["avg:self-debug"] == pytest.approx((46.67 + 17.58 + 34.50 + 73.79 + 75.68) / 5)
    assert _row(capabilities, "gpt-4 (paper)")["avg:feedback"] is None  # Table 6 has no gpt-4 feedback row


def test_micro_average_needs_every_weight() -> None:
    column = Column(key="avg:x", label="Avg", members=("a", "b"), weighted=True)
    assert average(column, {"a": 50.0, "b": 0.0}, {"a": 3, "b": 1}) == pytest.approx(37.5)
    assert average(column, {"a": 50.0, "b": 0.0}, {"a": 3}) is None
    assert average(column, {"a": 50.0}, {"a": 3, "b": 1}) is None
    assert average(dataclasses.replace(column, weighted=False), {"a": 50.0, "b": 0.0}) == pytest.approx(25.0)


def test_paper_tables_without_any_run_benchmark_are_left_out(make_run, tmp_path: Path) -> None:
    run = make_run(tmp_path, "text-only", "replay:x", {"gsm8k": [1.0, 0.0, 1.0]})
    report = build_report([run], plots=False)
    assert [table.id for table in report.tables] == ["scores", "table3"]
