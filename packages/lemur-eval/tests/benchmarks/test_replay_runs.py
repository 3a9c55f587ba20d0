"""Every foundational benchmark through the real runner with the replay backend.

Fed gold answers a benchmark scores 100%; fed wrong answers, 0% (MultiPL-E has no translated
gold solutions in its data, see test_multipl_e.py; DS-1000 runs on its test fixtures).
"""

import json

import pytest

from lemur.core.components import Kind
from lemur.core.plugins import components
from lemur.eval.config import RunConfig
from lemur.eval.models.base import GenerationRequest
from lemur.eval.runner import run

LIMIT = 12
GOLD_AND_WRONG = {
    "gsm8k": (lambda s: f" So the answer is {s.target}.", lambda s: " So the answer is -1.5."),
    "bbh": (lambda s: f"{s.target}.", lambda s: "zzz"),
    "spider": (lambda s: s.target, lambda s: "SELECT 'lemur-wrong-answer'"),
    "humaneval": (lambda s: s.target, lambda s: "    pass\n"),
    "mbpp": (lambda s: s.target, lambda s: "def nothing():\n    return None"),
    "ds-1000": (lambda s: s.target, lambda s: "result = None"),
}


def write_replay(path, benchmark, samples, answer):
    with open(path, "w") as out:
        for sample in samples:
            request = benchmark.request(sample)
            if isinstance(request, GenerationRequest):
                out.write(json.dumps({"request": request.to_dict(), "output": answer(sample)}) + "\n")
                continue
            for option, ll_request in zip("ABCD", request, strict=True):
                value = answer(sample, option)
                out.write(json.dumps({"request": vars(ll_request), "logprob": value}) + "\n")


def headline(name, tmp_path, data_dir, answer, tag, options=None):
    benchmark = components(Kind.BENCHMARK).load(name)(data_dir=data_dir, **(options or {}))
    samples = list(benchmark.samples())[:LIMIT]
    replay = tmp_path / f"{name}-{tag}.jsonl"
    write_replay(replay, benchmark, samples, answer)
    config = RunConfig(
        model=f"replay:{replay}",
        benchmarks=(name,),
        out=tmp_path / f"run-{name}-{tag}",
        limit=LIMIT,
        data_dir=data_dir,
        benchmark_options={name: options} if options else {},
        use_cache=False,
        progress=False,
        workers=2,
    )
    summary = run(config)
    entry = summary["benchmarks"][name]
    return entry["scores"][entry["metric"]], entry["n"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOLD_AND_WRONG))
def test_gold_scores_100_and_wrong_scores_0(name, tmp_path, shared_data, local_sandbox, ds1000_mirror, monkeypatch):
    monkeypatch.setenv("LEMUR_CACHE_DIR", str(tmp_path / "cache"))
    data_dir, options = (ds1000_mirror if name == "ds-1000" else shared_data), None
    gold, wrong = GOLD_AND_WRONG[name]
    assert headline(name, tmp_path, data_dir, gold, "gold", options)[0] == 1.0
    assert headline(name, tmp_path, data_dir, wrong, "wrong", options)[0] == 0.0


def test_mmlu_log_likelihoods_through_the_runner(tmp_path, shared_data):
    right = lambda sample, option: 0.0 if option == sample.target else -5.0  # noqa: E731
    wrong = lambda sample, option: -5.0 if option == sample.target else 0.0  # noqa: E731
    assert headline("mmlu", tmp_path, shared_data, right, "gold") == (1.0, LIMIT)
    assert headline("mmlu", tmp_path, shared_data, wrong, "wrong") == (0.0, LIMIT)
