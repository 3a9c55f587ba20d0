"""The hf backend's left truncation is counted (truncated_tokens), recorded by the runner, and warned about."""

from __future__ import annotations

import json

import pytest

from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest

PROMPTS = [
    "The quick brown",
    "Question: what is 2 + 2? Answer:",
    "The capital of France is Paris. The capital of Italy is",
]


@pytest.fixture(scope="module")
def reference(tiny_model):
    """The tiny model and its tokenizer, loaded directly."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    return model, tokenizer


@pytest.fixture(scope="module")
def short_backend(tiny_model):
    """The tiny model with a 12-token context."""
    from lemur.eval.models.hf import HFBackend

    backend = HFBackend(str(tiny_model), device="cpu", dtype="float32", max_length="12", batch_size="2")
    yield backend
    backend.close()


def prompt_ids(tokenizer, text: str) -> list[int]:
    return [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False).input_ids]


def test_generation_cut_is_counted_and_keeps_the_last_tokens(short_backend, reference):
    import torch

    model, tokenizer = reference
    requests = [GenerationRequest(prompt=p, max_tokens=4) for p in PROMPTS] + [
        GenerationRequest(prompt=PROMPTS[2], max_tokens=0)
    ]
    room = 12 - 4
    expected = [max(0, len(prompt_ids(tokenizer, p)) - room) for p in PROMPTS] + [0]
    assert short_backend.truncated_tokens(requests) == expected
    assert expected[0] == 0 and expected[2] > 0  # the cases cover both
    assert short_backend.prompt_tokens(requests[:3]) == [min(len(prompt_ids(tokenizer, p)), room) for p in PROMPTS]
    outputs = short_backend.generate(requests[:3])
    for prompt, output in zip(PROMPTS, outputs, strict=True):
        ids = prompt_ids(tokenizer, prompt)[-room:]  # what the backend says it keeps
        with torch.no_grad():
            for _ in range(4):
                ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
        assert output.text == tokenizer.decode(ids[-4:], clean_up_tokenization_spaces=False)


def test_mixed_max_tokens_in_one_call_cut_each_prompt_by_its_own_budget(short_backend, reference):
    _, tokenizer = reference
    requests = [GenerationRequest(prompt=PROMPTS[1], max_tokens=2), GenerationRequest(prompt=PROMPTS[1], max_tokens=6)]
    length = len(prompt_ids(tokenizer, PROMPTS[1]))
    assert short_backend.truncated_tokens(requests) == [max(0, length - 10), max(0, length - 6)]
    together = short_backend.generate(requests)
    alone = [short_backend.generate([request])[0] for request in requests]
    assert together == alone


def test_loglikelihood_cut_is_counted(short_backend, reference):
    _, tokenizer = reference
    requests = [
        LoglikelihoodRequest("2 + 2 =", " 4"),
        LoglikelihoodRequest("The capital of France is Paris. The capital of Italy is", " Rome."),
    ]
    whole = [prompt_ids(tokenizer, r.context + r.continuation) for r in requests]
    assert short_backend.truncated_tokens(requests) == [max(0, len(ids) - 13) for ids in whole]
    assert short_backend.truncated_tokens(requests)[1] > 0


def test_runner_records_counts_sums_them_and_warns_once(eval_test_plugin, tiny_model, reference, tmp_path, capfd):
    from lemur.eval.config import RunConfig
    from lemur.eval.runner import run

    _, tokenizer = reference
    model = f"hf:{tiny_model},max_length=10,device=cpu,dtype=float32"
    fields = {"benchmarks": ["toy-sum", "toy-choice"], "limit": 3, "progress": False, "use_cache": False}
    summary = run(RunConfig.model_validate({"model": model, "out": tmp_path / "run", **fields}))
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, warnings
    for name, warning in zip(["toy-sum", "toy-choice"], warnings, strict=True):
        assert f"benchmark '{name}'" in warning and "max_length=10" in warning and "raise max_length" in warning

    sums = [json.loads(line) for line in (tmp_path / "run/toy-sum/generations.jsonl").read_text().splitlines()]
    expected = [len(prompt_ids(tokenizer, g["request"]["prompt"])) - (10 - 8) for g in sums]
    assert [g["truncated_tokens"] for g in sums] == expected
    choices = [json.loads(line) for line in (tmp_path / "run/toy-choice/generations.jsonl").read_text().splitlines()]
    expected_choice = [
        max(len(prompt_ids(tokenizer, r["context"] + r["continuation"])) - 11 for r in g["request"]["loglikelihood"])
        for g in choices
    ]
    assert [g["truncated_tokens"] for g in choices] == expected_choice
    assert summary["benchmarks"]["toy-sum"]["truncated"] == {"items": 3, "tokens": sum(expected)}
    assert summary["benchmarks"]["toy-choice"]["truncated"] == {"items": 3, "tokens": sum(expected_choice)}


def test_runner_with_room_records_zero_and_stays_quiet(eval_test_plugin, tiny_model, tmp_path, capfd):
    from lemur.eval.config import RunConfig
    from lemur.eval.runner import run

    model = f"hf:{tiny_model},device=cpu,dtype=float32"
    fields = {"benchmarks": ["toy-sum"], "limit": 2, "progress": False, "use_cache": False}
    summary = run(RunConfig.model_validate({"model": model, "out": tmp_path / "run", **fields}))
    assert "warning:" not in capfd.readouterr().err
    assert summary["benchmarks"]["toy-sum"]["truncated"] == {"items": 0, "tokens": 0}
    lines = (tmp_path / "run/toy-sum/generations.jsonl").read_text().splitlines()
    assert [json.loads(line)["truncated_tokens"] for line in lines] == [0, 0]
