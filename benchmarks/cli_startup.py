"""Measure how long `lemur --help` takes to start, against a bare `python -c pass` in the same run.

Usage: .venv/bin/python benchmarks/cli_startup.py [--runs N]
Goal (issue 2): `lemur --help` under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(command: list[str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    lemur = str(Path(sys.executable).parent / "lemur")
    baseline = timed([sys.executable, "-c", "pass"], runs)
    for args in (["--help"], ["plugins"]):
        measured = timed([lemur, *args], runs)
        median, base = statistics.median(measured), statistics.median(baseline)
        print(
            f"lemur {' '.join(args):<8} median {median * 1000:7.1f} ms  max {max(measured) * 1000:7.1f} ms  "
            f"python -c pass {base * 1000:5.1f} ms  ratio {median / base:5.1f}x  goal<1000 ms: "
            f"{'met' if median < 1.0 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
