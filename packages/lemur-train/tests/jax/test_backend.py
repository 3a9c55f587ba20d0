"""The ``jax`` model backend against the ``hf`` backend on the same trained checkpoint."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("lemur.eval", reason="the jax model backend needs: pip install 'lemur-train[eval]'")
pytest.importorskip("transformers", reason="the reference backend needs transformers")

from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest


def char_tokenizer():
    """A Hugging Face tokenizer with the training data's ids: ASCII char c -> ord(c) + 3, BOS 1, EOS 2."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{chr(b): b + 3 for b in range(128)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def checkpoint(trained_run, tmp_path_factory):
    result, run_dir = trained_run
    assert result.returncode == 0, result.stderr
    directory = tmp_path_factory.mktemp("ckpt") / "model"
    shutil.copytree(run_dir / "hf", directory)
    tokenizer = char_tokenizer()
    assert tokenizer("def f").input_ids == [1, *(ord(c) + 3 for c in "def f")]
    tokenizer.save_pretrained(directory)
    return directory


def test_registered_and_loads_through_the_plugin(plugin_manager, checkpoint) -> None:
    import lemur.train.plugin
    from lemur.core.components import Kind

    plugin_manager.register_plugin(lemur.train.plugin, "lemur_train")
    backend_class = plugin_manager.components(Kind.MODEL_BACKEND).load("jax")
    backend = backend_class(str(checkpoint))
    assert backend.identity["backend"] == "jax" and backend.add_bos


def test_loglikelihood_and_greedy_generation_match_the_hf_backend(checkpoint) -> None:
    from lemur.eval.models.hf import HFBackend
    from lemur.train.jax.backend import JaxModelBackend

    ours, reference = JaxModelBackend(str(checkpoint), batch_size=2), HFBackend(str(checkpoint), dtype="float32")
    requests = [
        LoglikelihoodRequest("import json\n\ndef ", "dumps(obj):"),
        LoglikelihoodRequest("", "class Encoder:"),
        LoglikelihoodRequest("return ", "self"),
        LoglikelihoodRequest("x = ", ""),  # the trailing space becomes the continuation
        LoglikelihoodRequest("x", ""),
    ]
    expected = reference.loglikelihood(requests)
    got = ours.loglikelihood(requests)
    assert got[4] == expected[4] == 0.0
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-4)
    # Real code is likelier than the same characters shuffled.
    assert (
        ours.loglikelihood([LoglikelihoodRequest("import ", "json")])[0]
        > ours.loglikelihood([LoglikelihoodRequest("import ", "sjno")])[0]
    )
    prompts = [
        GenerationRequest(prompt="def __init__(self", max_tokens=12),
        GenerationRequest(prompt="import", max_tokens=8, stop=("\n",)),
    ]
    assert [g.text for g in ours.generate(prompts)] == [g.text for g in reference.generate(prompts)]
