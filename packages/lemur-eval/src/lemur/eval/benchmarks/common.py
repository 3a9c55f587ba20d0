"""Helpers shared by the built-in benchmarks: pinned data files and answer normalisation."""

from __future__ import annotations

import json
import string
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path

from lemur.core.datafiles import RemoteFile, fetch

_PUNCTUATION = str.maketrans("", "", string.punctuation)


@cache
def manifest(name: str) -> tuple[RemoteFile, ...]:
    """The pinned files of data set ``name`` (``manifests/<name>.json``, from ``tools/build_manifest.py``)."""
    text = resources.files("lemur.eval.benchmarks").joinpath("manifests", f"{name}.json").read_text("utf-8")
    return tuple(RemoteFile(**entry) for entry in json.loads(text)["files"])


def fetch_files(name: str, data_dir: Path | None) -> dict[str, Path]:
    """Verified local copies of every file of data set ``name``, keyed by relative path.

    ``data_dir`` is a local mirror (``--data-dir``); ``None`` downloads into the Lemur data cache.
    """
    return {file.path: fetch(file, mirror=data_dir) for file in manifest(name)}


def hf_exact_match(prediction: str, reference: str) -> bool:
    """Equality as HF ``evaluate``'s ``exact_match(ignore_case=True, ignore_punctuation=True)`` computes it.

    Both strings are lower-cased and stripped of ASCII punctuation; whitespace is kept. The
    Lemur evaluation scripts score GSM8K and BBH with this rule.
    """
    return prediction.lower().translate(_PUNCTUATION) == reference.lower().translate(_PUNCTUATION)


def same_number(prediction: str | None, reference: str) -> bool:
    """Whether two numeric strings denote the same number (``$1,000.00`` equals ``1000``)."""
    if prediction is None:
        return False
    try:
        return _number(prediction) == _number(reference)
    except InvalidOperation:
        return False


def _number(text: str) -> Decimal:
    return Decimal(text.strip().replace(",", "").replace("$", "").rstrip("."))
