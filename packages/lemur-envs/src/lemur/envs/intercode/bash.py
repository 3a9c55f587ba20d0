"""InterCode-Bash: carry out a natural-language request in a shell over a prepared file system.

Citation: Yang, Prabhakar, Narasimhan and Yao, "InterCode: Standardizing and Benchmarking
Interactive Coding with Execution Feedback", NeurIPS 2023 Datasets and Benchmarks. Tasks: the
200 NL2Bash tasks of ``princeton-nlp/intercode@c3e46d8`` over four file systems
(``nl2bash_fs_{1..4}.json``, 60/53/60/27 tasks), each built by its ``setup_nl2b_fs_<n>.sh``.

* **Observation** (``Text``): after reset, the request; after an action, its output (stdout and
  stderr merged), ``Command timed out`` (10 s) or ``Malformed command`` (unbalanced quotes).
* **Action** (``Text``): a bash command line, run as InterCode runs it (``/bin/bash -c "<action>"``
  in the task file system, ``cd`` tracked across actions), ``submit`` (end; score the current
  state) or ``skip`` (end, reward 0).
* **Reward**: InterCode's ``0.01 + p1 + p2 + p3`` (:mod:`.bash_reward`): p1 from the ``git status``
  entries missing or extra against the gold command's run on a fresh copy, p2 from the contents
  of the files both changed, p3 from the TF-IDF cosine of the outputs, each rounded to 2
  places. Every action is scored as if submitted right after it (InterCode's evaluation
  submits after each action), so the reward of step *k* is the score after *k* turns.
* **Termination**: reward 1.0, ``submit`` or ``skip``.
* **Truncation**: by ``TimeLimit`` after ``max_episode_steps`` (10, Lemur's setting).

Starting state: ``reset(options={"task_id": i})`` picks task *i* of the file system (InterCode's
``task_id``; ``options["file_system"]`` switches file system first); without it the task is
drawn with ``self.np_random``. The sandbox is built at the first reset. The file system is restored
to its state right after setup, without empty directories (InterCode's ``git clean -fd`` removes
them at every reset), and the working directory is ``/``. The gold command runs on a
fresh copy once per task and env (its output and file system are kept for scoring, where
InterCode re-runs it at every submission; gold commands that print the clock are rerun at every
reset). By default (``gold="background"``) it runs in a twin sandbox in a worker thread, so reset
does not wait for it; the first reward does (:mod:`.bash_gold`: the twin is checked to be an
exact copy, file times included, and rewards are the same as with ``gold="inline"``, which
runs it in the agent's sandbox during reset).

``info``: ``task_id``, ``file_system``, ``query``, ``gold``, ``success`` (reward == 1.0),
``action_executed`` (exit status 0), ``reward_details`` (p1-p3, ``diff_miss``, ``diff_extra``,
``diff_same``, ``agent_obs``, ``eval_obs``).

Arguments: ``file_system`` (1-4), ``backend`` (sandbox backend, ``local`` or ``docker``),
``data_dir`` (a local mirror of the InterCode files), ``shell``: ``"exec"`` (default) runs each
action as its own ``/bin/bash -c`` process exactly as InterCode's ``docker exec`` does (the
working directory carries over, variables do not; what the GPT-4 logs were recorded with), and
``"persistent"`` runs the episode's actions in one long-lived bash (variables, functions and
``cd`` carry over; the action runs as typed). Gold commands always run the InterCode way.
``gold``: ``"background"`` (default; a second sandbox, twice the memory) or ``"inline"``. On
``docker`` both sandboxes use ``lemur/intercode-bash:bookworm``, the sandbox image plus InterCode's
tools (build it with ``lemur envs build-image --intercode-bash``). ``system_root`` (``local``):
``"auto"`` (default) runs on InterCode-Bash's system tree when it is built (Debian bullseye with
the packages of InterCode's image, :mod:`lemur.envs.sandbox.system_roots`; build it with
``lemur envs build-root intercode-bash``), else on the host's, with a warning naming that command;
a path runs on that tree, ``None`` on the host's.

Differences from InterCode (the sandbox's, see :mod:`.task_fs`): on the ``local`` backend
commands run as root (of their own user namespace, no real privileges) and the top level of
``/`` is writable as InterCode's container root was (``/backup1.tar``, new directories; tracked
as InterCode's git at ``/`` would), with root's ``/etc``, ``/var``, ``/root`` and new entries in
``/usr`` (whose contents stay read-only); on ``docker`` commands run as an
unprivileged user and only the task directories (fs 3 has two: ``/workspace`` and ``/backup``)
and ``/tmp`` are writable. Tools are those of InterCode-Bash's system tree (Debian bullseye, bash
5.1 as on InterCode's Ubuntu 22.04, with that image's packages, host name ``sandbox``, Docker's
``/etc/hosts``), or without it the host's.

Fidelity (``local``, replaying GPT-4's logged actions; turns whose reward is within 0.01 of
InterCode's log), on InterCode-Bash's system tree: fs 1 356/401, fs 2 284/310, fs 3 295/334, fs 4
111/131 (1046/1176, 89%; on a Debian bookworm tree, bash 5.2, 1009/1176 in the same session,
2026-11-27); gold commands score 1.0 on 199-200 of 200 tasks (fs 1 task 11 backgrounds its work).
The remaining differences (clock, directory order, disk accounting, network, Debian 11 vs Ubuntu
22.04's files and readline, container state) and their causes are listed in
``tests/intercode/test_bash.py``.
On ``docker`` (``lemur/intercode-bash:bookworm``, ``gold="background"``, 2026-11-27): fs 1
275/401, fs 2 232/310, fs 3 263/334, fs 4 101/131 (871/1176, 74%), gold 200/200; most turns that
agree on ``local`` but not here write outside the task directories (its root is read-only:
``tar czf /x.tgz``, ``mv ... /``, ``cp ... /usr``) or need root.

>>> import gymnasium, lemur.envs
>>> env = gymnasium.make("lemur/InterCode-Bash-v0", file_system=1, data_dir="../shared/data")  # doctest: +SKIP
>>> observation, info = env.reset(options={"task_id": 0})  # doctest: +SKIP

Version history: v0 (2026-11-27), first version.
"""

from __future__ import annotations

import warnings
from concurrent.futures import Future
from typing import Any

import gymnasium

from lemur.envs.intercode.bash_gold import GoldRun, GoldRunner, gold_command, reads_clock
from lemur.envs.intercode.bash_reward import bash_reward
from lemur.envs.intercode.task_fs import TEXT, TaskFileSystem, as_text, git_clean_command, setup_command
from lemur.envs.intercode.tasks import bash_setup_script, bash_tasks

#: The main directory each file system's setup script builds (file system 4 builds none).
MAIN_DIRECTORY = {1: "/testbed", 2: "/system", 3: "/workspace", 4: "/testbed"}
#: Further top-level directories a setup script builds (fs 3's ``/backup``).
EXTRA_ROOTS = {1: (), 2: (), 3: ("/backup",), 4: ()}


def _system_root(backend: str, system_root: str | None) -> str | None:
    """The system tree the ``local`` sandbox shows: InterCode's if built (``"auto"``), the one given, or the host's."""
    if system_root is None or (backend != "local" and system_root == "auto"):
        return None
    if backend != "local":
        from lemur.core.errors import ConfigError

        raise ConfigError(f"InterCode-Bash: system_root is the local backend's; backend {backend!r} takes none")
    if system_root != "auto":
        return system_root
    from lemur.envs.sandbox.system_roots import find_root

    found = find_root("intercode-bash")
    if found is None:
        warnings.warn(
            "InterCode-Bash runs on this host's system tree (its /usr, other tools and packages than InterCode's "
            "image); build InterCode's with `lemur envs build-root intercode-bash` (about a minute, Debian mirror)",
            stacklevel=3,
        )
        return None
    return str(found)


class InterCodeBashEnv(gymnasium.Env):
    """InterCode-Bash (see the module docstring for the full description)."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        file_system: int = 1,
        backend: str = "local",
        data_dir: str | None = None,
        shell: str = "exec",
        gold: str = "background",
        system_root: str | None = "auto",
    ) -> None:
        from lemur.core.errors import ConfigError

        if shell not in ("exec", "persistent"):
            raise ConfigError(f"InterCode-Bash: shell {shell!r} is not one of 'exec', 'persistent'")
        if gold not in ("background", "inline"):
            raise ConfigError(f"InterCode-Bash: gold {gold!r} is not one of 'background', 'inline'")
        self.shell = shell
        self.gold = gold
        self._gold_runner: GoldRunner | None = None
        self.backend = backend
        self.system_root = _system_root(backend, system_root)
        self.data_dir = data_dir
        self.observation_space = TEXT
        self.action_space = TEXT
        self.fs: TaskFileSystem | None = None
        self._load(file_system)
        self._task_id = 0
        self._observation = ""

    def _load(self, file_system: int) -> None:
        """Select ``file_system``'s tasks; its sandbox is built at the next reset (a few hundred ms)."""
        self.file_system = file_system
        self.tasks = bash_tasks(file_system, self.data_dir)
        self._script = bash_setup_script(file_system, self.data_dir)
        self._gold_runs: dict[int, GoldRun | Future[GoldRun]] = {}
        self._close_sandboxes()

    def _file_system(self) -> TaskFileSystem:
        if self.fs is None:
            # The twin is built in the gold runner's thread while the agent's sandbox is built here.
            runner = GoldRunner(self._open_task_fs) if self.gold == "background" else None
            try:
                self.fs = self._open_task_fs(persistent_shell=self.shell == "persistent")
                if runner is not None:
                    runner.attach(self.fs)
            except BaseException:
                if runner is not None:
                    runner.close()
                self._close_sandboxes()
                raise
            self._gold_runner = runner
        return self.fs

    def _open_task_fs(self, persistent_shell: bool = False) -> TaskFileSystem:
        """Build the file system's sandbox (the agent's, or the gold runner's twin)."""
        # InterCode's Docker build stops on a failing script; on GNU tools fs 3's BSD `date -v`
        # fails there too (and its last commands decide the status), so the status is not checked.
        directory, extra = MAIN_DIRECTORY[self.file_system], EXTRA_ROOTS[self.file_system]
        setup = (setup_command(self._script) + " || true", git_clean_command((directory, *extra)))
        image = None
        if self.backend == "docker":
            from lemur.envs.sandbox.docker_image import INTERCODE_BASH_IMAGE, require_image

            require_image(INTERCODE_BASH_IMAGE)
            image = INTERCODE_BASH_IMAGE
        # InterCode's container root was writable; the docker backend's is not (it refuses the option).
        return TaskFileSystem(
            self.backend,
            directory,
            extra,
            setup=setup,
            image=image,
            persistent_shell=persistent_shell,
            writable_root=self.backend == "local",
            run_as_root=self.backend == "local",
            system_root=self.system_root,
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if options.get("file_system", self.file_system) != self.file_system:
            self._load(int(options["file_system"]))
        task_id = options.get("task_id")
        if task_id is None:
            task_id = int(self.np_random.integers(len(self.tasks)))
        if not 0 <= int(task_id) < len(self.tasks):
            raise ValueError(f"task_id {task_id!r} is out of range 0..{len(self.tasks) - 1}")
        self._task_id = int(task_id)
        fs = self._file_system()
        gold = gold_command(self.tasks[self._task_id]["gold"])
        rerun = self._task_id not in self._gold_runs or reads_clock(gold)
        if rerun and self._gold_runner is None:
            self._gold_runs[self._task_id] = self._run_gold(gold)
        fs.reset()
        if rerun and self._gold_runner is not None:
            # after the restore, so the twin's work does not slow it down (it overlaps the agent's turn)
            self._gold_runs[self._task_id] = self._gold_runner.submit(gold)
        self._observation = ""
        return self.tasks[self._task_id]["query"], self._info()

    def _run_gold(self, gold: str) -> GoldRun:
        """Run ``gold`` on a fresh copy of the agent's sandbox; return its output and the file system after it."""
        fs = self._file_system()
        fs.reset()
        output, _ok = fs.run(gold)
        return output, fs.manifest()

    def _gold_run(self) -> GoldRun:
        """The current task's gold run, waiting for the gold runner if it is still busy."""
        run = self._gold_runs[self._task_id]
        if isinstance(run, Future):
            run = self._gold_runs[self._task_id] = run.result()
        return run

    def score(self) -> tuple[float, dict[str, Any]]:
        """InterCode's reward of the current state and last observation against the gold run."""
        gold_output, gold_files = self._gold_run()
        fs = self._file_system()
        return bash_reward(fs.committed, fs.manifest(), gold_files, self._observation, gold_output)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert isinstance(action, str), f"action must be a bash command string, got {type(action).__name__}"
        command = action.strip()
        if command == "skip":
            return "skipped", 0.0, True, False, self._info()
        executed = True
        if not command.startswith("submit"):
            self._observation, executed = self._file_system().run(action)
        reward, details = self.score()
        terminated = reward == 1.0 or command.startswith("submit")
        info = self._info(success=reward == 1.0, action_executed=executed, reward_details=details)
        return as_text(self._observation, TEXT.character_set), float(reward), terminated, False, info

    def _info(self, **extra: Any) -> dict[str, Any]:
        task = self.tasks[self._task_id] if self.tasks else {}
        return {
            "task_id": self._task_id,
            "file_system": self.file_system,
            "query": task.get("query"),
            "gold": task.get("gold"),
            "success": False,
            **extra,
        }

    def close(self) -> None:
        self._close_sandboxes()

    def _close_sandboxes(self) -> None:
        if self._gold_runner is not None:
            self._gold_runner.close()
            self._gold_runner = None
        if self.fs is not None:
            self.fs.close()
            self.fs = None
