"""InterCode-SQL: Spider dev questions answered by querying the database, 10 turns.

Paper: Yang et al., "InterCode: Standardizing and Benchmarking Interactive Coding with Execution
Feedback", NeurIPS 2023; as run for Lemur (Xu et al., 2023, Table 5): ``OpenLemur/intercode``
script ``expr_spider.sh``, ``--max_turns 10 --dialogue_limit 5 --template game_sql --handicap``
(the handicap appends the task's tables and columns to the instructions). Official source:
``princeton-nlp/intercode@c3e46d8`` ``data/sql/spider/ic_spider_dev.json`` (1,034 tasks) and
``ic_spider_dbs.sql``, SHA-256 pinned in lemur-envs' ``intercode-sql`` manifest.

Environment ``lemur/InterCode-SQL-v0`` (``backend="sqlite"`` by default; ``"mysql"`` for a
MySQL/MariaDB server, which is what InterCode used and what faithful numbers need), agent
``intercode`` with language ``sql`` (prompt, schema message and parser:
:mod:`lemur.eval.agents.intercode`). Metric: success rate (reward 1.0 within 10 turns), with
success by turn from the runner. Sample ids are InterCode's task ids.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lemur.eval.benchmark import BenchmarkSpec, Sample
from lemur.eval.benchmarks._intercode import MAX_TURNS, InterCodeBenchmark

DIALOGUE_LIMIT = 5


class InterCodeSQL(InterCodeBenchmark):
    """InterCode-SQL over the Spider dev databases (see the module docstring).

    Args:
        data_dir: A local mirror of the InterCode files (``../shared/data``).
        db_backend: ``sqlite`` (default, no server) or ``mysql``.
        env_kwargs: Further arguments of the environment (``host``, ``port``, ``user``, ``password``).
    """

    spec = BenchmarkSpec(
        name="intercode-sql",
        version="1",
        category="agent",
        metric="success_rate",
        setting={"turns": MAX_TURNS, "dialogue_limit": DIALOGUE_LIMIT, "schema_in_system_message": True},
        description="InterCode-SQL: Spider dev by querying the database, 10 turns, success rate",
    )
    env_id = "lemur/InterCode-SQL-v0"
    language = "sql"
    dialogue_limit = DIALOGUE_LIMIT

    def __init__(self, data_dir=None, db_backend: str = "sqlite", **env_kwargs: Any) -> None:
        super().__init__(data_dir)
        self.db_backend = db_backend
        self.extra_env_kwargs = env_kwargs

    def samples(self) -> Iterator[Sample]:
        """The 1,034 tasks in InterCode's order."""
        from lemur.envs.intercode.data import sql_tasks

        for task_id, task in enumerate(sql_tasks(self.data_dir)):
            inputs = {"task_id": task_id, "query": task["query"], "db": task["db"], "hardness": task["hardness"]}
            yield Sample(id=str(task_id), inputs=inputs, target=task["gold"])

    def env_options(self) -> dict[str, Any]:
        """The data mirror, the database backend and its connection settings."""
        return {**super().env_options(), "backend": self.db_backend, **self.extra_env_kwargs}
