"""The shipped Lemur-Chat recipe reads ShareGPT and ChatLogs as the one set of the paper's Table 1.

Stand-ins in ShareGPT's file format are made from real prompt/solution pairs (HumanEval as the
ShareGPT file, MBPP as the ChatLogs file); the recipe's entry must yield the conversations of
both files, in file order, under the one source that carries the combined Table 1 figures.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lemur.core.errors import ConfigError
from lemur.data.build import SourceShardTask
from lemur.data.mixture import load_recipe

RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "lemur-chat-sft.yaml"


def _sharegpt_rows(pairs: list[tuple[str, str, str]]) -> list[dict]:
    return [
        {"id": i, "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]} for i, q, a in pairs
    ]


def test_sharegpt_and_chatlogs_are_one_source(tmp_path, shared_data, monkeypatch) -> None:
    humaneval = [json.loads(line) for line in gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt")][:30]
    mbpp = [json.loads(line) for line in (shared_data / "mbpp" / "mbpp.jsonl").read_text().splitlines()[:20]]
    sharegpt = tmp_path / "sharegpt.json"  # ShareGPT ships one JSON list
    sharegpt.write_text(
        json.dumps(_sharegpt_rows([(p["task_id"], p["prompt"], p["canonical_solution"]) for p in humaneval]))
    )
    chatlogs = tmp_path / "chatlogs.jsonl"
    rows = _sharegpt_rows([(f"mbpp/{r['task_id']}", r["text"], r["code"]) for r in mbpp])
    chatlogs.write_text("".join(json.dumps(row) + "\n" for row in rows))

    recipe = load_recipe(RECIPE)
    [entry] = [s for s in recipe.sources if s.source in ("sharegpt", "chatlogs")]
    assert entry.paper == {"instances": 81319, "rounds": 6.0, "prompt_len": 96.7, "completion_len": 340.2}
    assert [step.step for step in entry.steps] == ["language", "non-english-runs", "semantic-dedup"]

    task = SourceShardTask(recipe.model_copy(update={"tasks_per_source": 1}), str(tmp_path / "out"))
    monkeypatch.delenv("LEMUR_CHATLOGS", raising=False)
    monkeypatch.setenv("LEMUR_SHAREGPT", str(sharegpt))
    with pytest.raises(ConfigError, match="LEMUR_CHATLOGS"):
        list(task.documents(entry, 0))
    monkeypatch.setenv("LEMUR_CHATLOGS", str(chatlogs))
    documents = list(task.documents(entry, 0))
    assert [d.id for d in documents] == [p["task_id"] for p in humaneval] + [f"mbpp/{r['task_id']}" for r in mbpp]
    assert {d.metadata["source"] for d in documents} == {entry.name}
    first = documents[len(humaneval)].metadata["messages"]
    assert first == [{"role": "user", "content": mbpp[0]["text"]}, {"role": "assistant", "content": mbpp[0]["code"]}]
