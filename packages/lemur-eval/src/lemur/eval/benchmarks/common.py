"""Helpers shared by the built-in benchmarks: pinned data files and answer normalisation."""

from __future__ import annotations

import string
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lemur.core.datafiles import fetch_manifest

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def fetch_files(name: str, data_dir: Path | None) -> dict[str, Path]:
    """Verified local copies of every file of data set ``name`` (``manifests/<name>.json``), by relative path.

    ``data_dir`` is a local mirror (``--data-dir``); ``None`` downloads into the Lemur data cache.
    """
    return fetch_manifest("lemur.eval.benchmarks", name, data_dir)


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
