"""Loading a Transformers checkpoint for the ``hf`` backend: path checks, device, dtype, EOS ids.

Only local files are read (``local_files_only``): Lemur never downloads weights at run time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from lemur.core.errors import MissingDependencyError
from lemur.eval.models.errors import ModelLoadError
from lemur.eval.models.templates import CHATML_END

#: Files whose name, size and modification time make up a local checkpoint's fingerprint.
_FINGERPRINTED = ("*.safetensors", "*.bin", "*.json", "*.model", "*.txt")


def import_frameworks() -> tuple[Any, Any]:
    """Import torch and transformers (quieting transformers' warnings).

    Raises:
        MissingDependencyError: Either is not installed; names ``lemur-eval[hf]``.
    """
    try:
        import torch
    except ModuleNotFoundError:
        raise MissingDependencyError("the hf model backend", "torch", "lemur-eval[hf]") from None
    try:
        import transformers
    except ModuleNotFoundError:
        raise MissingDependencyError("the hf model backend", "transformers", "lemur-eval[hf]") from None
    transformers.logging.set_verbosity_error()
    return torch, transformers


def resolve_device(torch: Any, device: str) -> str:
    """``auto`` becomes ``cuda`` when available, else ``cpu``; other values are checked.

    Raises:
        ModelLoadError: CUDA asked for but missing, or an unknown device.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"hf backend: device={device!r} was asked for but CUDA is not available; use device=cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ModelLoadError(f"hf backend: device={device!r} is not allowed; allowed: auto, cpu, cuda, cuda:N")
    return device


def resolve_model_path(model: str) -> str:
    """A local checkpoint directory (checked for ``config.json``), or a hub id of the form ``org/name``.

    Raises:
        ModelLoadError: A path that does not exist, or a directory without ``config.json``.
    """
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"hf backend: {path} has no config.json; give a directory saved with save_pretrained")
        return str(path)
    if model.startswith(("/", ".", "~")) or model.count("/") != 1:
        raise ModelLoadError(f"hf backend: model path {model} does not exist")
    return model  # a hub id, looked up in the local Hugging Face cache only


def load(transformers: Any, torch: Any, path: str, dtype: str, device: str, trust: bool) -> tuple[Any, Any]:
    """Load (tokenizer, model) from local files only, left-padding, on ``device``, in eval mode.

    Raises:
        ModelLoadError: The files cannot be read or are not a causal LM checkpoint.
    """
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    # transformers 4.56 renamed `torch_dtype` to `dtype`.
    version = tuple(int(p) for p in transformers.__version__.split(".")[:2] if p.isdigit())
    dtype_kwarg = "dtype" if version >= (4, 56) else "torch_dtype"
    try:
        # Lemur never downloads at run time: hub ids must already be in the local cache.
        common = {"trust_remote_code": trust, "local_files_only": True}
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, **common)
        model = transformers.AutoModelForCausalLM.from_pretrained(path, **common, **{dtype_kwarg: torch_dtype})
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"hf backend: cannot load model {path!r}: {first}") from error
    if dtype == "auto" and device == "cpu" and model.dtype == torch.float16:
        model = model.float()  # float16 matmuls are slow or missing on CPUs
    tokenizer.padding_side = "left"
    model.to(device)
    model.eval()
    return tokenizer, model


def eos_ids(tokenizer: Any, model: Any, chatml: bool) -> list[int]:
    """Every token id that ends generation: the model's and tokenizer's EOS ids, plus ``<|im_end|>`` for ChatML."""
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    if chatml:
        end = tokenizer.convert_tokens_to_ids(CHATML_END)
        if isinstance(end, int) and end != tokenizer.unk_token_id:
            ids.add(end)
    return sorted(ids)


def fingerprint(path: str) -> str | None:
    """A short hash of a local checkpoint's file names, sizes and modification times (None for hub ids).

    Part of the backend's identity, so a checkpoint rewritten at the same path does not reuse
    cached answers.
    """
    directory = Path(path)
    if not directory.is_dir():
        return None
    digest = hashlib.sha256()
    files = sorted({f for pattern in _FINGERPRINTED for f in directory.glob(pattern) if f.is_file()})
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
