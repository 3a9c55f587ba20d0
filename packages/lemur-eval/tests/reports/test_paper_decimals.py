"""Published rows are printed with the paper's decimals: Table 3 one ("26.0", not "26"), the MINT tables two."""

from __future__ import annotations

from pathlib import Path

from lemur.eval.reports.loader import load_runs
from lemur.eval.reports.paper import load_paper_scores
from lemur.eval.reports.tables import capability_table, paper_table, printed_decimals


def _texts(table, label: str) -> dict[str, str]:
    row = next(r for r in table.rows if r.label == label)
    return {column.key: text for column, text in zip(table.columns, row.texts, strict=True)}


def test_each_table_is_printed_with_its_own_decimals() -> None:
    paper = load_paper_scores()
    assert {spec.id: printed_decimals(spec) for spec in paper.tables} == {
        "table3": 1,
        "table4": 2,
        "table5": 2,
        "table6": 2,
        "table7": 2,
    }


def test_whole_published_numbers_keep_their_decimals(two_runs: list[Path]) -> None:
    paper = load_paper_scores()
    runs = load_runs(two_runs)
    table3 = paper_table(paper.tables[0], runs, paper)
    starcoder = _texts(table3, "StarCoder-15B (paper)")
    assert starcoder["ds-1000"] == "26.0"  # published 26.0, which YAML reads as 26
    lemur = _texts(table3, "Lemur-70B-Chat (paper)")
    published = next(row for row in paper.tables[0].rows if row.model == "Lemur-70B-Chat")
    assert lemur["all"] == "55.0" and published.averages["all"] == 55
    assert all(text == "—" or len(text.split(".")[1]) == 1 for text in [*starcoder.values(), *lemur.values()])
    table4 = paper_table(paper.tables[1], runs, paper)
    gpt4 = _texts(table4, "gpt-4 (paper)")
    assert gpt4["mint-math"] == "57.00" and gpt4["mint-hotpotqa"] == "46.51"
    capabilities = capability_table(runs, paper)
    assert capabilities is not None
    tools = _texts(capabilities, "gpt-4 (paper)")
    assert tools["avg:tools"] == "66.77"
    measured = next(row for row in table3.rows if not row.reference)
    assert all(text == "—" or len(text.split(".")[1]) == 1 for text in measured.texts)  # runs: one decimal
