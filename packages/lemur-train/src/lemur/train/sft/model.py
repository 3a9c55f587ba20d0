"""Loading the starting model and tokenizer, with the chat template's special tokens in the vocabulary."""

from __future__ import annotations

from typing import Any

from lemur.core.errors import LemurError
from lemur.train.sft.templates import ChatTemplate


def load_tokenizer(path: str, template: ChatTemplate) -> Any:
    """A fast Transformers tokenizer from ``path`` with ``template``'s markers added as special tokens.

    Raises:
        LemurError: Nothing loadable at ``path`` (offline), or the tokenizer is not a fast one.
    """
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise LemurError(f"tokenizer {path!r}: cannot load it offline ({str(error).splitlines()[0]})") from None
    if not getattr(tokenizer, "is_fast", False):
        raise LemurError(f"tokenizer {path!r}: only fast (Rust) tokenizers give the offsets SFT masking needs")
    vocabulary = tokenizer.get_vocab()
    missing = [token for token in template.special_tokens if token not in vocabulary]
    if missing:
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in missing], special_tokens=True)
    tokenizer.chat_template = template.jinja
    return tokenizer


def pad_id(tokenizer: Any) -> int:
    """The padding id: the pad token, else EOS, else 0 (padding is never attended to or trained on)."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def load_model(path: str, tokenizer: Any, attention: str, gradient_checkpointing: bool) -> Any:
    """A Transformers causal LM from ``path`` in float32 (master weights), embeddings grown to the tokenizer.

    Raises:
        LemurError: ``path`` holds no loadable causal LM.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from lemur.train.sft.attention import register

    register()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float32, attn_implementation=attention, local_files_only=True
        )
    except (OSError, ValueError, ImportError) as error:
        raise LemurError(f"model {path!r}: cannot load it as a causal LM ({str(error).splitlines()[0]})") from None
    # num_embeddings, not weight.shape: under DeepSpeed ZeRO-3 the weight is an empty partition.
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.config.use_cache = False
    if gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 renamed it
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model
