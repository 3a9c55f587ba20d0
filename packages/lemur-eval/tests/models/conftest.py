"""Fixtures for the model-backend tests: a tiny random Llama with a tokenizer trained here, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Question: what is 2 + 2? Answer: 4",
    "def add(a, b):\n    return a + b\n",
    "Lemur is a language agent that writes code and talks in natural language.",
    "The capital of France is Paris. The capital of Italy is Rome.",
    "SELECT name FROM users WHERE age > 30;",
    "import numpy as np\nprint(np.arange(10))",
]
SPECIAL = ["<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"]
#: A minimal Jinja chat template for the tokenizer, so the `model` template has something to render.
CHAT_TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}]: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant]: {% endif %}"
)


def build_tiny_model(directory: Path, hidden_size: int = 64, layers: int = 2) -> Path:
    """Save a random Llama (2 layers, 64 wide by default) and a byte-level BPE tokenizer (with BOS) to ``directory``.

    ``benchmarks/serve_batching.py`` builds its model with this function too.
    """
    torch = pytest.importorskip("torch", reason="the hf backend tests need torch: pip install 'lemur-eval[hf]'")
    transformers = pytest.importorskip(
        "transformers", reason="the hf backend tests need transformers: pip install 'lemur-eval[hf]'"
    )
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    bos = tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)

    config = transformers.LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():
        # Larger output weights make the random model's next-token distribution peaked, so greedy
        # decoding has clear winners and batched vs unbatched numerics cannot flip an argmax.
        model.lm_head.weight.mul_(8.0)
        # Never emit EOS, so generations run to their stop string or max_tokens.
        model.lm_head.weight[fast.eos_token_id].zero_()
        model.lm_head.bias = None
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of the tiny random Llama, built once per test session."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def hf_backend(tiny_model: Path):
    """An ``hf`` backend over the tiny model (float32, CPU, batch size 4)."""
    from lemur.eval.models.hf import HFBackend

    backend = HFBackend(str(tiny_model), batch_size="4", device="cpu", dtype="float32")
    yield backend
    backend.close()
