"""Execute the 164 HumanEval canonical solutions with their tests: plain subprocess vs the sandboxes.

Usage: .venv/bin/python benchmarks/sandbox_exec.py [--data ../shared/data/humaneval] [--workers 1,2]
       [--rounds 3] [--overhead-samples 200] [--json out.json]

Each program is ``prompt + canonical_solution + test + check(entry_point)`` fed to ``python3 -``
on standard input with a 10 s timeout, run three ways in the same process, interleaved round by
round so machine noise hits all of them alike:

- ``plain``: ``subprocess.run`` with a timeout, the original harness's way (no isolation);
- ``local``: ``Session.exec`` on the bubblewrap backend (one session per worker, opened before timing);
- ``docker``: the same on the docker backend, or "unavailable: <reason>".

Reports programs/s (median over rounds) for 1 and 2 workers, how many of the 164 passed, and
the ratio of each backend's throughput to plain. Then the per-exec overhead of each backend:
the same command (``/bin/true``, and ``python3 -c pass``) run plain and sandboxed in
alternation, the median of the paired differences, back to back and with 50 ms pauses (a
session keeps a few namespaces started ahead; back to back, trivial commands outrun that).
Goals (issue 3): all 164 pass everywhere; local within 1.5x of plain; local's own overhead
per exec under 10 ms median. Also prints the median ``reset()`` time of a 50-file work tree.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lemur.envs.sandbox import SandboxError, SandboxSpec, Session, get_backend

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "humaneval"
PYTHON = "/usr/bin/python3"
TIMEOUT = 10.0


def load_programs(data_dir: Path) -> list[tuple[str, str]]:
    """(task_id, program) for every HumanEval problem: prompt + solution + test + check call."""
    programs = []
    with gzip.open(data_dir / "HumanEval.jsonl.gz", "rt") as lines:
        for line in lines:
            task = json.loads(line)
            source = task["prompt"] + task["canonical_solution"] + "\n" + task["test"] + "\n"
            programs.append((task["task_id"], source + f"check({task['entry_point']})\n"))
    return programs


def run_plain(program: str) -> bool:
    """Run one program in a plain subprocess with a timeout; True if it passed."""
    try:
        done = subprocess.run([PYTHON, "-"], input=program.encode(), capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def timed_pass(programs: list[tuple[str, str]], workers: int, run_one: Callable[[int, str], bool]) -> tuple[float, int]:
    """Run every program with ``workers`` threads; return (programs per second, programs passed)."""
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda item: run_one(item[0] % workers, item[1][1]), enumerate(programs)))
    return len(programs) / (time.perf_counter() - began), sum(outcomes)


def sandbox_runner(sessions: list[Session]) -> Callable[[int, str], bool]:
    def run_one(worker: int, program: str) -> bool:
        return sessions[worker].exec(["python3", "-"], stdin=program, timeout=TIMEOUT).ok

    return run_one


def open_backends(names: list[str], workers: int) -> tuple[dict[str, list[Session]], dict[str, str]]:
    """Open ``workers`` sessions on each available backend; the rest map to why they are unavailable."""
    sessions: dict[str, list[Session]] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        try:
            backend = get_backend(name)
            backend.check_available()
            sessions[name] = [backend.open(SandboxSpec()) for _ in range(workers)]
        except Exception as error:  # noqa: BLE001 - any reason a backend cannot run is reported, not fatal
            unavailable[name] = f"{type(error).__name__}: {error}"
    return sessions, unavailable


def paired_overhead(session: Session, argv: list[str], samples: int, pause: float = 0.0) -> float:
    """Median of (sandboxed - plain) seconds for the same command, run alternately, ``pause`` s apart."""
    differences = []
    for _ in range(samples):
        time.sleep(pause)
        began = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        plain = time.perf_counter() - began
        began = time.perf_counter()
        session.exec(argv)
        differences.append(time.perf_counter() - began - plain)
    return statistics.median(differences)


def reset_time(session: Session, samples: int = 20) -> float:
    """Median seconds of ``reset()`` after touching a few files of a 50-file tree."""
    times = []
    for _ in range(samples):
        session.exec("echo changed > f7.txt; rm f8.txt; mkdir -p new && echo n > new/x")
        began = time.perf_counter()
        session.reset()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with HumanEval.jsonl.gz")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per runner (median reported)")
    parser.add_argument("--overhead-samples", type=int, default=200, help="paired execs per overhead figure")
    parser.add_argument("--backends", default="local,docker", help="sandbox backends to compare with plain")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    programs = load_programs(args.data)
    names = [name for name in args.backends.split(",") if name]
    report: dict[str, object] = {"programs": len(programs), "throughput": {}, "unavailable": {}}
    print(f"sandbox_exec: {len(programs)} HumanEval programs, python3 - with a {TIMEOUT:.0f} s timeout")
    print("load average at start: {:.1f} {:.1f} {:.1f} ({} cores)".format(*os.getloadavg(), os.cpu_count()))
    for workers in [int(w) for w in args.workers.split(",")]:
        sessions, unavailable = open_backends(names, workers)
        report["unavailable"].update(unavailable)  # type: ignore[union-attr]
        runners: dict[str, Callable[[int, str], bool]] = {"plain": lambda _worker, program: run_plain(program)}
        runners.update({name: sandbox_runner(opened) for name, opened in sessions.items()})
        rates: dict[str, list[float]] = {name: [] for name in runners}
        passed: dict[str, int] = {}
        try:
            for _ in range(args.rounds):
                for name, run_one in runners.items():
                    rate, ok = timed_pass(programs, workers, run_one)
                    rates[name].append(rate)
                    passed[name] = min(passed.get(name, ok), ok)
        finally:
            for opened in sessions.values():
                for session in opened:
                    session.close()
        plain_rate = statistics.median(rates["plain"])
        print(f"\nworkers={workers}")
        print(f"  {'runner':<8} {'programs/s':>10} {'passed':>8} {'plain/runner':>13}")
        for name in [*runners, *unavailable]:
            if name in unavailable:
                print(f"  {name:<8} unavailable: {unavailable[name]}")
                continue
            rate = statistics.median(rates[name])
            print(f"  {name:<8} {rate:>10.1f} {passed[name]:>5}/{len(programs)} {plain_rate / rate:>12.2f}x")
            report["throughput"][f"{name}/workers={workers}"] = {  # type: ignore[index]
                "programs_per_s": rate,
                "passed": passed[name],
                "slowdown_vs_plain": plain_rate / rate,
            }
    print("\nper-exec overhead (sandboxed - plain, same command, paired, median)")
    report["overhead_ms"] = {}
    for name in names:
        if name in report["unavailable"]:  # type: ignore[operator]
            print(f"  {name:<8} unavailable: {report['unavailable'][name]}")  # type: ignore[index]
            continue
        try:
            backend = get_backend(name)
            with backend.open(SandboxSpec(setup=tuple(f"echo {i} > f{i}.txt" for i in range(50)))) as session:
                for label, command in (("/bin/true", ["/bin/true"]), ("python3 -c pass", [PYTHON, "-c", "pass"])):
                    for pace, pause in (("back-to-back", 0.0), ("50 ms apart", 0.05)):
                        overhead = paired_overhead(session, command, args.overhead_samples, pause) * 1000
                        report["overhead_ms"][f"{name}/{label}/{pace}"] = overhead  # type: ignore[index]
                        print(f"  {name:<8} {label:<16} {pace:<13} {overhead:7.2f} ms")
                reset = reset_time(session) * 1000
                report["overhead_ms"][f"{name}/reset"] = reset  # type: ignore[index]
                print(f"  {name:<8} {'reset (50 files)':<30} {reset:7.2f} ms")
        except SandboxError as error:
            print(f"  {name:<8} failed: {error}")
    print("load average at end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    report["loadavg_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
