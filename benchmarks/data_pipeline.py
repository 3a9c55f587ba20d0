"""Measure the data pipeline against plain baselines in the same process.

Usage: .venv/bin/python benchmarks/data_pipeline.py [--runs N] [--threads N]

1. Tokenize + pack throughput (MB of UTF-8 text per second, and per core) of Lemur's
   ``TokenizeStep`` + ``PackStep`` at ``seq_len`` 4096 against plain ``tokenizers``
   ``encode_batch`` on the same text, the Python standard library's own top-level modules.
   Goal (issue 7): packing adds under 20 %.
2. Packing fill rate at 4096 (real tokens / row slots). Goal: at least 99 %.
3. MinHash documents/s against ``datasketch``, from ``benchmarks/minhash_dedup.py``'s ``run()``.
   Goal: at least 2x.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sysconfig
import time
from pathlib import Path


def best_of(runs: int, work) -> float:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Repetitions; the best time counts.")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="Tokenizer threads (cores).")
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when tokenizers starts its pool

    from lemur.data.llama_tokenizer import build_llama2_tokenizer
    from lemur.data.packing import PackStep
    from lemur.data.records import Document
    from lemur.data.tokenize import TokenizeStep, load_tokenizer

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    path = build_llama2_tokenizer()
    tokenizer = load_tokenizer(path)
    documents = [Document(p.name, t) for p, t in zip(files, texts, strict=True)]
    print(f"input: {len(texts)} stdlib modules, {megabytes:.2f} MB; Llama-2 tokenizer; {args.threads} thread(s)")

    def plain() -> None:
        for start in range(0, len(texts), 256):
            _ = [e.ids for e in tokenizer.encode_batch(texts[start : start + 256], add_special_tokens=False)]

    pack_stats = {}

    def lemur() -> None:
        step = PackStep(seq_len=4096, window=10_000)
        for _ in step.run(TokenizeStep(path, batch_size=256).run(documents)):
            pass
        pack_stats.update(step.stats)

    plain()  # warm up the thread pool
    baseline = best_of(args.runs, plain)
    ours = best_of(args.runs, lemur)
    overhead = ours / baseline - 1
    per_core = megabytes / baseline / args.threads
    print(f"tokenizers.encode_batch : {megabytes / baseline:6.2f} MB/s  {per_core:6.2f} MB/s/core")
    print(
        f"tokenize+pack (Lemur)   : {megabytes / ours:6.2f} MB/s  {megabytes / ours / args.threads:6.2f} MB/s/core  "
        f"overhead {overhead * 100:+.1f} %  goal <20 %: {'met' if overhead < 0.20 else 'MISSED'}"
    )
    fill = pack_stats["tokens"] / pack_stats["slots"]
    print(
        f"packing fill at 4096    : {fill * 100:.2f} % ({pack_stats['rows']} rows, {pack_stats['tokens']:,} tokens)  "
        f"goal >=99 %: {'met' if fill >= 0.99 else 'MISSED'}"
    )

    minhash = Path(__file__).with_name("minhash_dedup.py")
    if not minhash.is_file():
        print("minhash: not available yet (benchmarks/minhash_dedup.py is missing)")
        return
    spec = importlib.util.spec_from_file_location("minhash_dedup", minhash)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run()
    if result is not None:
        print(f"minhash: {result}")


if __name__ == "__main__":
    main()
