"""What the three InterCode benchmarks share: the environment wrapper and the benchmark base.

InterCode's evaluation shows the model the reward after each action and, for SQL, the task's
table schema; gymnasium's ``info`` carries neither, so :class:`InterCodeInfo` adds ``reward``
(the last step's) and the task record's ``db_tables`` to ``info`` for the agent to read.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium

from lemur.eval.benchmark import AgentBenchmark

#: Lemur's InterCode runs: 10 turns (``--max_turns 10``), greedy.
MAX_TURNS = 10


class InterCodeInfo(gymnasium.Wrapper):
    """Adds ``reward`` and the task's ``db_tables`` (when it has one) to every ``info``."""

    def _task(self) -> dict[str, Any]:
        env = self.env.unwrapped
        task_id = getattr(env, "_task_id", None)
        tasks = getattr(env, "tasks", [])
        return tasks[task_id] if task_id is not None and 0 <= task_id < len(tasks) else {}

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        return observation, {**info, "reward": 0.0, "db_tables": self._task().get("db_tables")}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "reward": reward, "db_tables": self._task().get("db_tables")}
        return observation, reward, terminated, truncated, info


class InterCodeBenchmark(AgentBenchmark):
    """An InterCode environment played by the ``intercode`` agent for 10 turns; metric: success rate.

    Subclasses set :attr:`env_id`, :attr:`language` and :attr:`dialogue_limit`.
    """

    agent: ClassVar[str] = "intercode"
    language: ClassVar[str]
    dialogue_limit: ClassVar[int]
    max_turns: ClassVar[int] = MAX_TURNS

    @property
    def agent_options(self) -> dict[str, Any]:  # type: ignore[override]
        """The agent's language and dialogue window (Lemur's scripts' ``--dialogue_limit``)."""
        return {"language": self.language, "dialogue_limit": self.dialogue_limit}

    def env_options(self) -> dict[str, Any]:
        """Keyword arguments for ``gymnasium.make`` (the data mirror, the backend)."""
        return {"data_dir": str(self.data_dir) if self.data_dir is not None else None}

    def make_env(self) -> Any:
        """A fresh environment with :class:`InterCodeInfo` around it."""
        from lemur.core.plugins import get_plugin_manager
        from lemur.envs.registration import register_envs

        register_envs(get_plugin_manager())
        return InterCodeInfo(gymnasium.make(self.env_id, **self.env_options()))
