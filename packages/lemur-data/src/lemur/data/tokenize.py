"""Tokenization with any Hugging Face tokenizer, batched, with BOS/EOS per document as Llama does.

Literal special-token text inside a document (``<s>`` in a Python string) is encoded as text,
never as a control token (``encode_special_tokens=True``), matching SentencePiece. BOS and EOS
are added here, per document, by id. The exception is a conversation under a vocabulary that has
the ChatML markers as special tokens: it is tokenized exactly as ``apply_chat_template`` does
(see :meth:`TextTokenizer.encode_messages`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import LemurError, MissingDependencyError
from lemur.data.records import Document
from lemur.data.steps.base import PipelineStep

#: ChatML markers (Lemur-Chat's conversation format).
CHATML_START, CHATML_END = "<|im_start|>", "<|im_end|>"
#: Names accepted by :func:`load_tokenizer` besides paths.
BUILTIN_TOKENIZERS = ("llama-2",)


@dataclasses.dataclass(slots=True)
class TokenizedDocument:
    """One document as token ids.

    Attributes:
        id: The document's id.
        tokens: Token ids (int32), BOS and EOS included when the tokenizer adds them.
        loss_mask: 1 where the token is trained on, 0 where not (e.g. SFT prompts); ``None`` means all 1.
        source: Name of the mixture source it came from ("" when none).
    """

    id: str
    tokens: np.ndarray
    loss_mask: np.ndarray | None = None
    source: str = ""


def load_tokenizer(spec: str | Path | Any) -> Any:
    """Return a ``tokenizers.Tokenizer`` for ``spec`` with ``encode_special_tokens`` on.

    Args:
        spec: ``"llama-2"`` (built offline and cached, see :mod:`lemur.data.llama_tokenizer`), a
            ``tokenizer.json`` path, a directory holding one, a local Hugging Face model directory
            or cached hub name (loaded with ``transformers`` offline), or a ``tokenizers.Tokenizer``.

    Raises:
        MissingDependencyError: ``tokenizers`` is not installed.
        LemurError: ``spec`` names nothing loadable.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError("tokenization", "tokenizers", "lemur-data[tokenize]") from None
    if isinstance(spec, Tokenizer):
        tokenizer = spec
    elif str(spec) == "llama-2":
        from lemur.data.llama_tokenizer import build_llama2_tokenizer

        tokenizer = Tokenizer.from_file(str(build_llama2_tokenizer()))
    else:
        path = Path(spec)
        if path.is_dir() and (path / "tokenizer.json").is_file():
            path = path / "tokenizer.json"
        if path.is_file():
            tokenizer = Tokenizer.from_file(str(path))
        else:
            tokenizer = _from_transformers(str(spec))
    tokenizer.encode_special_tokens = True
    return tokenizer


def _from_transformers(name: str) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise LemurError(
            f"tokenizer {name!r}: not a tokenizer.json file or directory, and 'transformers' is not installed "
            f"to look it up as a model name; built-in names: {', '.join(BUILTIN_TOKENIZERS)}"
        ) from None
    try:
        loaded = AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as error:
        raise LemurError(f"tokenizer {name!r}: cannot load it offline ({str(error).splitlines()[0]})") from None
    backend = getattr(loaded, "backend_tokenizer", None)
    if backend is None:
        raise LemurError(f"tokenizer {name!r}: only fast (Rust) tokenizers are supported")
    return backend


class TextTokenizer:
    """Encodes batches of texts into int32 arrays with BOS/EOS per text.

    Args:
        tokenizer: Anything :func:`load_tokenizer` accepts.
        bos_token: Token prepended to every document (``None``: none).
        eos_token: Token appended to every document (``None``: none).

    Raises:
        LemurError: ``bos_token`` or ``eos_token`` is not in the vocabulary.
    """

    def __init__(
        self, tokenizer: str | Path | Any = "llama-2", bos_token: str | None = "<s>", eos_token: str | None = "</s>"
    ):
        self.tokenizer = load_tokenizer(tokenizer)
        self.bos_id = self._token_id(bos_token)
        self.eos_id = self._token_id(eos_token)
        self.vocab_size = self.tokenizer.get_vocab_size(with_added_tokens=True)
        self.chatml_special = _has_special_tokens(self.tokenizer, (CHATML_START, CHATML_END))

    def _token_id(self, token: str | None) -> int | None:
        if token is None:
            return None
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise LemurError(f"tokenizer has no token {token!r}; set bos_token/eos_token to one it has, or null")
        return token_id

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids per text (int32), with BOS and EOS added; ``tokenizers`` uses all cores."""
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        encodings = encode(list(texts), add_special_tokens=False)
        head = [self.bos_id] if self.bos_id is not None else []
        tail = [self.eos_id] if self.eos_id is not None else []
        return [np.array(head + encoding.ids + tail, dtype=np.int32) for encoding in encodings]

    def encode_messages(
        self, messages: Sequence[dict[str, str]], train_on: tuple[str, ...] = ("assistant",)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tokens and loss mask of a conversation in ChatML, with loss only on ``train_on`` roles' replies.

        Each message is ``<|im_start|>{role}\n{content}<|im_end|>\n``, the format Lemur-Chat uses.

        - Vocabulary with ``<|im_start|>`` and ``<|im_end|>`` as special (added) tokens, as
          ``lemur train sft`` makes it: the markers are those tokens and the ids equal
          ``apply_chat_template`` of lemur-train's ``chatml`` template (BOS text, then the
          rendering, tokenized as one string with special tokens parsed, no EOS). Only the
          content of ``train_on`` messages and their ``<|im_end|>`` are trained on, as in
          ``lemur.train.sft.examples``.
        - Vocabulary without them (Llama-2): the markers are plain text; the header
          ``<|im_start|>{role}\n`` is never trained on, ``{content}<|im_end|>\n`` is when the
          role is in ``train_on``; BOS starts and EOS ends the conversation, and EOS is trained
          on when the last message is.
        """
        if self.chatml_special:
            return self._encode_chatml_special(messages, train_on)
        texts = []
        for message in messages:
            texts += [f"{CHATML_START}{message['role']}\n", f"{message['content']}{CHATML_END}\n"]
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        pieces = [np.array(e.ids, dtype=np.int32) for e in encode(texts, add_special_tokens=False)] if texts else []
        masks = [
            np.full(len(piece), index % 2 == 1 and messages[index // 2]["role"] in train_on, dtype=np.uint8)
            for index, piece in enumerate(pieces)
        ]
        if self.bos_id is not None:
            pieces.insert(0, np.array([self.bos_id], dtype=np.int32))
            masks.insert(0, np.zeros(1, dtype=np.uint8))
        if self.eos_id is not None:
            pieces.append(np.array([self.eos_id], dtype=np.int32))
            masks.append(np.array([bool(messages) and messages[-1]["role"] in train_on], dtype=np.uint8))
        if not pieces:
            return np.zeros(0, np.int32), np.zeros(0, np.uint8)
        return np.concatenate(pieces), np.concatenate(masks)

    def _encode_chatml_special(
        self, messages: Sequence[dict[str, str]], train_on: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.tokenizer.id_to_token(self.bos_id) if self.bos_id is not None else ""]
        length = len(parts[0])
        spans = []
        for message in messages:
            header = f"{CHATML_START}{message['role']}\n"
            body = f"{message['content']}{CHATML_END}"
            if message["role"] in train_on:
                spans.append((length + len(header), length + len(header) + len(body)))
            parts += [header, body, "\n"]
            length += len(header) + len(body) + 1
        # One string with special tokens parsed, as apply_chat_template does, so ids match exactly.
        self.tokenizer.encode_special_tokens = False
        try:
            encoding = self.tokenizer.encode("".join(parts), add_special_tokens=False)
        finally:
            self.tokenizer.encode_special_tokens = True
        starts = np.array([start if end > start else -1 for start, end in encoding.offsets], dtype=np.int64)
        mask = np.zeros(len(starts), dtype=bool)
        for start, end in spans:
            mask |= (starts >= start) & (starts < end)
        return np.array(encoding.ids, dtype=np.int32), mask.astype(np.uint8)


def _has_special_tokens(tokenizer: Any, tokens: tuple[str, ...]) -> bool:
    """Whether every one of ``tokens`` is an added special token of ``tokenizer``."""
    added = tokenizer.get_added_tokens_decoder()
    for token in tokens:
        token_id = tokenizer.token_to_id(token)
        if token_id is None or not getattr(added.get(token_id), "special", False):
            return False
    return True


class TokenizeStep(PipelineStep):
    """Pipeline step: :class:`Document` in, :class:`TokenizedDocument` out, in batches.

    Documents whose ``metadata["messages"]`` is a list of ``{"role", "content"}`` are encoded as
    ChatML conversations with loss on assistant replies only (see
    :meth:`TextTokenizer.encode_messages`); others as plain text with loss everywhere.

    Args:
        tokenizer: Anything :func:`load_tokenizer` accepts (default: Llama-2).
        batch_size: Documents per ``encode_batch`` call.
        bos_token / eos_token: See :class:`TextTokenizer`.
    """

    name = "tokenize"
    requires = (("tokenizers", "lemur-data[tokenize]"),)

    def __init__(
        self,
        tokenizer: str | Path | Any = "llama-2",
        batch_size: int = 256,
        bos_token: str | None = "<s>",
        eos_token: str | None = "</s>",
    ):
        super().__init__()
        if batch_size < 1:
            raise LemurError(f"tokenize: batch_size must be at least 1, got {batch_size}")
        self.encoder = TextTokenizer(tokenizer, bos_token, eos_token)
        self.batch_size = batch_size

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[TokenizedDocument]:
        batch: list[Document] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.batch_size:
                yield from self._encode(batch)
                batch = []
        if batch:
            yield from self._encode(batch)

    def _encode(self, batch: list[Document]) -> Iterator[TokenizedDocument]:
        plain = [d for d in batch if not isinstance(d.metadata.get("messages"), list)]
        encoded = iter(self.encoder.encode_batch([d.text for d in plain]))
        for document in batch:
            source = str(document.metadata.get("source", ""))
            messages = document.metadata.get("messages")
            if isinstance(messages, list):
                tokens, mask = self.encoder.encode_messages(messages)
                self.stats["conversations"] += 1
            else:
                tokens, mask = next(encoded), None
            self.stats["documents"] += 1
            self.stats["tokens"] += len(tokens)
            self.stats["bytes"] += len(document.text.encode("utf-8"))
            yield TokenizedDocument(document.id, tokens, mask, source)
