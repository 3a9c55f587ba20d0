"""The hf backend against references computed here, one sequence at a time, with no padding."""

from __future__ import annotations

import pytest

from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, Message
from lemur.eval.models.errors import BackendOptionError, ModelLoadError

PROMPTS = [
    "The quick brown",
    "def add(a, b):\n",
    "Question: what is 2 + 2? Answer:",
    "SELECT",
    "The capital of France is Paris. The capital of Italy is",
]


@pytest.fixture(scope="module")
def reference(tiny_model):
    """The tiny model and tokenizer loaded directly, for unpadded single-sequence references."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    return model, tokenizer


def greedy_reference(reference, prompt: str, max_tokens: int) -> str:
    """Greedy decoding by hand: argmax of the last position, one token at a time."""
    import torch

    model, tokenizer = reference
    ids = [tokenizer.bos_token_id, *tokenizer(prompt, add_special_tokens=False).input_ids]
    start = len(ids)
    with torch.no_grad():
        for _ in range(max_tokens):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return tokenizer.decode(ids[start:], clean_up_tokenization_spaces=False)


def loglikelihood_reference(reference, context: str, continuation: str) -> float:
    """Sum of log P(token) over the continuation's tokens, from one unpadded forward pass."""
    import torch

    model, tokenizer = reference
    context_ids = [tokenizer.bos_token_id, *tokenizer(context, add_special_tokens=False).input_ids]
    whole = [tokenizer.bos_token_id, *tokenizer(context + continuation, add_special_tokens=False).input_ids]
    assert whole[: len(context_ids)] == context_ids, "test inputs must split cleanly at a token boundary"
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([whole])).logits[0].float(), dim=-1)
    return sum(float(logprobs[i - 1, whole[i]]) for i in range(len(context_ids), len(whole)))


def test_batched_left_padded_generation_matches_greedy_reference(hf_backend, reference) -> None:
    requests = [GenerationRequest(prompt=p, max_tokens=6 + i) for i, p in enumerate(PROMPTS)]
    generations = hf_backend.generate(requests)
    assert [g.text for g in generations] == [greedy_reference(reference, r.prompt, r.max_tokens) for r in requests]
    assert all(g.finish_reason == "length" for g in generations)


def test_greedy_ignores_the_checkpoints_decoding_defaults(tiny_model, reference, tmp_path) -> None:
    import json
    import shutil

    from lemur.eval.models.hf import HFBackend

    copy = shutil.copytree(tiny_model, tmp_path / "opinionated")
    config = json.loads((copy / "generation_config.json").read_text())
    config.update(repetition_penalty=5.0, no_repeat_ngram_size=1, do_sample=True, top_k=3, temperature=0.3)
    (copy / "generation_config.json").write_text(json.dumps(config))
    backend = HFBackend(str(copy), device="cpu", dtype="float32")
    [generation] = backend.generate([GenerationRequest(prompt=PROMPTS[0], max_tokens=12)])
    expected = greedy_reference(reference, PROMPTS[0], 12)
    assert generation.text == expected
    assert len(set(reference[1](expected, add_special_tokens=False).input_ids)) < 12, "needs a repeated token"


def test_stop_string_is_cut_and_ends_generation(hf_backend, reference) -> None:
    full = greedy_reference(reference, PROMPTS[0], 12)
    stop = full[4:6]
    assert stop and stop in full
    generations = hf_backend.generate(
        [
            GenerationRequest(prompt=PROMPTS[0], max_tokens=12, stop=("NEVER-APPEARS", stop)),
            GenerationRequest(prompt=PROMPTS[1], max_tokens=5),
        ]
    )
    assert generations[0].text == full[: full.index(stop)]
    assert generations[0].finish_reason == "stop"
    assert generations[1].text == greedy_reference(reference, PROMPTS[1], 5)


def test_chat_request_renders_the_named_template(tiny_model, reference) -> None:
    from lemur.eval.models.hf import HFBackend

    backend = HFBackend(str(tiny_model), template="chatml", device="cpu", dtype="float32")
    messages = (Message("system", "Be brief."), Message("user", "hi"))
    prompt = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert backend.prompt_text(GenerationRequest(messages=messages)) == prompt
    [generation] = backend.generate([GenerationRequest(messages=messages, max_tokens=6)])
    assert generation.text == greedy_reference(reference, prompt, 6)
    assert backend.identity["template"] == "chatml"
    im_end = backend.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in backend._eos_ids, "ChatML's end-of-turn token must end generation"


def test_zero_max_tokens_and_empty_prompts(tiny_model, reference) -> None:
    from lemur.eval.models.hf import HFBackend

    backend = HFBackend(str(tiny_model), add_bos="false", device="cpu", dtype="float32")
    empty, nothing = backend.generate(
        [GenerationRequest(prompt="", max_tokens=4), GenerationRequest(prompt="SELECT", max_tokens=0)]
    )
    assert nothing == Generation("", "length")
    # With no BOS prefix an empty prompt starts from the tokenizer's BOS all the same.
    assert empty.text == greedy_reference(reference, "", 4)
    assert backend.identity["add_bos"] is False


def test_sampling_requests_keep_their_order_among_greedy_ones(hf_backend, reference) -> None:
    requests = [
        GenerationRequest(prompt=PROMPTS[0], max_tokens=5),
        GenerationRequest(prompt=PROMPTS[1], max_tokens=5, temperature=0.8),
        GenerationRequest(prompt=PROMPTS[2], max_tokens=5),
    ]
    generations = hf_backend.generate(requests)
    assert len(generations) == 3
    assert generations[0].text == greedy_reference(reference, PROMPTS[0], 5)
    assert generations[2].text == greedy_reference(reference, PROMPTS[2], 5)


CASES = [
    ("2 + 2 =", " 4"),
    ("The capital of France is", " Paris."),
    ("def add(a, b):\n    return", " a + b"),
    ("", "The quick brown fox"),
    ("SELECT name FROM users WHERE", " age > 30;"),
]


def test_batched_loglikelihood_matches_unpadded_reference(hf_backend, reference) -> None:
    requests = [LoglikelihoodRequest(c, x) for c, x in CASES]
    scores = hf_backend.loglikelihood(requests)
    expected = [loglikelihood_reference(reference, c, x) for c, x in CASES]
    assert scores == pytest.approx(expected, abs=1e-4)
    assert all(score < 0 for score in scores)


def test_trailing_space_of_the_context_is_scored_with_the_continuation(hf_backend, reference) -> None:
    [moved] = hf_backend.loglikelihood([LoglikelihoodRequest("The capital of France is ", "Paris.")])
    assert moved == pytest.approx(loglikelihood_reference(reference, "The capital of France is", " Paris."), abs=1e-4)


def test_empty_continuation_scores_zero(hf_backend) -> None:
    assert hf_backend.loglikelihood([LoglikelihoodRequest("2 + 2 =", "")]) == [0.0]


def test_long_inputs_keep_their_last_tokens(tiny_model, reference) -> None:
    import torch

    from lemur.eval.models.hf import HFBackend

    backend = HFBackend(str(tiny_model), max_length="16", device="cpu", dtype="float32")
    context = " ".join(["The quick brown fox jumps over the lazy dog."] * 4)
    [score] = backend.loglikelihood([LoglikelihoodRequest(context, " Lemur")])
    model, tokenizer = reference
    full = [tokenizer.bos_token_id, *tokenizer(context + " Lemur", add_special_tokens=False).input_ids]
    n = len(full) - 1 - len(tokenizer(context, add_special_tokens=False).input_ids)
    whole = full[-17:]
    assert len(full) > 17 and n >= 1
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([whole[:-1]])).logits[0], dim=-1)
    expected = sum(float(logprobs[i - 1, whole[i]]) for i in range(len(whole) - n, len(whole)))
    assert score == pytest.approx(expected, abs=1e-4)
    [generation] = backend.generate([GenerationRequest(prompt=context, max_tokens=4)])
    assert generation.finish_reason == "length"


def test_score_prompts_gives_offsets_that_tile_the_prompt(hf_backend) -> None:
    prompt = "2 + 2 = 4"
    [tokens] = hf_backend.score_prompts([prompt])
    assert "".join(t.text for t in tokens) == prompt
    assert [t.offset for t in tokens] == [sum(len(u.text) for u in tokens[:i]) for i in range(len(tokens))]
    whole = hf_backend.loglikelihood([LoglikelihoodRequest("", prompt)])[0]
    assert sum(t.logprob for t in tokens) == pytest.approx(whole, abs=1e-4)


def test_missing_model_path_is_one_clear_error(tmp_path) -> None:
    from lemur.eval.models.hf import HFBackend

    with pytest.raises(ModelLoadError) as caught:
        HFBackend(str(tmp_path / "nope"))
    assert str(caught.value) == f"hf backend: model path {tmp_path / 'nope'} does not exist"
    assert caught.value.exit_code == 2
    with pytest.raises(ModelLoadError, match="has no config.json"):
        HFBackend(str(tmp_path))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": "eight"}, "hf backend: option batch_size='eight' must be an integer"),
        ({"batch_size": "0"}, "hf backend: option batch_size=0 must be at least 1"),
        ({"dtype": "fp8"}, "hf backend: option dtype='fp8' is not allowed; allowed: auto, bfloat16, float16, float32"),
    ],
)
def test_bad_options_are_one_clear_error(tiny_model, options, message) -> None:
    from lemur.eval.models.hf import HFBackend

    with pytest.raises(BackendOptionError) as caught:
        HFBackend(str(tiny_model), **options)
    assert str(caught.value) == message


def test_identity_changes_when_the_checkpoint_is_rewritten(hf_backend, tiny_model, tmp_path) -> None:
    import os
    import shutil

    from lemur.eval.models.hf_loading import fingerprint

    assert hf_backend.identity["revision"] == fingerprint(str(tiny_model))
    copy = shutil.copytree(tiny_model, tmp_path / "copy")
    before = fingerprint(str(copy))
    weights = next(copy.glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert fingerprint(str(copy)) != before
    assert fingerprint("org/name") is None
