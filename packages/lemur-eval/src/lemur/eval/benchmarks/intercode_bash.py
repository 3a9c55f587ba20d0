"""InterCode-Bash: NL2Bash requests carried out in a shell over four prepared file systems, 10 turns.

Paper: Yang et al., "InterCode: Standardizing and Benchmarking Interactive Coding with Execution
Feedback", NeurIPS 2023; as run for Lemur (Xu et al., 2023, "Lemur: Harmonizing Natural Language
and Code for Language Agents", Table 5): ``OpenLemur/intercode`` scripts ``expr_nl2bash.sh``,
``--max_turns 10 --dialogue_limit 7 --template v2``, no handicap, all four file systems.
Official source: ``princeton-nlp/intercode@c3e46d8`` ``data/nl2bash/nl2bash_fs_{1..4}.json``
(200 tasks) and ``docker/bash_scripts/setup_nl2b_fs_{1..4}.sh``, SHA-256 pinned in lemur-envs'
``intercode-bash`` manifest.

Environment ``lemur/InterCode-Bash-v0`` (reward and its deviations: see its docstring), agent
``intercode`` with language ``bash`` (prompt and parser: :mod:`lemur.eval.agents.intercode`).
Metric: success rate, the share of tasks whose reward reached 1.0 within 10 turns; the runner
adds success by turn. Sample ids are ``fs<n>-<task_id>``.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lemur.eval.benchmark import BenchmarkSpec, Sample
from lemur.eval.benchmarks._intercode import MAX_TURNS, InterCodeBenchmark

FILE_SYSTEMS = (1, 2, 3, 4)
DIALOGUE_LIMIT = 7


class InterCodeBash(InterCodeBenchmark):
    """InterCode-Bash over the four NL2Bash file systems (see the module docstring).

    Args:
        data_dir: A local mirror of the InterCode files (``../shared/data``).
        sandbox: The sandbox backend the file systems run in (``local`` or ``docker``).
        file_systems: Which file systems to evaluate (default all four).
    """

    spec = BenchmarkSpec(
        name="intercode-bash",
        version="1",
        category="agent",
        metric="success_rate",
        setting={"turns": MAX_TURNS, "dialogue_limit": DIALOGUE_LIMIT, "file_systems": list(FILE_SYSTEMS)},
        description="InterCode-Bash: NL2Bash in a sandboxed shell, 10 turns, success rate",
    )
    env_id = "lemur/InterCode-Bash-v0"
    language = "bash"
    dialogue_limit = DIALOGUE_LIMIT

    def __init__(self, data_dir=None, sandbox: str = "local", file_systems=FILE_SYSTEMS) -> None:
        super().__init__(data_dir)
        self.sandbox = sandbox
        self.file_systems = tuple(int(fs) for fs in file_systems)

    def samples(self) -> Iterator[Sample]:
        """Every task of the chosen file systems, file system by file system."""
        from lemur.envs.intercode.tasks import bash_tasks

        for file_system in self.file_systems:
            for task_id, task in enumerate(bash_tasks(file_system, self.data_dir)):
                inputs = {"file_system": file_system, "task_id": task_id, "query": task["query"]}
                yield Sample(id=f"fs{file_system}-{task_id}", inputs=inputs, target=task["gold"])

    def reset_options(self, sample: Sample) -> dict[str, Any]:
        """Select the sample's file system and task."""
        return {"file_system": sample.inputs["file_system"], "task_id": sample.inputs["task_id"]}

    def env_options(self) -> dict[str, Any]:
        """The data mirror and the sandbox backend."""
        return {**super().env_options(), "backend": self.sandbox}
