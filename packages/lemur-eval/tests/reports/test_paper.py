"""The bundled paper scores: valid, sourced, shaped like the paper's tables, and consistent with themselves.

The published numbers come from the paper's text; the checks here recompute every average
the paper prints from the row's own values (with the report's averaging code) and check that
every agent score is a whole number of tasks. A mistyped digit breaks one of them; the few
places where the paper itself is inconsistent are named, so a change there fails too.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import yaml

from lemur.core.errors import ConfigError
from lemur.eval.reports.paper import PAPER_SCORES_FILE, PaperScores, PaperTable, load_paper_scores
from lemur.eval.reports.tables import Column, average

BUNDLED = Path(__file__).resolve().parents[2] / "src" / "lemur" / "eval" / "reports" / PAPER_SCORES_FILE


def test_bundled_file_is_the_one_loaded_and_every_row_is_sourced() -> None:
    paper = load_paper_scores()
    raw = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    assert [table["id"] for table in raw["tables"]] == [table.id for table in paper.tables]
    for table, raw_table in zip(paper.tables, raw["tables"], strict=True):
        assert [row.model for row in table.rows] == [row["model"] for row in raw_table["rows"]]
        for row in table.rows:
            assert row.source.strip()
            assert all(0 <= value <= 100 for value in row.values.values())
            assert set(row.values) <= set(table.benchmarks)
            assert set(row.averages) <= set(table.average_keys)
    assert paper.paper.arxiv == "2310.06830"


def test_table_shapes() -> None:
    paper = load_paper_scores()
    table3 = paper.tables[0]
    assert table3.id == "table3" and table3.overall == "All"
    assert [group.benchmarks for group in table3.groups] == [
        ("mmlu", "bbh", "gsm8k"),
        ("humaneval", "mbpp", "spider", "multipl-e", "ds-1000"),
    ]
    assert [c.name for c in paper.capabilities] == ["tools", "self-debug", "feedback", "exploration"]
    assert [table.average for table in paper.tables] == ["mean", "micro", "mean", "micro", "mean"]
    # Table 6 (feedback) has the MINT reasoning and code subsets only, averaged by those two groups.
    table6 = paper.capability_table("feedback")
    assert [group.name for group in table6.groups] == ["reasoning", "code"] and table6.overall
    assert {name.removesuffix("-feedback") for name in table6.benchmarks} == set(
        paper.capability_table("tools").benchmarks + ("mint-humaneval", "mint-mbpp")
    )
    # The OpenLemur README counts 8 text and code datasets and 13 interactive agent datasets:
    # tools, self-debug and exploration hold 13 distinct ones; feedback re-runs MINT subsets.
    assert len(table3.benchmarks) == 8
    agent = {b for c in ("tools", "self-debug", "exploration") for b in paper.capability_table(c).benchmarks}
    assert len(agent) == 13
    for table in paper.tables:
        for name in table.benchmarks:
            assert name in paper.labels, f"{name} has no display label"


def test_a_value_outside_the_table_is_rejected(tmp_path: Path) -> None:
    raw = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    raw["tables"][0]["rows"] = [{"model": "X", "values": {"webarena": 1.0}, "source": "s"}]
    bad = tmp_path / "scores.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not columns of table3"):
        load_paper_scores(bad)
    raw["tables"][0]["rows"] = [{"model": "X", "values": {"mmlu": 65.3}, "source": ""}]
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"source"):
        load_paper_scores(bad)


def test_column_labels_are_unique() -> None:
    """Two benchmarks with one header (e.g. a MINT subset with and without feedback) would be ambiguous."""
    labels = list(load_paper_scores().labels.values())
    assert len(labels) == len(set(labels))


def _table(paper: PaperScores, table_id: str) -> PaperTable:
    return next(table for table in paper.tables if table.id == table_id)


def _column(table: PaperTable, members: tuple[str, ...]) -> Column:
    return Column(key="x", label="x", members=members, weighted=table.average == "micro")


def test_table3_avg_is_the_mean_of_all_eight_benchmarks() -> None:
    """The paper's only Table 3 average is the unweighted mean of the eight columns, not of the group means."""
    paper = load_paper_scores()
    table3 = _table(paper, "table3")
    every = _column(table3, table3.benchmarks)
    assert len(table3.rows) == 9
    off = {}
    for row in table3.rows:
        assert set(row.values) == set(table3.benchmarks)
        printed = row.averages["all"]
        recomputed = average(every, row.values)
        assert recomputed is not None
        if abs(recomputed - printed) > 0.05:  # printed with one decimal
            off[row.model] = round(recomputed, 2)
        groups = [statistics.fmean(row.values[b] for b in group.benchmarks) for group in table3.groups]
        assert abs(statistics.fmean(groups) - printed) > 0.05, f"{row.model}: Avg also fits the mean of the groups"
    # The paper prints 55.0 (and its prose uses it: +14.8 over Llama-2-70B-Chat), but the row's values give 56.24.
    assert off == {"Lemur-70B-Chat": 56.24}


def test_mint_tables_print_micro_averages() -> None:
    """Table 4's MicroAvg pools the tasks of the five subsets; the unweighted mean does not fit."""
    paper = load_paper_scores()
    table4 = _table(paper, "table4")
    tools = _column(table4, table4.benchmarks)
    assert [row.model for row in table4.rows] == [
        "Llama-2-70B-Chat",
        "CodeLlama-34B-INST",
        "Lemur-70B-Chat",
        "gpt-3.5-turbo",
        "gpt-4",
    ]
    for row in table4.rows:
        assert average(tools, row.values, paper.tasks) == pytest.approx(row.averages["tools"], abs=0.006)
    lemur = next(row for row in table4.rows if row.model == "Lemur-70B-Chat")
    assert statistics.fmean(lemur.values.values()) == pytest.approx(34.65, abs=0.01)  # not the printed 31.65


def test_table6_agrees_with_tables_4_and_5() -> None:
    """Without feedback, Table 6 re-averages Tables 4 and 5; with it, Micro Avg. pools Reasoning and Code Gen."""
    paper = load_paper_scores()
    table4, table5, table6 = (_table(paper, name) for name in ("table4", "table5", "table6"))
    reasoning_tasks = sum(paper.tasks[name] for name in table4.benchmarks)
    code = ("mint-humaneval", "mint-mbpp")
    code_tasks = sum(paper.tasks[name] for name in code)
    assert (reasoning_tasks, code_tasks) == (316, 136)
    code_column = Column(key="x", label="x", members=code, weighted=True)
    assert len(table6.rows) == 4
    for row in table6.rows:
        reasoning = next(r for r in table4.rows if r.model == row.model).averages["tools"]
        code_gen = average(code_column, next(r for r in table5.rows if r.model == row.model).values, paper.tasks)
        assert code_gen == pytest.approx(row.extra["Code Gen. (no feedback)"], abs=0.006)
        without = (reasoning * reasoning_tasks + code_gen * code_tasks) / (reasoning_tasks + code_tasks)
        assert without == pytest.approx(row.extra["Micro Avg. (no feedback)"], abs=0.01)
        pooled = (row.averages["reasoning"] * reasoning_tasks + row.averages["code"] * code_tasks) / 452
        assert pooled == pytest.approx(row.averages["all"], abs=0.01)
        # The paper subtracts unrounded averages (CodeLlama-34B-INST: 15.27 - 11.06 printed as 4.20).
        delta = row.averages["all"] - row.extra["Micro Avg. (no feedback)"]
        assert delta == pytest.approx(row.extra["Δfeedback"], abs=0.011)


def test_published_agent_scores_are_whole_numbers_of_tasks() -> None:
    """Each score (two decimals) is k of n tasks, up to one unit of its last printed digit."""
    paper = load_paper_scores()
    checked, off = 0, []
    for table in paper.tables:
        for row in table.rows:
            for name, value in row.values.items():
                if name not in paper.tasks:
                    continue
                tasks = paper.tasks[name]
                solved = value * tasks / 100
                checked += 1
                if abs(solved - round(solved)) > 0.01 * tasks / 100:
                    off.append((row.model, name))
    assert checked == 5 * 5 + 5 * 4 + 5 * 3  # Tables 4, 5 (without IC-Bash) and 7
    # Appendix Table 10 prints 84.14 (870/1034) for the same IC-SQL run.
    assert off == [("gpt-4", "intercode-sql")]


def test_bad_averages_are_rejected(tmp_path: Path) -> None:
    raw = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    bad = tmp_path / "scores.yaml"
    raw["tables"][1]["rows"] = [{"model": "X", "values": {"mint-gsm8k": 50.0}, "averages": {"all": 1.0}, "source": "s"}]
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"averages for \['all'\], which are not averages of table4"):
        load_paper_scores(bad)
    raw["tables"][1]["rows"] = [{"model": "X", "source": "s"}]
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"neither values nor averages"):
        load_paper_scores(bad)
    raw = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))
    del raw["tasks"]["mint-math"]
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"table4 is micro-averaged but tasks has no count for \['mint-math'\]"):
        load_paper_scores(bad)
