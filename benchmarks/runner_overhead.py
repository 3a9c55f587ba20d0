"""Measure the evaluation runner's overhead per item: replay backend, a trivial scorer, 1,000 and 5,000 items.

Usage: .venv/bin/python benchmarks/runner_overhead.py [--sizes 1000,5000] [--repeats 3] [--workers 4]

For each size the same process times (a) the bare work: ``replay.generate`` over the requests
in chunks plus ``score()`` per item, in a plain loop, and (b) a full ``lemur.eval.runner.run``
(validation, hashing, the thread pool, the model-call cache, JSONL written and flushed per
item, summary.json). Overhead per item = (runner - bare) / items. Goal (issue 4): under 1 ms
per item, and linear in the item count (per-item time at the largest size within 1.5x of the
smallest). Reports the median of ``--repeats`` runs, with and without the model-call cache.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lemur.core import hookimpl
from lemur.core.components import ComponentSpec
from lemur.core.plugins import build_plugin_manager, set_plugin_manager
from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.config import RunConfig
from lemur.eval.models.base import GenerationRequest
from lemur.eval.models.replay import ReplayBackend
from lemur.eval.runner import run

SIZE_OPTION = "size"


class EchoBenchmark(Benchmark):
    """``size`` items; the score is whether the output equals the item's target (a string compare)."""

    spec = BenchmarkSpec(name="overhead-echo", version="1", category="text")

    def __init__(self, data_dir=None, size: int = 1000):
        super().__init__(data_dir)
        self.size = size

    def samples(self):
        for index in range(self.size):
            yield Sample(id=f"item-{index:06d}", inputs={"n": index}, target=str(index * 7))

    def request(self, sample):
        return GenerationRequest(prompt=f"Item {sample.inputs['n']}: times seven is", stop=("\n",), max_tokens=8)

    def score(self, sample, output):
        return Score(float(output == sample.target))


class OverheadPlugin:
    """Registers the benchmark above (``__main__`` is importable, so the spec can point at it)."""

    @hookimpl
    def lemur_benchmarks(self):
        return [ComponentSpec("overhead-echo", "__main__:EchoBenchmark", "runner overhead")]


def write_replay(path: Path, size: int) -> None:
    benchmark = EchoBenchmark(size=size)
    with path.open("w") as file:
        for sample in benchmark.samples():
            file.write(json.dumps({"request": benchmark.request(sample).to_dict(), "output": sample.target}) + "\n")


def bare(replay: Path, size: int, chunk: int) -> float:
    """Seconds for the work itself: generate in chunks and score, nothing else."""
    start = time.perf_counter()
    backend = ReplayBackend(replay)
    benchmark = EchoBenchmark(size=size)
    samples = list(benchmark.samples())
    requests = [benchmark.request(sample) for sample in samples]
    total = 0.0
    for offset in range(0, size, chunk):
        outputs = backend.generate(requests[offset : offset + chunk])
        for sample, generation in zip(samples[offset : offset + chunk], outputs, strict=True):
            total += benchmark.score(sample, generation.text).value
    assert total == size
    return time.perf_counter() - start


def full(replay: Path, size: int, out: Path, workers: int, use_cache: bool) -> float:
    """Seconds for ``lemur.eval.runner.run`` over the same items."""
    config = RunConfig(
        model=f"replay:{replay}",
        benchmarks=("overhead-echo",),
        benchmark_options={"overhead-echo": {"size": size}},
        out=out,
        cache=out.parent / f"{out.name}.sqlite",
        use_cache=use_cache,
        workers=workers,
        progress=False,
    )
    start = time.perf_counter()
    summary = run(config)
    seconds = time.perf_counter() - start
    assert summary["benchmarks"]["overhead-echo"]["scores"]["accuracy"] == 1.0
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated item counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    manager = build_plugin_manager(load_entry_points=False)
    import lemur.eval.plugin

    manager.register_plugin(lemur.eval.plugin, "lemur_eval")
    manager.register_plugin(OverheadPlugin(), "overhead")
    set_plugin_manager(manager)
    print(f"python {sys.version.split()[0]}, workers={args.workers}, median of {args.repeats} runs")
    per_item: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for size in sizes:
            replay = root / f"replay-{size}.jsonl"
            write_replay(replay, size)
            base = statistics.median(bare(replay, size, 16) for _ in range(args.repeats))
            for use_cache in (True, False):
                runs = [
                    full(replay, size, root / f"run-{size}-{use_cache}-{i}", args.workers, use_cache)
                    for i in range(args.repeats)
                ]
                measured = statistics.median(runs)
                overhead_ms = (measured - base) / size * 1000
                per_item[use_cache].append(measured / size)
                print(
                    f"{size:>6} items  cache={'on ' if use_cache else 'off'}  runner {measured:6.3f} s "
                    f"({size / measured:8.0f} items/s)  bare {base:6.3f} s  ratio {measured / base:5.1f}x  "
                    f"overhead {overhead_ms:6.3f} ms/item  goal<1 ms: {'met' if overhead_ms < 1 else 'MISSED'}"
                )
    for use_cache, times in per_item.items():
        if len(times) > 1:
            growth = times[-1] / times[0]
            print(
                f"linearity cache={'on ' if use_cache else 'off'}: per-item time at {sizes[-1]} items is "
                f"{growth:4.2f}x that at {sizes[0]} (goal <= 1.5x: {'met' if growth <= 1.5 else 'MISSED'})"
            )


if __name__ == "__main__":
    main()
