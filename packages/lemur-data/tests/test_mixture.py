"""Recipes and mixtures: paper weights, deterministic seeded sampling within sampling error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lemur.core.errors import ConfigError, LemurError
from lemur.data.mixture import load_recipe, sample_mixture

RECIPES = Path(__file__).resolve().parents[3] / "recipes"
TABLE_8 = {
    "python": 72.73, "sql": 5.15, "java": 1.82, "shell": 1.82, "notebook": 1.71, "javascript": 1.69, "c": 1.61,
    "php": 1.33, "cpp": 1.21, "other-code": 1.73, "refinedweb": 6.82, "wikipedia": 0.64, "books": 0.41,
    "arxiv": 0.41, "stackexchange": 0.41, "dm-mathematics": 0.41,
}  # fmt: skip


def test_pretrain_recipe_has_the_paper_weights() -> None:
    recipe = load_recipe(RECIPES / "lemur-pretrain.yaml")
    assert {s.name: s.weight for s in recipe.sources} == TABLE_8
    code = sum(s.weight for s in recipe.sources if s.group == "code")
    text = sum(s.weight for s in recipe.sources if s.group == "text")
    assert code / text == pytest.approx(10, rel=0.003)  # the paper's 10:1 code-to-text ratio
    assert recipe.total_tokens == 90_000_000_000 and recipe.tokenizer == "llama-2"
    # Table 8 prints epochs for the code sources and "-" for the text ones.
    assert all((s.epochs is not None) == (s.group == "code") for s in recipe.sources)


def test_sft_and_mini_recipes_load() -> None:
    sft = load_recipe(RECIPES / "lemur-chat-sft.yaml")
    assert [s.source for s in sft.sources] == ["oasst1", "openorca", "sharegpt", "evol-codealpaca"]
    assert {s.name: s.instances for s in sft.sources}["openorca"] == 200_000
    # Table 1: every set has its four published figures; OpenOrca's count is the sample size.
    assert all(set(s.paper) == {"instances", "rounds", "prompt_len", "completion_len"} for s in sft.sources)
    assert all(s.paper["instances"] == s.instances for s in sft.sources if s.instances is not None)
    mini = load_recipe(RECIPES / "mini-lemur.yaml")
    assert sum(mini.weights().values()) == pytest.approx(1)


def test_bad_recipe_is_one_clear_line(tmp_path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nsources:\n  - {name: a, source: jsonl, weight: 1}\n  - {name: b, source: jsonl}\n")
    with pytest.raises(ConfigError, match="every source has a weight or none does; missing: b"):
        load_recipe(path)
    path.write_text("name: x\nsources:\n  - {name: a, source: jsonl, wieght: 1}\n")
    with pytest.raises(ConfigError, match="unknown key 'sources\\[0\\].wieght'"):
        load_recipe(path)


def test_realised_mixture_matches_the_recipe_within_sampling_error() -> None:
    from scipy.stats import chisquare

    weights = {name: w / sum(TABLE_8.values()) for name, w in TABLE_8.items()}
    rows = {name: 50 + 7 * i for i, name in enumerate(TABLE_8)}
    table = sample_mixture(rows, weights, 20_000, seed=11)
    counts = np.bincount(table[:, 0], minlength=len(weights))
    expected = 20_000 * np.array(list(weights.values()))
    assert chisquare(counts, expected).pvalue > 1e-3
    for i, name in enumerate(weights):  # each share within 4.5 binomial standard deviations
        p = weights[name]
        assert abs(counts[i] - 20_000 * p) <= 4.5 * np.sqrt(20_000 * p * (1 - p)), name


def test_sampling_is_deterministic_and_uses_each_row_once_per_epoch() -> None:
    rows, weights = {"a": 40, "b": 7}, {"a": 0.7, "b": 0.3}
    table = sample_mixture(rows, weights, 300, seed=5)
    assert np.array_equal(table, sample_mixture(rows, weights, 300, seed=5))
    assert not np.array_equal(table, sample_mixture(rows, weights, 300, seed=6))
    picks = table[table[:, 0] == 1, 1]
    for start in range(0, len(picks) - 7, 7):
        assert sorted(picks[start : start + 7].tolist()) == list(range(7))


def test_source_with_weight_but_no_rows_is_an_error() -> None:
    with pytest.raises(LemurError, match="weight but no data: b"):
        sample_mixture({"a": 3, "b": 0}, {"a": 0.5, "b": 0.5}, 10, seed=0)
