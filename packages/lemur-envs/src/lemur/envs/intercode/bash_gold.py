"""InterCode-Bash's gold runs, off the reset path: a twin sandbox in a worker thread.

The reward compares the agent's state with the gold command's run on a fresh copy of the task
file system. Running the gold in the agent's own sandbox at reset costs a restore, the gold
and a listing (above 100 ms) before the agent can act. Here a second sandbox, the *twin*, is
opened with the same setup and runs each gold command in a worker thread; :meth:`GoldRunner.submit`
returns at once and the result is awaited only when a reward is first needed.

The twin is an exact copy in everything the reward and the gold's output can see:

* paths, contents, kinds and executable bits: both are built by the same setup, the twin must
  hold the same paths (else :class:`GoldTwinMismatch`), and a file whose bytes differ is copied
  from the agent's (fs 3's ``archive.tar.gz`` holds the time it was built);
* modification times and modes (``ls -l``, ``find -mtime``, the headers of ``tar`` archives):
  the agent's, as a reset leaves them, are stamped onto the twin's files before every gold run
  and checked (one the twin cannot take raises :class:`GoldTwinMismatch`); access times are
  stamped too, but a reset's copy can move them in either sandbox, as it could before;
* the system mount points (``/dev``, ``/proc``, ``/etc``, ...) are stamped where the sandbox
  allows; ``/proc``'s process entries and change times, inode numbers and disk usage differ as
  they do between two restores of one sandbox.

Checked (``tests/intercode/test_bash_reset.py``; every task, 2026-11-27): the twin's gold run
equals a run on a fresh copy of the agent's own sandbox on every task whose output is not a race
(a backgrounded ``&``, ``tee >(...)``, two processes' stderr, a broken pipe), the clock, ``/proc``
(PIDs) or the times of ``/``'s mount points (``ls -l /``); replaying GPT-4's 1176 logged turns on
``local`` gives the same reward in both modes on every turn but one (fs 1 task 11, whose gold
backgrounds its work).

Gold results are not kept on disk: 57 of the 200 gold commands read the clock, file ages, disk
usage, host state or directory order (``date``, ``cal``, ``find -mmin``, ``ls -l``, ``du``,
``df``, ``tar``, ``/proc``), and the file times themselves are those of the session's setup, so
a stored result would be stale or need a judgement per command. The env keeps one result per
task for its lifetime, except for gold commands that print the clock (:func:`reads_clock`), which are
rerun at every reset so their output is as fresh as InterCode's rerun at each submission.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lemur.envs.intercode.git_status import GIT_IGNORED
from lemur.envs.intercode.task_fs import TaskFileSystem

#: A gold run: the gold command's output and the manifest of the file system after it.
GoldRun = tuple[str, dict[str, Any]]

#: Runs inside the sandbox (``python3 -I -S -c``): prints ``{path: [atime_ns, mtime_ns, mode, exact]}``
#: of every entry under the roots in ``argv[1]`` (the roots included), not entering the paths in
#: ``argv[2]``; those and the roots themselves are listed with ``exact`` 0 (mount points: stamped where
#: the sandbox allows, not checked).
TIMES_SCRIPT = r"""
import json, os, stat, sys
out = {}
skip = set(json.loads(sys.argv[2]))
for root in json.loads(sys.argv[1]):
    for top, dirs, files in os.walk(root):
        for name in dirs + files + ([""] if top == root else []):
            path = os.path.join(top, name) if name else top
            if path in out:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out[path] = [st.st_atime_ns, st.st_mtime_ns, stat.S_IMODE(st.st_mode), int(bool(name) and path not in skip)]
        dirs[:] = [name for name in dirs if os.path.join(top, name) not in skip]
print(json.dumps(out))
"""

#: Runs inside the twin with ``{"files": {path: base64}, "times": TIMES_SCRIPT's output}`` on stdin:
#: writes the files whose content differs from the agent's, sets modes and times (deepest first,
#: so a directory's time is set after its entries change), and prints the exact paths it could not
#: make equal.
STAMP_SCRIPT = r"""
import base64, json, os, stat, sys
wanted = json.load(sys.stdin)
wrong = []
for path, data in wanted["files"].items():
    with open(path, "wb") as handle:
        handle.write(base64.b64decode(data))
times = wanted["times"]
for path in sorted(times, key=lambda p: p.count("/"), reverse=True):
    atime, mtime, mode, exact = times[path]
    try:
        if not os.path.islink(path) and stat.S_IMODE(os.lstat(path).st_mode) != mode:
            os.chmod(path, mode)
        os.utime(path, ns=(atime, mtime), follow_symlinks=False)
        st = os.lstat(path)
        if exact and (st.st_mtime_ns != mtime or (not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != mode)):
            wrong.append(path)
    except OSError as error:
        if exact:
            wrong.append(f"{path}: {error.strerror}")
print(json.dumps(wrong))
"""

#: A command, in command position, that prints the current date or time: ``date``, ``uptime``,
#: ``w`` and ``who`` (load, uptime, login times), ``cal`` without an explicit month and year.
_CLOCK = re.compile(r"(?:^|[|;&(`]|\$\()\s*(?:date|uptime|w|who|cal(?!\s+(?:-\w+\s+)*\d+\s+\d{4}))(?![\w.-])")


def reads_clock(gold: str) -> bool:
    """Whether the ``gold`` command prints the current date or time (its result must not be reused)."""
    return bool(_CLOCK.search(gold))


def gold_command(gold: str | list[str]) -> str:
    """The command line of a task's gold (a list of commands runs joined by ``;``, as InterCode does)."""
    return ";".join(gold) if isinstance(gold, list) else gold


class GoldTwinMismatch(RuntimeError):
    """The twin sandbox is not an exact copy of the agent's file system (its setup is not deterministic)."""


def times_command(roots: Sequence[str], writable_root: bool) -> list[str]:
    """The argv that lists the times and modes of the task file system's entries (:data:`TIMES_SCRIPT`)."""
    listed, skip = list(roots), set()
    if writable_root:
        listed.append("/")
        skip = {*roots, *("/" + name for name in GIT_IGNORED)}
    return ["/usr/bin/python3", "-I", "-S", "-c", TIMES_SCRIPT, json.dumps(listed), json.dumps(sorted(skip))]


def list_times(fs: TaskFileSystem) -> dict[str, list[int]]:
    """``{path: [atime_ns, mtime_ns, mode, exact]}`` of ``fs``'s task file system as it is now.

    Raises:
        GoldTwinMismatch: The listing failed.
    """
    result = fs.session.exec(times_command(fs.roots, fs.writable_root), timeout=60.0, cwd="/")
    if not result.ok:
        raise GoldTwinMismatch(f"InterCode-Bash: listing file times failed: {result.stderr.strip()[-300:]}")
    return json.loads(result.stdout)


class GoldRunner:
    """Runs gold commands on a twin of the agent's task file system in one worker thread.

    Args:
        open_twin: Opens a task file system with the agent's setup; called at once in the
            worker thread, so the twin is built while the agent's sandbox is.
    """

    def __init__(self, open_twin: Callable[[], TaskFileSystem]) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intercode-gold")
        self._twin_future: Future[TaskFileSystem] = self._worker.submit(open_twin)
        self._twin: TaskFileSystem | None = None
        self._stamp: bytes = b""
        self._checked = False

    def attach(self, source: TaskFileSystem) -> None:
        """Make the twin a copy of ``source``, the agent's file system right after setup (no action run).

        Waits for the twin, then reads from ``source``, as a reset leaves it, the times, modes and
        the files whose content the setup made differently in the twin (an archive holding the
        build time).

        Raises:
            GoldTwinMismatch: The two setups built different sets of files.
            SandboxError: A sandbox failed.
        """
        source.reset()  # what every episode starts from: docker's restore keeps whole seconds only
        times = list_times(source)
        self._twin = self._twin_future.result()
        committed, twin_committed = source.committed, self._twin.committed
        if set(committed) != set(twin_committed):
            differ = sorted(set(committed) ^ set(twin_committed))[:5]
            raise GoldTwinMismatch(f"InterCode-Bash: the setup built other paths in a second sandbox: {differ}")
        files = {}
        for path, entry in committed.items():
            if entry != twin_committed[path]:
                files[path] = base64.b64encode(source.session.read_file(path)).decode("ascii")
        self._committed = committed
        self._stamp = json.dumps({"files": files, "times": times}).encode()
        # Extra roots (fs 3's /backup) are host directories the sandbox user cannot stamp; their
        # snapshot's times are what every reset restores, so copy the agent's onto the twin's.
        for root, (_live, snapshot) in getattr(self._twin, "_extra", {}).items():
            shutil.copystat(source._extra[root][1], snapshot)

    def submit(self, gold: str) -> Future[GoldRun]:
        """Start running ``gold`` on a fresh copy in the twin; the future holds its output and manifest.

        The future raises what the run raised: :class:`GoldTwinMismatch` when the twin cannot be
        made an exact copy, ``SandboxError`` when its sandbox failed.
        """
        return self._worker.submit(self._run, gold)

    def _run(self, gold: str) -> GoldRun:
        twin = self._twin
        assert twin is not None, "attach() first"
        twin.reset()
        stamped = twin.session.exec(
            ["/usr/bin/python3", "-I", "-S", "-c", STAMP_SCRIPT], stdin=self._stamp, timeout=60.0, cwd="/"
        )
        wrong = json.loads(stamped.stdout) if stamped.ok else [stamped.stderr.strip()[-300:]]
        if wrong:
            raise GoldTwinMismatch(f"InterCode-Bash: the twin sandbox cannot take the times or modes of {wrong[:5]}")
        if not self._checked:
            manifest = twin.manifest()
            if manifest != self._committed:
                differ = sorted(set(manifest.items()) ^ set(self._committed.items()))[:5]
                raise GoldTwinMismatch(f"InterCode-Bash: the twin sandbox's files differ after the copy: {differ}")
            self._checked = True
        output, _ok = twin.run(gold)
        return output, twin.manifest()

    def close(self) -> None:
        """Drop pending runs, wait for the running one, and close the twin; closing twice is harmless."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        twin = self._twin
        future = self._twin_future
        if twin is None and future.done() and not future.cancelled() and future.exception() is None:
            twin = future.result()
        if twin is not None:
            twin.close()
        self._twin = None
