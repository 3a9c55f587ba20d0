"""The bundled paper scores: valid, sourced, and shaped like the paper's tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lemur.core.errors import ConfigError
from lemur.eval.reports.paper import PAPER_SCORES_FILE, load_paper_scores

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
