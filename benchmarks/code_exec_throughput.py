"""HumanEval + MBPP gold programs scored per second through the runner (sandboxed) vs plain subprocess.

Usage: .venv/bin/python benchmarks/code_exec_throughput.py [--data-dir ../shared/data] [--workers 1,2]
       [--limit N] [--rounds R]

For each worker count, in the same process and alternating round by round:

- ``plain``: the original harnesses' way: every program fed to ``python3 -I -`` by
  ``subprocess.run`` with a 3 s timeout, ``workers`` at a time, no isolation;
- ``runner``: ``lemur eval run`` (the library call) on ``humaneval,mbpp`` with the ``replay``
  backend answering the gold solutions, so every program is built, run in the local sandbox
  and scored by the benchmark, ``workers`` scoring at a time; the time includes loading,
  generation (replayed), JSONL writing and the summary.

Prints programs/s (median over rounds), how many passed, and runner/plain. Goal (issue 6):
at least 0.8x of plain while sandboxed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lemur.eval.benchmarks import humaneval, mbpp
from lemur.eval.config import RunConfig
from lemur.eval.runner import run

REPO = Path(__file__).resolve().parent.parent
PYTHON = "/usr/bin/python3"


def gold_items(data_dir: Path, limit: int | None):
    """(benchmark, sample, gold output, program) for HumanEval and MBPP."""
    items = []
    for bench in (humaneval.HumanEval(data_dir=data_dir), mbpp.MBPP(data_dir=data_dir)):
        samples = list(bench.samples())[:limit]
        module = humaneval if isinstance(bench, humaneval.HumanEval) else mbpp
        for sample in samples:
            items.append((bench, sample, sample.target, module.build_program(sample.inputs, sample.target)))
    return items


def run_plain(programs: list[str], workers: int) -> tuple[float, int]:
    def one(program: str) -> bool:
        try:
            return (
                subprocess.run(
                    [PYTHON, "-I", "-"], input=program, capture_output=True, text=True, timeout=3.0
                ).returncode
                == 0
            )
        except subprocess.TimeoutExpired:
            return False

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(one, programs))
    return time.perf_counter() - start, passed


def run_runner(items, data_dir: Path, workers: int, limit: int | None, scratch: Path, tag: str) -> tuple[float, int]:
    replay = scratch / "gold.jsonl"
    if not replay.exists():
        with open(replay, "w") as out:
            for bench, sample, gold, _ in items:
                out.write(json.dumps({"request": bench.request(sample).to_dict(), "output": gold}) + "\n")
    config = RunConfig(
        model=f"replay:{replay}",
        benchmarks=("humaneval", "mbpp"),
        out=scratch / f"run-{tag}",
        limit=limit,
        data_dir=data_dir,
        workers=workers,
        use_cache=False,
        progress=False,
    )
    start = time.perf_counter()
    summary = run(config)
    seconds = time.perf_counter() - start
    passed = 0
    for name in ("humaneval", "mbpp"):
        results = scratch / f"run-{tag}" / name / "results.jsonl"
        passed += sum(json.loads(line)["score"] == 1.0 for line in results.read_text().splitlines())
        assert summary["benchmarks"][name]["n"] > 0
    return seconds, passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--limit", type=int, default=None, help="first N problems of each benchmark")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    items = gold_items(args.data_dir, args.limit)
    programs = [program for *_, program in items]
    print(f"{len(programs)} gold programs (HumanEval + MBPP), python {PYTHON}")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for workers in [int(w) for w in args.workers.split(",")]:
            plain_rates, runner_rates = [], []
            for round_index in range(args.rounds):
                seconds, plain_passed = run_plain(programs, workers)
                plain_rates.append(len(programs) / seconds)
                seconds, runner_passed = run_runner(
                    items, args.data_dir, workers, args.limit, scratch, f"{workers}-{round_index}"
                )
                runner_rates.append(len(programs) / seconds)
            plain, runner = statistics.median(plain_rates), statistics.median(runner_rates)
            print(
                f"workers={workers}: plain {plain:6.1f} programs/s ({plain_passed} passed)  "
                f"runner+sandbox {runner:6.1f} programs/s ({runner_passed} passed)  "
                f"ratio {runner / plain:4.2f}x  goal>=0.8x: {'met' if runner / plain >= 0.8 else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
