"""Reset and step latency of the InterCode environments, per environment and backend.

Usage: .venv/bin/python benchmarks/intercode_env.py [--data ../shared/data] [--tasks 12]
       [--backends local,docker] [--think-ms 0] [--only bash] [--json out.json]

For each environment and backend, in one process:

- ``open``: the first reset (builds the sandbox: setup script, snapshot; SQL: connect/convert);
- ``reset (new task)``: a reset to a task not seen before (Bash: its gold command runs on a
  fresh copy, in a twin sandbox in the background by default, ``gold="inline"`` in the agent's
  sandbox before the reset returns);
- ``reset (same task)``: a reset to a task seen before (restore only);
- ``step``: one action and its scoring right after a new task's reset (Bash: the task's first
  GPT-4 action from InterCode's log, its reward waiting for the background gold run; CTF:
  ``ls``; SQL: the gold query); ``step (seen)``: the same action again after the same-task reset.

Bash is measured with both gold modes in the same process (``bash/<backend>`` the default
background runs, ``bash-inline/<backend>`` the gold run inside reset, as before issue 5), and the
ratios inline / background are printed. ``--think-ms`` waits that long between a new task's
reset and its first step (not timed), as an agent's model call would, so the background gold run
can finish before the reward needs it; with 0 the step waits for it.

Medians in milliseconds over ``--tasks`` tasks. The baseline, measured in the same process on
the same backend, is the bare sandbox: ``Session.reset()`` of a session holding the same file
system, and ``Session.exec("true")``; the ratios say what the environment adds. The goal
(issue 5) is a reset under 100 ms on the local backend. A backend that cannot run here is
reported as unavailable with its reason (docker needs a daemon; SQL ``mysql`` a server at
127.0.0.1:3307, see tools/mariadb.sh).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
BASH_LOG = "intercode/data/results/bash/gpt-4/ic_bash_multiturn_gpt-4_10_turns_fs_1.json"


def timed(call: Callable[[], Any]) -> float:
    """Milliseconds ``call`` takes."""
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure_bash(
    data: Path, backend: str, tasks: int, gold: str = "background", think_ms: float = 0.0
) -> dict[str, Any]:
    """Latencies of InterCode-Bash on file system 1 with the sandbox ``backend`` and ``gold`` mode."""
    from lemur.envs.intercode.bash import InterCodeBashEnv

    log = json.loads((data / BASH_LOG).read_text())
    first_actions = {e["task_id"]: e["turn_history"]["actions"][0] for e in log.values()}
    env = InterCodeBashEnv(1, backend=backend, data_dir=str(data), gold=gold)
    try:
        opened = timed(lambda: env.reset(options={"task_id": 0}))
        env.step(first_actions[0])  # the first gold run waits for the twin's first stamp and check
        new, same, steps, seen_steps = [], [], [], []
        for task_id in range(1, tasks + 1):
            new.append(timed(lambda t=task_id: env.reset(options={"task_id": t})))
            time.sleep(think_ms / 1000)
            steps.append(timed(lambda t=task_id: env.step(first_actions[t])))
            same.append(timed(lambda t=task_id: env.reset(options={"task_id": t})))
            seen_steps.append(timed(lambda t=task_id: env.step(first_actions[t])))
        session = env.fs.session
        base_reset = [timed(session.reset) for _ in range(tasks)]
        base_exec = [timed(lambda: session.exec("true")) for _ in range(tasks)]
    finally:
        env.close()
    row = _row(opened, new, same, steps, base_reset, base_exec)
    row["step_seen_task_ms"] = median(seen_steps)
    return row


def measure_ctf(data: Path, backend: str, tasks: int) -> dict[str, Any]:
    """Latencies of InterCode-CTF (offline tasks) with the sandbox ``backend``."""
    from lemur.envs.intercode.ctf import InterCodeCTFEnv

    began = time.perf_counter()
    env = InterCodeCTFEnv(backend=backend, data_dir=str(data))  # builds the sandbox (copies the assets)
    try:
        offline = [t["task_id"] for t in env.tasks if not t["needs_network"]][: tasks + 1]
        opened = (time.perf_counter() - began) * 1000 + timed(lambda: env.reset(options={"task_id": offline[0]}))
        new, same, steps = [], [], []
        for task_id in offline[1:]:
            new.append(timed(lambda t=task_id: env.reset(options={"task_id": t})))
            steps.append(timed(lambda: env.step("ls")))
            same.append(timed(lambda t=task_id: env.reset(options={"task_id": t})))
        session = env.fs.session
        base_reset = [timed(session.reset) for _ in range(len(offline))]
        base_exec = [timed(lambda: session.exec("true")) for _ in range(len(offline))]
    finally:
        env.close()
    return _row(opened, new, same, steps, base_reset, base_exec)


def measure_sql(data: Path, backend: str, tasks: int) -> dict[str, Any]:
    """Latencies of InterCode-SQL with the database ``backend`` (``sqlite`` or ``mysql``)."""
    from lemur.envs.intercode.sql import InterCodeSQLEnv

    began = time.perf_counter()
    env = InterCodeSQLEnv(backend=backend, data_dir=str(data))
    try:
        opened = (time.perf_counter() - began) * 1000 + timed(lambda: env.reset(options={"task_id": 0}))
        new, same, steps = [], [], []
        for task_id in range(1, tasks + 1):
            new.append(timed(lambda t=task_id: env.reset(options={"task_id": t})))
            steps.append(timed(lambda t=task_id: env.step(env.tasks[t]["gold"])))
            same.append(timed(lambda t=task_id: env.reset(options={"task_id": t})))
    finally:
        env.close()
    return _row(opened, new, same, steps, [], [])


def _row(opened, new, same, steps, base_reset, base_exec) -> dict[str, Any]:
    row = {
        "open_ms": opened,
        "reset_new_task_ms": median(new),
        "reset_same_task_ms": median(same),
        "step_ms": median(steps),
    }
    if base_reset:
        row["sandbox_reset_ms"] = median(base_reset)
        row["sandbox_exec_ms"] = median(base_exec)
        row["reset_ratio_vs_sandbox"] = row["reset_same_task_ms"] / row["sandbox_reset_ms"]
        row["step_ratio_vs_sandbox_exec"] = row["step_ms"] / row["sandbox_exec_ms"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data mirror")
    parser.add_argument("--tasks", type=int, default=12, help="tasks per measurement (medians)")
    parser.add_argument("--backends", default="local,docker", help="sandbox backends for Bash and CTF")
    parser.add_argument("--think-ms", type=float, default=0.0, help="Bash: pause before a new task's first step")
    parser.add_argument("--only", default="bash,ctf,sql", help="which environments to measure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    from lemur.envs.sandbox import SandboxUnavailableError, get_backend

    results: dict[str, Any] = {}
    plans = []
    for backend in args.backends.split(","):
        try:
            get_backend(backend).check_available()
        except (SandboxUnavailableError, Exception) as error:  # noqa: BLE001 - any reason to skip is reported
            for env_name in ("bash", "bash-inline", "ctf"):
                results[f"{env_name}/{backend}"] = {"unavailable": str(error)}
            continue
        plans += [
            (f"bash/{backend}", functools.partial(measure_bash, think_ms=args.think_ms), backend),
            (f"bash-inline/{backend}", functools.partial(measure_bash, gold="inline", think_ms=args.think_ms), backend),
            (f"ctf/{backend}", measure_ctf, backend),
        ]
    plans += [("sql/sqlite", measure_sql, "sqlite"), ("sql/mysql", measure_sql, "mysql")]
    only = set(args.only.split(","))
    plans = [plan for plan in plans if plan[0].split("/")[0].removesuffix("-inline") in only]
    for name, measure, backend in plans:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = measure(args.data, backend, args.tasks)
        except Exception as error:  # noqa: BLE001 - a backend that cannot run is reported, not fatal
            results[name] = {"unavailable": f"{type(error).__name__}: {error}"}
    print(
        f"{'env/backend':<19} {'open':>8} {'reset new':>10} {'reset same':>11} {'step':>8} {'step seen':>10} "
        f"{'sandbox reset':>14} {'reset/sandbox':>14}  (ms, medians over {args.tasks} tasks)"
    )
    for name, row in results.items():
        if "unavailable" in row:
            print(f"{name:<19} unavailable: {row['unavailable'][:100]}")
            continue
        seen = f"{row['step_seen_task_ms']:>10.1f}" if "step_seen_task_ms" in row else f"{'':>10}"
        extra = ""
        if "sandbox_reset_ms" in row:
            extra = f" {row['sandbox_reset_ms']:>14.1f} {row['reset_ratio_vs_sandbox']:>13.2f}x"
        print(
            f"{name:<19} {row['open_ms']:>8.0f} {row['reset_new_task_ms']:>10.1f} {row['reset_same_task_ms']:>11.1f} "
            f"{row['step_ms']:>8.1f} {seen}{extra}"
        )
    for backend in args.backends.split(","):
        background, inline = results.get(f"bash/{backend}", {}), results.get(f"bash-inline/{backend}", {})
        if "reset_new_task_ms" in background and "reset_new_task_ms" in inline:
            ratios = ", ".join(
                f"{label} {inline[key] / background[key]:.2f}x"
                for label, key in (
                    ("reset new", "reset_new_task_ms"),
                    ("reset same", "reset_same_task_ms"),
                    ("step", "step_ms"),
                    ("step seen", "step_seen_task_ms"),
                )
            )
            print(f"bash/{backend} inline / background gold: {ratios}")
    local = results.get("bash/local", {})
    if "reset_new_task_ms" in local:
        worst = max(local["reset_new_task_ms"], local["reset_same_task_ms"])
        verdict = "met" if worst < 100 else "NOT met"
        print(f"goal reset < 100 ms on local (bash, new and seen tasks): {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
