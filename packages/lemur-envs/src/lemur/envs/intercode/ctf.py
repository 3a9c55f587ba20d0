"""InterCode-CTF: find a picoCTF flag by exploring a partially observable file system with bash.

Citation: Yang, Prabhakar, Narasimhan and Yao, "InterCode: Standardizing and Benchmarking
Interactive Coding with Execution Feedback", NeurIPS 2023 Datasets and Benchmarks. Tasks: the
100 picoCTF tasks of ``princeton-nlp/intercode@c3e46d8`` (``ic_ctf.json``) with their assets
under ``/ctf/<task_id>`` (every task's folder is there, as in InterCode's image; the
``solution`` folders are left out).

* **Observation** (``Text``): after reset, the task statement; after an action, its output
  (stdout and stderr merged), ``Command timed out`` (10 s) or ``Malformed command``; after a
  wrong flag, ``Submitted flag is incorrect. Keep trying!``.
* **Action** (``Text``): a bash command line (``python3 -c``/``python -c`` commands are split
  and run directly, everything else under ``/bin/bash -c``, as InterCode's ``CTFEnv`` does),
  ``submit <flag>`` or ``skip``.
* **Reward**: InterCode's: 1 when the submitted flag (the second space-separated word) equals
  the gold flag ignoring case, else 0; non-submit actions get 0.
* **Termination**: a correct flag, or ``skip``. A wrong flag does not end the episode (InterCode's
  multi-turn evaluation answers it and goes on).
* **Truncation**: by ``TimeLimit`` after ``max_episode_steps`` (10, Lemur's setting).

Starting state: ``reset(options={"task_id": i})`` picks task *i* (InterCode's ``task_id``);
without it a task that can run (offline, unless ``network=True``) is drawn with
``self.np_random``. The file system is restored and the working directory is
``/ctf/<task_id>``. The sandbox has no network unless ``network=True``; a task whose
statement needs a remote service (``nc host port``, a URL, ``wget``) then raises
:class:`TaskNeedsNetworkError` at reset rather than being scored 0.

``info``: ``task_id``, ``query``, ``tags``, ``needs_network``, ``success`` (reward == 1.0),
``action_executed``, ``reward_details`` (``submitted``, ``gold``).

Arguments: ``backend`` (sandbox backend, ``local`` or ``docker``), ``data_dir`` (a local mirror),
``network`` (allow the network, default off).

Known data issue: task 15's gold flag is wrong upstream (intercode issue #25).

>>> import gymnasium, lemur.envs
>>> env = gymnasium.make("lemur/InterCode-CTF-v0", data_dir="../shared/data")  # doctest: +SKIP
>>> observation, info = env.reset(options={"task_id": 4})  # doctest: +SKIP

Version history: v0 (2026-11-27), first version.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gymnasium

from lemur.core.errors import LemurError
from lemur.envs.intercode.task_fs import (
    ACTION_TIMEOUT,
    MALFORMED,
    TEXT,
    TIMED_OUT,
    TaskFileSystem,
    as_text,
    git_clean_command,
    merged_output,
    simplify_path,
)
from lemur.envs.intercode.tasks import ctf_tasks
from lemur.envs.sandbox import Mount

WRONG_FLAG = "Submitted flag is incorrect. Keep trying!"
_ASSETS_MOUNT = "/mnt/ctf-assets"


class TaskNeedsNetworkError(LemurError):
    """The CTF task needs the internet and the environment was made without network."""


def ctf_argv(action: str) -> list[str]:
    """The argv InterCode's ``CTFEnv.clean_cmd`` + docker-py give ``action``.

    Raises:
        ValueError: A ``python -c`` action whose quotes do not balance ("Malformed command").
    """
    argv = (
        shlex.split(action) if action.startswith(("python3 -c", "python -c")) else ["/bin/bash", "-c", action.strip()]
    )
    return merged_output(argv)


def _prepared_assets(root: Path) -> Path:
    """A world-readable copy of the task assets without the ``solution`` folders (the sandbox user must read it)."""
    target = Path(tempfile.mkdtemp(prefix="lemur-ctf-assets-"))
    target.chmod(0o755)
    if root.is_dir():
        shutil.copytree(root, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("solution"))
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


class InterCodeCTFEnv(gymnasium.Env):
    """InterCode-CTF (see the module docstring for the full description)."""

    metadata = {"render_modes": []}

    def __init__(self, backend: str = "local", data_dir: str | None = None, network: bool = False) -> None:
        self.tasks, assets = ctf_tasks(data_dir)
        self.network = network
        self._assets = _prepared_assets(assets)
        try:
            self.fs = TaskFileSystem(
                backend,
                "/ctf",
                setup=(f"cp -R {_ASSETS_MOUNT}/. /ctf/", git_clean_command(["/ctf"], keep_depth=1)),
                mounts=(Mount(self._assets, _ASSETS_MOUNT),),
                network=network,
            )
        except BaseException:
            shutil.rmtree(self._assets, ignore_errors=True)
            raise
        self.observation_space = TEXT
        self.action_space = TEXT
        self._task_id = 0
        self._observation = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        task_id = (options or {}).get("task_id")
        if task_id is None:
            runnable = [i for i, task in enumerate(self.tasks) if self.network or not task["needs_network"]]
            task_id = runnable[int(self.np_random.integers(len(runnable)))]
        if not 0 <= int(task_id) < len(self.tasks):
            raise ValueError(f"task_id {task_id!r} is out of range 0..{len(self.tasks) - 1}")
        self._task_id = int(task_id)
        task = self.tasks[self._task_id]
        if task["needs_network"] and not self.network:
            raise TaskNeedsNetworkError(
                f"InterCode-CTF task {self._task_id} needs the internet (its statement names a remote service); "
                "make the environment with network=True to run it"
            )
        self.fs.reset()
        self.fs.workdir = f"/ctf/{self._task_id}"
        if task.get("setup"):
            self.fs.session.exec(["/bin/bash", "-c", task["setup"]], timeout=120.0, cwd=self.fs.workdir)
        self._observation = ""
        return task["query"], self._info()

    def _run(self, action: str) -> tuple[str, bool]:
        try:
            argv = ctf_argv(action)
        except ValueError:
            return MALFORMED, False
        result = self.fs.session.exec(argv, timeout=ACTION_TIMEOUT, cwd=self.fs.workdir)
        if result.timed_out:
            return TIMED_OUT, False
        return result.stdout + result.stderr, result.exit_code == 0

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert isinstance(action, str), f"action must be a command string, got {type(action).__name__}"
        command = action.strip()
        if command == "skip":
            return "skipped", 0.0, True, False, self._info()
        gold = self.tasks[self._task_id]["gold"]
        if command.startswith("submit"):
            words = command.split(" ")
            submitted = words[1] if len(words) > 1 else ""
            correct = submitted.lower() == gold.lower()
            observation = self._observation if correct else WRONG_FLAG
            details = {"submitted": submitted, "gold": gold}
            info = self._info(success=correct, action_executed=True, reward_details=details)
            return as_text(observation, TEXT.character_set), 1.0 if correct else 0.0, correct, False, info
        if command.startswith("cd ") or command == "cd":
            target = simplify_path(self.fs.workdir, command[3:].strip())
            result = self.fs.session.exec(merged_output(["/bin/bash", "-c", f"cd {target}"]), cwd="/")
            self._observation = result.stdout + result.stderr
            if result.ok:
                self.fs.workdir = target
            executed = result.ok
        else:
            self._observation, executed = self._run(action)
        observation = as_text(self._observation, TEXT.character_set)
        return observation, 0.0, False, False, self._info(action_executed=executed)

    def _info(self, **extra: Any) -> dict[str, Any]:
        task = self.tasks[self._task_id]
        return {
            "task_id": self._task_id,
            "query": task.get("query"),
            "tags": task.get("tags"),
            "needs_network": task.get("needs_network"),
            "success": False,
            **extra,
        }

    def close(self) -> None:
        self.fs.close()
        shutil.rmtree(self._assets, ignore_errors=True)
