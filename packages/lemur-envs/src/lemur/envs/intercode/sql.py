"""InterCode-SQL: answer a question about a Spider database by querying it, turn by turn.

Citation: Yang, Prabhakar, Narasimhan and Yao, "InterCode: Standardizing and Benchmarking
Interactive Coding with Execution Feedback", NeurIPS 2023 Datasets and Benchmarks. Tasks: the
1,034 Spider dev questions of ``princeton-nlp/intercode@c3e46d8`` (``ic_spider_dev.json``) over
the 20 databases of its MySQL dump.

* **Observation** (``Text``): after reset, the question; after a statement, ``str`` of its rows
  (a list of tuples), ``None``, or ``Error executing query: <message>``, as InterCode renders them.
* **Action** (``Text``): one SQL statement, ``submit`` (end; score the last observation) or
  ``skip`` (end, reward 0).
* **Reward**: InterCode's: the multiset intersection over union of the stringified rows of the
  agent's last observation and of the gold query's, times the Kendall tau
  (``scipy.stats.kendalltau``) of the shared rows' order when that is defined (then rounded to
  2 places); 1 when both are empty; 0 when the observation is an error or ``None``. Every
  statement is scored as if submitted right after it (InterCode's evaluation submits after each
  action), so the reward of step *k* is the task's score after *k* turns.
* **Termination**: reward 1.0, ``submit`` or ``skip``.
* **Truncation**: by ``TimeLimit`` after ``max_episode_steps`` (10, Lemur's setting).

Starting state: ``reset(options={"task_id": i})`` picks task *i* (an index into the task file,
as InterCode's ``task_id``); without it the task is drawn with ``self.np_random``. The task's
database is selected (``USE <db>``) and restored first if an earlier episode changed it.

``info``: ``task_id``, ``db``, ``query``, ``hardness``, ``success`` (reward == 1.0),
``action_executed``, ``reward_details`` (``agent_obs``, ``eval_obs``, ``corrupt_gold``).

Arguments: ``backend`` (``"sqlite"``, the default, or ``"mysql"`` for a MySQL/MariaDB server —
``host``, ``port``, ``user``, ``password``), ``data_dir`` (a local mirror of the InterCode files),
``timeout`` (seconds per statement).

>>> import gymnasium, lemur.envs
>>> env = gymnasium.make("lemur/InterCode-SQL-v0", data_dir="../shared/data")  # doctest: +SKIP
>>> observation, info = env.reset(options={"task_id": 0})  # doctest: +SKIP

Version history: v0 (2026-11-27), first version.
"""

from __future__ import annotations

import math
import string
from collections import Counter
from typing import Any

import gymnasium
from gymnasium import spaces

from lemur.envs.intercode.data import SQL_DUMP, spider_sqlite_databases, sql_files, sql_tasks

#: Every printable character plus the rest of Unicode text agents and databases produce.
TEXT = spaces.Text(
    min_length=0, max_length=1_000_000, charset=string.printable + "".join(map(chr, range(0xA0, 0x3000)))
)


def intercode_sql_reward(agent: Any, gold: Any) -> float:
    """InterCode-SQL's reward of the agent's observation ``agent`` against the gold rows ``gold``."""
    if not isinstance(agent, list) or not isinstance(gold, list):
        return 0.0
    agent_rows, gold_rows = [str(row) for row in agent], [str(row) for row in gold]
    agent_counts, gold_counts = Counter(agent_rows), Counter(gold_rows)
    intersection = agent_counts & gold_counts
    union = agent_counts | gold_counts
    if not union:
        return 1.0
    reward = sum(intersection.values()) / sum(union.values())
    if intersection:
        tau = _kendall_tau(_shared(agent_rows, intersection), _shared(gold_rows, intersection))
        if not math.isnan(tau):
            reward = round(tau * reward, 2)
    return reward


def _shared(rows: list[str], intersection: Counter) -> list[str]:
    remaining = Counter(intersection)
    shared = []
    for row in rows:
        if remaining[row] > 0:
            remaining[row] -= 1
            shared.append(row)
    return shared


def _kendall_tau(first: list[str], second: list[str]) -> float:
    import warnings

    try:
        from scipy.stats import kendalltau
    except ImportError as error:
        from lemur.core.errors import MissingDependencyError

        raise MissingDependencyError("InterCode-SQL's reward", "scipy", "lemur-envs[intercode]") from error

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant input warns and gives NaN, which InterCode ignores
        return float(kendalltau(first, second, nan_policy="omit").statistic)


class InterCodeSQLEnv(gymnasium.Env):
    """InterCode-SQL (see the module docstring for the full description)."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        backend: str = "sqlite",
        data_dir: str | None = None,
        timeout: float = 10.0,
        host: str = "127.0.0.1",
        port: int = 3307,
        user: str = "admin",
        password: str = "admin",
    ) -> None:
        from lemur.core.errors import ConfigError
        from lemur.envs.intercode.sql_backends import MySQLBackend, SQLiteBackend

        self.tasks = sql_tasks(data_dir)
        if backend == "sqlite":
            self.backend = SQLiteBackend(spider_sqlite_databases(data_dir), timeout=timeout)
        elif backend == "mysql":
            dump = sql_files(data_dir)[SQL_DUMP]
            self.backend = MySQLBackend(dump, host=host, port=port, user=user, password=password, timeout=timeout)
        else:
            raise ConfigError(f"InterCode-SQL: backend {backend!r} is not one of 'sqlite', 'mysql'")
        self.observation_space = TEXT
        self.action_space = TEXT
        self._task: dict[str, Any] = {}
        self._task_id = 0
        self._observation: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        task_id = (options or {}).get("task_id")
        if task_id is None:
            task_id = int(self.np_random.integers(len(self.tasks)))
        self._task_id = int(task_id)
        if not 0 <= self._task_id < len(self.tasks):
            raise ValueError(f"task_id {task_id!r} is out of range 0..{len(self.tasks) - 1}")
        self._task = self.tasks[self._task_id]
        self.backend.use(self._task["db"])
        self._observation = None
        return self._task["query"], self._info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert isinstance(action, str), f"action must be a SQL string, got {type(action).__name__}"
        command = action.strip()
        if command == "skip":
            return "skipped", 0.0, True, False, self._info(success=False)
        executed = True
        if not command.startswith("submit"):
            self._observation = self.backend.execute(command)
            executed = not (isinstance(self._observation, str) and self._observation.startswith("Error executing"))
        gold = self.backend.execute(self._task["gold"])
        corrupt_gold = isinstance(gold, str)
        reward = intercode_sql_reward(self._observation, [] if corrupt_gold else (gold or []))
        details = {"agent_obs": str(self._observation), "eval_obs": str(gold), "corrupt_gold": corrupt_gold}
        terminated = reward == 1.0 or command.startswith("submit")
        # InterCode never truncates by itself; TimeLimit does.
        return (
            str(self._observation),
            reward,
            terminated,
            False,
            self._info(success=reward == 1.0, action_executed=executed, reward_details=details),
        )

    def _info(self, **extra: Any) -> dict[str, Any]:
        return {
            "task_id": self._task_id,
            "db": self._task.get("db"),
            "query": self._task.get("query"),
            "hardness": self._task.get("hardness"),
            "success": False,
            **extra,
        }

    def close(self) -> None:
        self.backend.close()
