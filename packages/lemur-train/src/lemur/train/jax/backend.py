"""The ``jax`` model backend for ``lemur-eval``: a Llama checkpoint run with the Flax model.

Loads a Hugging Face Llama directory (``config.json`` + safetensors, e.g. ``<run_dir>/hf``
written by ``lemur train pretrain``, or a run directory holding one) and its tokenizer
(from the same directory, or ``tokenizer=``). Semantics follow the ``hf`` backend so scores
are comparable:

- ``loglikelihood``: trailing whitespace of the context moves into the continuation; the
  context and the whole text are tokenized separately and the continuation is
  ``whole[len(context):]``; an empty context is scored after BOS (EOS when there is none);
  an empty continuation scores 0.0; sequences longer than ``max_length`` keep their last tokens.
- ``generate``: greedy by default (``temperature`` > 0 samples with a fixed seed); each row
  stops at EOS, at ``max_tokens``, or before its first stop string (cut from the text). Every
  new token re-runs the whole prefix (no KV cache yet), so this backend suits scoring and
  short generations; use ``hf`` or a server for long ones.

lemur-eval is imported here only, so lemur-train installs without it (extra ``eval``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lemur.core.errors import MissingDependencyError

try:
    from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend
    from lemur.eval.models.errors import ModelLoadError
    from lemur.eval.models.options import as_choice, as_int
    from lemur.eval.models.stops import first_stop
    from lemur.eval.models.templates import get_template
except ModuleNotFoundError as error:  # pragma: no cover - depends on the installation
    raise MissingDependencyError("the jax model backend", error.name or "lemur.eval", "lemur-train[jax,eval]") from None

_BUCKET = 64  # pad lengths to multiples of this, so few shapes are compiled


class JaxModelBackend(ModelBackend):
    """A Llama checkpoint evaluated with :class:`lemur.train.jax.model.LlamaForCausalLM`.

    Args:
        model: A Hugging Face Llama directory, or a pre-training run directory with ``hf/``.
        tokenizer: Directory of the tokenizer (default: ``model``'s directory).
        template: Chat template for ``messages`` requests: ``model`` or ``chatml``.
        batch_size: Sequences per forward pass.
        dtype: Compute dtype: ``float32`` or ``bfloat16``.
        max_length: Longest sequence the model sees, in tokens (default: ``max_position_embeddings``).

    Raises:
        ModelLoadError: The directory is not a Llama checkpoint or has no tokenizer.
        BackendOptionError: An option has a bad value.
    """

    name = "jax"

    def __init__(
        self,
        model: str,
        *,
        tokenizer: str | None = None,
        template: str = "model",
        batch_size: int | str = 8,
        dtype: str = "float32",
        max_length: int | str | None = None,
    ) -> None:
        import jax

        from lemur.core.errors import ConfigError
        from lemur.train.jax.convert import load_hf_checkpoint
        from lemur.train.jax.model import LlamaForCausalLM

        path = Path(model).expanduser()
        if (path / "hf" / "config.json").is_file():
            path = path / "hf"
        self.model_path = path
        self.template_name = template
        self._render = get_template(template)
        self.batch_size = as_int("jax", "batch_size", batch_size, minimum=1)
        self.dtype = as_choice("jax", "dtype", dtype, ("float32", "bfloat16"))
        try:
            self.config, params = load_hf_checkpoint(path, dtype=self.dtype, remat_policy="none")
        except ConfigError as error:
            raise ModelLoadError(f"jax backend: {error}") from None
        self.tokenizer = _load_tokenizer(Path(tokenizer).expanduser() if tokenizer else path)
        self.max_length = (
            as_int("jax", "max_length", max_length, minimum=2)
            if max_length is not None
            else self.config.max_position_embeddings
        )
        self.params = jax.device_put(jax.tree.map(lambda p: np.asarray(p, np.float32), params))
        module = LlamaForCausalLM(self.config)
        self._forward = jax.jit(lambda p, t, pos, seg: module.apply({"params": p}, t, pos, seg))
        tok = self.tokenizer
        self._bos = tok.bos_token_id
        self._eos = tok.eos_token_id
        self._pad = tok.pad_token_id if tok.pad_token_id is not None else (self._eos or 0)
        probe = tok("a").input_ids
        self.add_bos = self._bos is not None and bool(probe) and probe[0] == self._bos

    @property
    def identity(self) -> dict[str, Any]:
        """Checkpoint path, dtype, template and BOS handling (batch size excluded)."""
        return {
            "backend": self.name,
            "model": str(self.model_path),
            "dtype": self.dtype,
            "template": self.template_name,
            "add_bos": self.add_bos,
            "max_length": self.max_length,
        }

    # ------------------------------------------------------------------ forward passes

    def _logprobs(self, rows: list[list[int]]) -> np.ndarray:
        """Log-softmax over the vocabulary at every position of right-padded ``rows``: ``[n, width, vocab]``."""
        width = -(-max(len(r) for r in rows) // _BUCKET) * _BUCKET
        tokens = np.full((len(rows), width), self._pad, np.int32)
        segments = np.zeros((len(rows), width), np.int32)
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = row
            segments[i, : len(row)] = 1
        positions = np.tile(np.arange(width, dtype=np.int32), (len(rows), 1))
        logits = np.asarray(self._forward(self.params, tokens, positions, segments), dtype=np.float64)
        logits -= logits.max(-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(-1, keepdims=True))

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _prefix(self, text: str) -> list[int]:
        bos = self.tokenizer.bos_token
        return [self._bos] if self.add_bos and not (bos and text.startswith(bos)) else []

    def _start_id(self) -> int:
        return self._bos if self._bos is not None else self._eos

    # ------------------------------------------------------------------- loglikelihood

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """Return ``log P(continuation | context)`` (natural log) per request, in order (see the module docstring)."""
        jobs = []
        for request in requests:
            context, continuation = _move_trailing_space(request.context, request.continuation)
            prefix = self._prefix(context + continuation)
            context_ids = prefix + self._encode(context)
            whole = prefix + self._encode(context + continuation)
            if not context_ids:
                context_ids, whole = [self._start_id()], [self._start_id(), *whole]
            n = len(whole) - len(context_ids)
            jobs.append((whole[-(self.max_length + 1) :], n))
        results = [0.0] * len(jobs)
        order = [i for i in sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0])) if jobs[i][1] > 0]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            logprobs = self._logprobs([jobs[i][0][:-1] for i in batch])
            for row, index in enumerate(batch):
                sequence, n = jobs[index]
                targets = np.asarray(sequence[1:])
                picked = logprobs[row, np.arange(len(targets)), targets]
                results[index] = float(picked[len(targets) - n :].sum())
        return results

    # ------------------------------------------------------------------------ generate

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one completion per request, in order (greedy when ``temperature`` is 0)."""
        rng = np.random.default_rng(0)
        results = []
        for request in requests:
            text = (
                request.prompt if request.prompt is not None else self._render(request.messages or (), self.tokenizer)
            )
            ids = (self._prefix(text) + self._encode(text)) or [self._start_id()]
            results.append(self._generate_one(ids, request, rng))
        return results

    def _generate_one(self, ids: list[int], request: GenerationRequest, rng: np.random.Generator) -> Generation:
        if request.max_tokens == 0:
            return Generation("", "length")
        ids = ids[-max(1, self.max_length - request.max_tokens) :]
        new: list[int] = []
        while len(new) < request.max_tokens:
            logprobs = self._logprobs([ids + new])[0, len(ids) + len(new) - 1]
            if request.temperature > 0:
                probs = np.exp(logprobs / request.temperature)
                token = int(rng.choice(len(probs), p=probs / probs.sum()))
            else:
                token = int(np.argmax(logprobs))
            if token == self._eos:
                return self._finish(new, request, ended=True)
            new.append(token)
            if request.stop and first_stop(self._decode(new), request.stop) is not None:
                break
        return self._finish(new, request, ended=False)

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _finish(self, tokens: list[int], request: GenerationRequest, ended: bool) -> Generation:
        text = self._decode(tokens)
        cut = first_stop(text, request.stop)
        if cut is not None:
            return Generation(text[:cut], "stop")
        return Generation(text, "length" if not ended and len(tokens) >= request.max_tokens else "stop")


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    spaces = len(context) - len(context.rstrip())
    if spaces:
        return context[:-spaces], context[-spaces:] + continuation
    return context, continuation


def _load_tokenizer(path: Path) -> Any:
    try:
        import transformers
    except ModuleNotFoundError:
        raise MissingDependencyError("the jax model backend", "transformers", "lemur-eval[hf]") from None
    try:
        return transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"jax backend: no tokenizer in {path} ({type(error).__name__}); pass tokenizer=DIR with tokenizer files"
        ) from None
