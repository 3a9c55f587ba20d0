"""InterCode-CTF: picoCTF flags found by exploring a sandboxed machine with bash, 10 turns.

Paper: Yang et al., "InterCode: Standardizing and Benchmarking Interactive Coding with Execution
Feedback", NeurIPS 2023; as run for Lemur (Xu et al., 2023, Table 5): ``OpenLemur/intercode``
script ``expr_ctf.sh``, ``--max_turns 10 --dialogue_limit 7 --template ctf``. Official source:
``princeton-nlp/intercode@c3e46d8`` ``data/ctf/ic_ctf.json`` (100 tasks) and ``task_assets/``,
SHA-256 pinned in lemur-envs' ``intercode-ctf`` manifest.

Environment ``lemur/InterCode-CTF-v0`` (no network by default), agent ``intercode`` with
language ``ctf``. Deviation: tasks that need the internet (a remote service or a download in
the statement; 21 of 100) cannot run offline; they are left out, with a warning that says how
many, unless ``network=True``. Metric: success rate over the tasks run, with success by turn.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from lemur.eval.benchmark import BenchmarkSpec, Sample
from lemur.eval.benchmarks._intercode import MAX_TURNS, InterCodeBenchmark

DIALOGUE_LIMIT = 7


class InterCodeCTF(InterCodeBenchmark):
    """InterCode-CTF over the picoCTF tasks (see the module docstring).

    Args:
        data_dir: A local mirror of the InterCode files (``../shared/data``).
        sandbox: The sandbox backend (``local`` or ``docker``).
        network: Let the sandbox reach the internet and run the tasks that need it.
    """

    spec = BenchmarkSpec(
        name="intercode-ctf",
        version="1",
        category="agent",
        metric="success_rate",
        setting={"turns": MAX_TURNS, "dialogue_limit": DIALOGUE_LIMIT},
        description="InterCode-CTF: picoCTF in a sandbox, 10 turns, success rate",
    )
    env_id = "lemur/InterCode-CTF-v0"
    language = "ctf"
    dialogue_limit = DIALOGUE_LIMIT

    def __init__(self, data_dir=None, sandbox: str = "local", network: bool = False) -> None:
        super().__init__(data_dir)
        self.sandbox = sandbox
        self.network = bool(network)

    def samples(self) -> Iterator[Sample]:
        """The tasks that can run (all with network, else those that need none), in InterCode's order."""
        from lemur.envs.intercode.tasks import ctf_tasks

        tasks, _assets = ctf_tasks(self.data_dir)
        offline = [task for task in tasks if self.network or not task["needs_network"]]
        if len(offline) < len(tasks):
            warnings.warn(
                f"intercode-ctf: {len(tasks) - len(offline)} of {len(tasks)} tasks need the internet and are "
                "left out (benchmark option network=true runs them)",
                stacklevel=2,
            )
        for task in offline:
            inputs = {"task_id": task["task_id"], "query": task["query"], "tags": task.get("tags")}
            yield Sample(id=str(task["task_id"]), inputs=inputs, target=task["gold"])

    def env_options(self) -> dict[str, Any]:
        """The data mirror, the sandbox backend and the network switch."""
        return {**super().env_options(), "backend": self.sandbox, "network": self.network}
