"""The ``hf`` model backend: a local Hugging Face Transformers causal LM.

- Generation is batched with left padding; greedy unless a request sets ``temperature``.
  Each row stops at EOS, at its own ``max_tokens``, or at the first of its stop strings
  (the stop string is cut from the returned text).
- Chat requests are rendered by a named template (:mod:`lemur.eval.models.templates`):
  ``model`` (the tokenizer's own, the default) or ``chatml`` (Lemur-Chat's format, whose
  ``<|im_end|>`` then also ends generation).
- ``loglikelihood`` follows lm-evaluation-harness: trailing spaces of the context move into
  the continuation, the context and the whole text are tokenized separately and the
  continuation is ``whole[len(context):]``, so the split is exact; sequences longer than
  ``max_length`` keep their last tokens.
- Prompts longer than the context (``max_length``, less ``max_tokens`` when generating) keep
  their last tokens, as lm-evaluation-harness does; :meth:`HFBackend.truncated_tokens` says
  how many were cut, and the runner records and warns about it.
- :meth:`HFBackend.score_prompts` gives per-token log-probabilities with character offsets,
  which ``lemur serve`` returns for OpenAI ``echo`` + ``logprobs`` requests.

torch and transformers are imported when a backend is built, never at module import.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend
from lemur.eval.models.hf_loading import (
    eos_ids,
    fingerprint,
    import_frameworks,
    load,
    resolve_device,
    resolve_model_path,
)
from lemur.eval.models.options import as_bool, as_choice, as_int
from lemur.eval.models.stops import first_stop
from lemur.eval.models.templates import get_template

DTYPES = ("auto", "float32", "bfloat16", "float16")
#: Neutral decoding settings. transformers fills every unset (None) field from the checkpoint's
#: generation_config.json (repetition penalties, top-p, ...); greedy must mean plain argmax and
#: sampling plain temperature sampling, whatever the checkpoint suggests.
_PLAIN_DECODING: dict[str, Any] = {
    "num_beams": 1,
    "num_return_sequences": 1,
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "min_new_tokens": 0,
    "renormalize_logits": False,
}
_DEFAULT_MAX_LENGTH = 2048


@dataclasses.dataclass(frozen=True)
class ScoredToken:
    """One prompt token with its log-probability given the tokens before it."""

    text: str  #: the token's text as the tokenizer decodes it alone
    offset: int  #: character offset of the token's start in the prompt
    logprob: float | None  #: natural log; None when nothing precedes it (no BOS) or it was truncated away


class HFBackend(ModelBackend):
    """A Transformers causal LM loaded from a local directory (or the Hugging Face cache).

    Args:
        model: Path of a model directory saved with ``save_pretrained`` (or a hub id already
            in the local cache).
        template: Chat template for ``messages`` requests: ``model`` or ``chatml``.
        batch_size: Sequences per forward pass / ``generate`` call.
        dtype: ``auto`` (the checkpoint's), ``float32``, ``bfloat16`` or ``float16``.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
        max_length: Longest sequence the model sees, in tokens; default: the model's
            ``max_position_embeddings``.
        add_bos: Prefix prompts with the BOS token; ``auto`` does what the tokenizer does.
        trust_remote_code: Allow model code shipped with the checkpoint.

    Every option also accepts its string form (``batch_size="8"``), as model specs pass them.

    Raises:
        BackendOptionError: An option has a bad value.
        ModelLoadError: The path does not exist or the model/tokenizer cannot be loaded.
        UnknownTemplateError: ``template`` is not a known template name.
        MissingDependencyError: torch or transformers is not installed.
    """

    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        template: str = "model",
        batch_size: int | str = 8,
        dtype: str = "auto",
        device: str = "auto",
        max_length: int | str | None = None,
        add_bos: bool | str = "auto",
        trust_remote_code: bool | str = False,
    ) -> None:
        self.template_name = template
        self._render = get_template(template)
        self.batch_size = as_int("hf", "batch_size", batch_size, minimum=1)
        self.dtype = as_choice("hf", "dtype", dtype, DTYPES)
        trust = as_bool("hf", "trust_remote_code", trust_remote_code)
        self.model_path = resolve_model_path(model)
        torch, transformers = import_frameworks()
        self._torch = torch
        self.device = resolve_device(torch, device)
        self.tokenizer, self.model = load(transformers, torch, self.model_path, self.dtype, self.device, trust)
        self.max_length = (
            as_int("hf", "max_length", max_length, minimum=2)
            if max_length is not None
            else int(getattr(self.model.config, "max_position_embeddings", 0) or _DEFAULT_MAX_LENGTH)
        )
        tokenizer = self.tokenizer
        bos = tokenizer.bos_token_id
        if add_bos == "auto":
            probe = tokenizer("a").input_ids
            self.add_bos = bos is not None and bool(probe) and probe[0] == bos
        else:
            self.add_bos = as_bool("hf", "add_bos", add_bos) and bos is not None
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._pad_id = pad if pad is not None else 0  # padded positions are masked out anyway
        self._eos_ids = eos_ids(tokenizer, self.model, chatml=template == "chatml")
        self._revision = getattr(self.model.config, "_commit_hash", None) or fingerprint(self.model_path)

    @property
    def identity(self) -> dict[str, Any]:
        """Model path and revision (hub commit, or a fingerprint of the local files), dtype, template, BOS
        handling and max length; batch size and device are left out, as they do not change answers."""
        return {
            "backend": self.name,
            "model": str(self.model_path),
            "revision": self._revision,
            "dtype": self.dtype,
            "template": self.template_name,
            "add_bos": self.add_bos,
            "max_length": self.max_length,
        }

    # ----------------------------------------------------------------- prompts and tokens

    def prompt_text(self, request: GenerationRequest) -> str:
        """The exact text the model continues for ``request`` (the template applied to chat messages).

        Raises:
            TemplateError: The ``model`` template was asked for but the tokenizer has none.
        """
        if request.prompt is not None:
            return request.prompt
        return self._render(request.messages or (), self.tokenizer)

    def _prefix(self, text: str) -> list[int]:
        bos = self.tokenizer.bos_token
        if self.add_bos and not (bos and text.startswith(bos)):
            return [self.tokenizer.bos_token_id]
        return []

    def _start_id(self) -> int:
        """The token an empty input starts from: BOS, else EOS (as lm-evaluation-harness does)."""
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _generation_ids(self, request: GenerationRequest) -> list[int]:
        """The whole prompt of ``request`` as tokens (template and BOS applied), before any cut."""
        text = self.prompt_text(request)
        return (self._prefix(text) + self._encode(text)) or [self._start_id()]

    def _prompt_room(self, max_tokens: int) -> int:
        """How many prompt tokens fit beside ``max_tokens`` new ones in ``max_length`` (at least 1)."""
        return max(1, self.max_length - max_tokens)

    def truncated_tokens(self, requests: Sequence[GenerationRequest | LoglikelihoodRequest]) -> list[int]:
        """How many tokens :meth:`generate` / :meth:`loglikelihood` cut from the front of each request.

        A generation keeps the last ``max_length - max_tokens`` prompt tokens (at least one); a
        log-likelihood keeps the last ``max_length + 1`` tokens of context + continuation (the
        first only conditions the rest). Counts are in tokens; 0 means nothing is cut.
        """
        counts = []
        for request in requests:
            if isinstance(request, GenerationRequest):
                if request.max_tokens == 0:
                    counts.append(0)
                    continue
                length, room = len(self._generation_ids(request)), self._prompt_room(request.max_tokens)
            else:
                length, room = len(self._scored_sequence(request)[0]), self.max_length + 1
            counts.append(max(0, length - room))
        return counts

    def prompt_tokens(self, requests: Sequence[GenerationRequest]) -> list[int]:
        """How many prompt tokens the model reads for each generation request (after any cut)."""
        return [min(len(self._generation_ids(request)), self._prompt_room(request.max_tokens)) for request in requests]

    # ------------------------------------------------------------------------ generate

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one completion per request, in order (greedy when ``temperature`` is 0).

        Requests are sorted by length and batched ``batch_size`` at a time (one temperature
        and ``max_tokens`` per batch), left-padded; prompts longer than ``max_length -
        max_tokens`` keep their last tokens (:meth:`truncated_tokens` counts the cut). The
        returned text excludes the stop string, EOS and padding; ``finish_reason`` is
        ``length`` only when ``max_tokens`` tokens were generated with no stop.
        ``max_tokens=0`` gives empty text without running the model; an empty prompt starts
        from BOS (EOS when there is none).
        """
        encoded = [self._generation_ids(request) for request in requests]
        results: list[Generation | None] = [
            Generation("", "length", 0) if request.max_tokens == 0 else None for request in requests
        ]
        # A batch shares temperature and max_tokens, so each prompt's cut depends on itself only.
        order = sorted(
            (i for i, r in enumerate(requests) if r.max_tokens > 0),
            key=lambda i: (requests[i].temperature, requests[i].max_tokens, -len(encoded[i])),
        )
        for batch in _batches(order, self.batch_size, key=lambda i: (requests[i].temperature, requests[i].max_tokens)):
            outputs = self._generate_batch([encoded[i] for i in batch], [requests[i] for i in batch])
            for index, output in zip(batch, outputs, strict=True):
                results[index] = output
        return [r for r in results if r is not None]

    def _generate_batch(self, prompts: list[list[int]], requests: list[GenerationRequest]) -> list[Generation]:
        torch = self._torch
        from transformers import GenerationConfig, StoppingCriteriaList

        max_new = requests[0].max_tokens
        keep = self._prompt_room(max_new)
        prompts = [p[-keep:] for p in prompts]
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
        temperature = requests[0].temperature
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else 1.0,
            pad_token_id=self._pad_id,
            eos_token_id=self._eos_ids,
            **_PLAIN_DECODING,
        )
        criteria = _RowStop(self.tokenizer, width, [r.stop for r in requests], [r.max_tokens for r in requests])
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([criteria]),
            )
        return [
            self._finish(row[width:].tolist(), request) for row, request in zip(output.cpu(), requests, strict=True)
        ]

    def _finish(self, tokens: list[int], request: GenerationRequest) -> Generation:
        ended = False
        for position, token in enumerate(tokens):
            if token in self._eos_ids:
                tokens, ended = tokens[:position], True
                break
        tokens = tokens[: request.max_tokens]
        text = self._decode(tokens)
        cut = first_stop(text, request.stop)
        if cut is not None:
            return Generation(text[:cut], "stop", self._tokens_through_stop(tokens, request.stop))
        reason = "length" if not ended and len(tokens) >= request.max_tokens else "stop"
        return Generation(text, reason, len(tokens) + (1 if ended else 0))

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _tokens_through_stop(self, tokens: list[int], stops: tuple[str, ...]) -> int:
        """The fewest leading ``tokens`` whose text holds a stop string: what the model generated before it stopped.

        Tokens after that are other rows' work (padding) and are not counted.
        """
        low, high = 1, len(tokens)
        while low < high:
            middle = (low + high) // 2
            if first_stop(self._decode(tokens[:middle]), stops) is None:
                low = middle + 1
            else:
                high = middle
        return low

    # ------------------------------------------------------------------- loglikelihood

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """Return ``log P(continuation | context)`` (natural log) per request, in order.

        Trailing whitespace of the context is scored as part of the continuation. An empty
        context is scored after BOS (or EOS when the tokenizer has no BOS). An empty
        continuation scores 0.0.
        """
        sequences, lengths = [], []
        for request in requests:
            whole, length = self._scored_sequence(request)
            sequences.append(whole)
            lengths.append(length)
        scores = self._token_logprobs(sequences)
        return [float(sum(row[len(row) - n :])) if n else 0.0 for row, n in zip(scores, lengths, strict=True)]

    def _scored_sequence(self, request: LoglikelihoodRequest) -> tuple[list[int], int]:
        """Context + continuation as tokens, and how many of the last ones are the continuation."""
        context, continuation = _move_trailing_space(request.context, request.continuation)
        prefix = self._prefix(context + continuation)
        context_ids = prefix + self._encode(context)
        whole = prefix + self._encode(context + continuation)
        if not context_ids:
            start = self._start_id()
            context_ids, whole = [start], [start, *whole]
        return whole, len(whole) - len(context_ids)

    def score_prompts(self, prompts: Sequence[str]) -> list[list[ScoredToken]]:
        """Per-token log-probabilities of each prompt, as OpenAI ``echo`` + ``logprobs`` returns them.

        The BOS prefix (when used) is not listed; it only conditions the first token. Without
        BOS the first token's ``logprob`` is None.
        """
        tokenized = []
        for prompt in prompts:
            encoding = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
            tokenized.append((self._prefix(prompt), list(encoding.input_ids), [s for s, _ in encoding.offset_mapping]))
        scores = self._token_logprobs([prefix + ids for prefix, ids, _ in tokenized])
        results = []
        for (prefix, ids, offsets), row in zip(tokenized, scores, strict=True):
            # row[k] scores token k + 1 of prefix + ids; pad the front for tokens nothing precedes.
            full = [None] * (len(prefix) + len(ids) - len(row)) + list(row)
            logprobs = full[len(prefix) :]
            results.append(
                [
                    ScoredToken(self.tokenizer.decode([token], clean_up_tokenization_spaces=False), offset, logprob)
                    for token, offset, logprob in zip(ids, offsets, logprobs, strict=True)
                ]
            )
        return results

    def _token_logprobs(self, sequences: list[list[int]]) -> list[list[float]]:
        """Per sequence, the log-probability of each token after the first (of the last ``max_length + 1``)."""
        torch = self._torch
        sequences = [s[-(self.max_length + 1) :] for s in sequences]
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        results: list[list[float]] = [[] for _ in sequences]
        for batch in _batches(order, self.batch_size):
            rows = [sequences[i] for i in batch]
            width = max(len(r) for r in rows) - 1
            if width <= 0:
                continue
            input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
            attention = torch.zeros((len(rows), width), dtype=torch.long)
            for row, tokens in enumerate(rows):
                if len(tokens) > 1:
                    input_ids[row, : len(tokens) - 1] = torch.tensor(tokens[:-1], dtype=torch.long)
                    attention[row, : len(tokens) - 1] = 1
            with torch.inference_mode():
                logits = self.model(
                    input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)
                ).logits
                logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, (index, tokens) in enumerate(zip(batch, rows, strict=True)):
                targets = torch.tensor(tokens[1:], dtype=torch.long)
                picked = logprobs[row, : len(targets)].gather(-1, targets[:, None])[:, 0]
                results[index] = picked.tolist()
        return results

    def close(self) -> None:
        """Drop the model so its (GPU) memory can be freed."""
        self.model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()


class _RowStop:
    """A stopping criterion that ends each row at its own stop strings or ``max_tokens``."""

    def __init__(self, tokenizer: Any, prompt_width: int, stops: list[tuple[str, ...]], max_tokens: list[int]) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stops = stops
        self.max_tokens = max_tokens
        # A stop of n characters spans at most n tokens (+1 for a token that straddles its start).
        self.window = [max((len(s) for s in row), default=0) + 1 for row in stops]

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = []
        generated = input_ids[:, self.prompt_width :]
        for row in range(generated.shape[0]):
            if generated.shape[1] >= self.max_tokens[row]:
                done.append(True)
                continue
            if not self.stops[row]:
                done.append(False)
                continue
            tail = generated[row, -self.window[row] :].tolist()
            text = self.tokenizer.decode(tail, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            done.append(any(stop in text for stop in self.stops[row]))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _batches(order: list[int], size: int, key: Any = None) -> Iterator[list[int]]:
    """Split ``order`` into runs of at most ``size`` that share ``key(i)``."""
    for _, group in itertools.groupby(order, key=key or (lambda _: None)):
        items = list(group)
        for start in range(0, len(items), size):
            yield items[start : start + size]


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the continuation, as lm-evaluation-harness does."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        return context[:-spaces], context[-spaces:] + continuation
    return context, continuation
