"""Fixtures for the JAX backend tests: real packed shards built from Python's standard library source."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax", reason="the JAX backend needs: pip install 'lemur-train[jax]'")

BOS, EOS, OFFSET = 1, 2, 3  # byte b -> token b + 3; 0 is padding


def byte_tokens(text: str) -> np.ndarray:
    """A tiny real tokenizer: UTF-8 bytes shifted by 3, with BOS and EOS (fits the debug vocab of 512)."""
    return np.concatenate([[BOS], np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32) + OFFSET, [EOS]])


def stdlib_documents(limit_bytes: int) -> list[str]:
    """Python source files of the standard library's ``json`` and ``email`` packages, up to ``limit_bytes``."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts, total = [], 0
    for path in sorted([*root.glob("json/*.py"), *root.glob("email/*.py")]):
        text = path.read_text(encoding="utf-8")
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return texts


def write_shards(path: Path, seq_len: int, limit_bytes: int) -> Path:
    """Tokenize, pack (best-fit decreasing) and write shards with lemur.data; returns the shard root."""
    from lemur.data.packing import PackStep
    from lemur.data.shards import ShardWriter
    from lemur.data.tokenize import TokenizedDocument

    docs = [
        TokenizedDocument(str(i), byte_tokens(t), source="python") for i, t in enumerate(stdlib_documents(limit_bytes))
    ]
    step = PackStep(seq_len=seq_len, window=4096)
    writer = ShardWriter(path / "shard-00000", seq_len=seq_len, vocab_size=512, sources=["python"])
    for batch in step.run(docs):
        writer.write(batch, list(step.sources))
    writer.close()
    return path


@pytest.fixture(scope="session")
def packed_shards(tmp_path_factory) -> Path:
    """About 200 KB of stdlib Python packed into 128-token rows (``lemur.data.shards`` format)."""
    return write_shards(tmp_path_factory.mktemp("packed"), seq_len=128, limit_bytes=200_000)


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """Share compiled XLA programs between the tests' many short runs (and their subprocesses)."""
    import os

    import jax

    path = str(tmp_path_factory.mktemp("jax-cache"))
    previous = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    yield path
    jax.config.update("jax_compilation_cache_dir", None)
    if previous is None:
        os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    else:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = previous
    os.environ.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", None)


@pytest.fixture(scope="session")
def debug_recipe() -> Path:
    """The tiny CPU pre-training recipe shipped in ``recipes/``."""
    return Path(__file__).resolve().parents[4] / "recipes" / "lemur-debug-pretrain-train.yaml"


@pytest.fixture(scope="session")
def lemur_cli():
    """Run the installed ``lemur`` command: ``lemur_cli("train", "pretrain", ..., timeout=300)``."""
    import os
    import subprocess
    import sys

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        executable = Path(sys.executable).parent / "lemur"
        env = {k: v for k, v in os.environ.items() if k != "LEMUR_CONFIG"}
        return subprocess.run([str(executable), *args], capture_output=True, text=True, timeout=timeout, env=env)

    return run


@pytest.fixture(scope="session")
def trained_run(packed_shards, tmp_path_factory, lemur_cli, debug_recipe):
    """``lemur train pretrain`` with the debug recipe on the stdlib shards: (completed process, run dir)."""
    run_dir = tmp_path_factory.mktemp("cli-run")
    result = lemur_cli(
        "train", "pretrain", "--config", str(debug_recipe), "--data", str(packed_shards), "--run-dir", str(run_dir),
        "--no-progress", timeout=400,
    )  # fmt: skip
    return result, run_dir
