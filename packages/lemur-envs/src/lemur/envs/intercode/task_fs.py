"""A task file system in a sandbox, run the way InterCode's containers run commands.

InterCode builds each task file system into a Docker image, commits it to git, runs every
action with ``docker exec`` (``/bin/bash -c "<action>"``, split by docker-py as a shell would
split it, stdout and stderr merged, a 10 s timeout, ``cd`` emulated by tracking the working
directory) and resets with ``git reset --hard; git clean -fd``. Here the file system is built
from the same setup script inside a :mod:`lemur.envs.sandbox` session; reset restores the
sandbox's snapshot taken right after setup, and what git would report is computed from
manifests of the writable roots (:mod:`.git_status`).

The task's main directory is the session's work directory, ``/tmp`` is writable, and further
roots (``/backup``) are host directories bound in, snapshot and restored here. With
``writable_root`` the top level of ``/`` is writable too (new files and directories, such as
``/backup1.tar`` or ``/var/log``; the sandbox's ``SandboxSpec.writable_root``), restored by the
sandbox and listed in the manifest as InterCode's git at ``/`` would see it. Without it the
root is read-only and writes elsewhere fail (in InterCode they would succeed). With
``run_as_root`` commands run as root, as InterCode's ``docker exec`` did (``SandboxSpec.run_as_root``:
root of the command's own user namespace, no real privileges); with both, ``/etc``, ``/var`` and
``/root`` are root's and writable, and new entries can be made in ``/usr``, whose contents (the
host's, or with ``system_root`` that tree's) stay read-only.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gymnasium import spaces

from lemur.envs.intercode.git_status import GIT_IGNORED, manifest_command, parse_manifest
from lemur.envs.intercode.sql import TEXT as SQL_TEXT
from lemur.envs.sandbox import InteractiveSession, Limits, Mount, SandboxSpec, get_backend

#: Observations and actions: any text of the SQL environment's characters, empty included (a
#: command may print nothing).
TEXT = spaces.Text(min_length=0, max_length=SQL_TEXT.max_length, charset=SQL_TEXT.character_set)
#: InterCode's per-action timeout (``TIMEOUT_DURATION``), seconds.
ACTION_TIMEOUT = 10.0
TIMED_OUT = "Command timed out"
MALFORMED = "Malformed command"


def intercode_argv(command: str, shell: str = "/bin/bash") -> list[str]:
    """The argv InterCode's ``clean_cmd`` + docker-py give ``command``: ``shell -c "<command>"`` split like a shell.

    Double quotes in ``command`` are not escaped (InterCode's quirk), so they end the quoted
    argument; the pieces after it become ``$0``, ``$1``... of the shell, as they did in InterCode.

    Raises:
        ValueError: The quotes do not balance (InterCode reported "Malformed command").
    """
    return shlex.split(f'{shell} -c "{command.strip()}"')


def merged_output(argv: list[str]) -> list[str]:
    """``argv`` with its stderr sent to its stdout, in order, as docker exec's combined stream has it."""
    return ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh", *argv]


def as_text(output: str, charset: frozenset[str]) -> str:
    """``output`` with each character outside ``charset`` written as a ``\\x..``/``\\u....`` escape.

    Binary files and terminal control bytes would otherwise fall outside the observation space;
    rewards are computed on the raw output, never on this.
    """
    if all(ch in charset for ch in output):
        return output
    escaped = []
    for ch in output:
        if ch in charset:
            escaped.append(ch)
        elif ord(ch) < 0x100:
            escaped.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(f"\\U{ord(ch):08x}")
    return "".join(escaped)


def simplify_path(current: str, changed: str) -> str:
    """Resolve ``cd``'s argument against the current directory, as InterCode's ``simplify_path`` does."""
    if not changed:
        return current
    if changed[0] == "/":
        current = ""
    path: list[str] = []
    for segment in (current + "/" + changed).split("/"):
        if segment == "..":
            if path:
                path.pop()
        elif segment and segment != ".":
            path.append(segment)
    return "/" + "/".join(path)


def _copy_with_owner(source: Path, target: Path) -> None:
    """Copy the contents of ``source`` into the existing ``target``, keeping modes, times and owners."""
    for entry in source.iterdir():
        destination = target / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, destination, symlinks=True)
        else:
            shutil.copy2(entry, destination, follow_symlinks=False)
    if os.geteuid() == 0:
        for top, dirs, files in os.walk(source):
            relative = Path(top).relative_to(source)
            for name in [*dirs, *files]:
                st = os.lstat(Path(top) / name)
                os.lchown(target / relative / name, st.st_uid, st.st_gid)


def _empty(directory: Path) -> None:
    for top, dirs, _files in os.walk(directory):
        for name in dirs:
            os.chmod(Path(top) / name, 0o700)  # the agent may have removed our permissions
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class TaskFileSystem:
    """One sandbox session holding a task file system, with InterCode's exec, reset and status.

    Args:
        backend: Sandbox backend name (``local`` or ``docker``).
        workdir: The main task directory (the session's work directory, e.g. ``/testbed``).
        extra_roots: Further writable top-level directories (host directories bound in).
        setup: Shell commands that build the file system (run once, then snapshot).
        mounts: Read-only host paths bound in (task assets).
        network: Whether the sandbox may reach the network.
        image: The sandbox's image (``SandboxSpec.image``; ``None``: the backend's default).
        shell: The shell actions run under (InterCode's NL2Bash and CTF images use bash).
        persistent_shell: Run actions in one long-lived bash per episode (variables, functions and
            the working directory carry over; the action runs as typed) instead of InterCode's
            one process per action.
        writable_root: Let commands create files and directories at the top level of ``/``
            (InterCode's container root was writable); they count in the manifest.
        run_as_root: Run commands as root of their user namespace (InterCode's containers ran
            them as root): ownership shows as root, permissions do not stop them.
        system_root: A root file system whose system directories the ``local`` backend shows
            instead of the host's (``SandboxSpec.system_root``; ``None``: the host's).

    Raises:
        SandboxUnavailableError: The backend cannot run here.
        SandboxError: Setup failed.
    """

    def __init__(
        self,
        backend: str,
        workdir: str,
        extra_roots: Sequence[str] = (),
        setup: Sequence[str] = (),
        mounts: Sequence[Mount] = (),
        network: bool = False,
        image: str | None = None,
        shell: str = "/bin/bash",
        persistent_shell: bool = False,
        writable_root: bool = False,
        run_as_root: bool = False,
        system_root: str | None = None,
    ) -> None:
        self.shell = shell
        self.writable_root = writable_root
        self.persistent_shell = persistent_shell
        self._interpreter: InteractiveSession | None = None
        self._host_dir = Path(tempfile.mkdtemp(prefix="lemur-intercode-"))
        self._host_dir.chmod(0o755)
        self._extra: dict[str, tuple[Path, Path]] = {}
        binds = list(mounts)
        for index, root in enumerate(extra_roots):
            live, snapshot = self._host_dir / f"live{index}", self._host_dir / f"snap{index}"
            live.mkdir()
            snapshot.mkdir()
            live.chmod(0o777)
            self._extra[root] = (live, snapshot)
            binds.append(Mount(live, root, read_only=False))
        self.roots = (workdir, *extra_roots, "/tmp")
        spec = SandboxSpec(
            workdir=workdir,
            mounts=tuple(binds),
            setup=tuple(setup),
            network=network,
            image=image,
            limits=Limits(wall_seconds=ACTION_TIMEOUT),
            writable_root=writable_root,
            run_as_root=run_as_root,
            system_root=system_root,
        )
        try:
            self.session = get_backend(backend).open(spec)
            for live, snapshot in self._extra.values():
                _copy_with_owner(live, snapshot)
                shutil.copystat(live, snapshot)
            self.committed = self.manifest()
        except BaseException:
            shutil.rmtree(self._host_dir, ignore_errors=True)
            raise
        self.workdir = "/"

    def reset(self) -> None:
        """Restore the file system right after setup, kill every process, and ``cd /``."""
        self.session.reset()  # also stops the persistent shell; the next action starts a fresh one
        self._interpreter = None
        for live, snapshot in self._extra.values():
            _empty(live)
            _copy_with_owner(snapshot, live)
            shutil.copystat(snapshot, live)
        self.workdir = "/"

    def run(self, action: str, timeout: float = ACTION_TIMEOUT) -> tuple[str, bool]:
        """Run one action as InterCode's ``exec_action`` does; return (observation, exit status was 0).

        With ``persistent_shell`` the action runs as typed in the episode's bash instead.
        """
        if self.persistent_shell:
            return self._run_in_shell(action, timeout)
        is_cd = action.startswith("cd") and "cd " in action
        new_path = None
        if is_cd:
            new_path = simplify_path(self.workdir, action[action.index("cd ") + 3 :].strip())
            action = f"cd {new_path}"
        try:
            argv = intercode_argv(action, self.shell)
        except ValueError:
            return MALFORMED, False
        result = self.session.exec(merged_output(argv), timeout=timeout, cwd="/" if is_cd else self.workdir)
        if result.timed_out:
            return TIMED_OUT, False
        executed = result.exit_code == 0
        if is_cd and executed and new_path is not None:
            self.workdir = new_path
        return result.stdout + result.stderr, executed

    def _run_in_shell(self, action: str, timeout: float) -> tuple[str, bool]:
        if self._interpreter is None:
            self._interpreter = self.session.shell()
            self._interpreter.run("cd /", timeout=ACTION_TIMEOUT)
        result = self._interpreter.run(f"{{ {action.strip()}\n}} 2>&1", timeout=timeout)
        if result.timed_out:
            return TIMED_OUT, False
        return result.stdout + result.stderr, result.exit_code == 0

    def manifest(self) -> dict[str, Any]:
        """The current manifest of the writable roots (see :func:`.git_status.manifest_command`).

        With ``writable_root`` it also lists ``/``, except what git ignores (the system
        directories) and the roots listed already.
        """
        command = manifest_command(self.roots)
        if self.writable_root:
            command = manifest_command((*self.roots, "/"), {*self.roots, *("/" + name for name in GIT_IGNORED)})
        result = self.session.exec(command, timeout=60.0, cwd="/")
        if not result.ok:
            from lemur.envs.sandbox import SandboxError

            raise SandboxError(f"InterCode: listing the task file system failed: {result.stderr.strip()[-300:]}")
        return parse_manifest(result.stdout)

    def close(self) -> None:
        """Close the session and remove the host directories; closing twice is harmless."""
        session = getattr(self, "session", None)
        if session is not None:
            session.close()
        shutil.rmtree(self._host_dir, ignore_errors=True)


def git_clean_command(roots: Sequence[str], keep_depth: int = 0) -> str:
    """A setup command that removes every directory holding no file, as InterCode's reset does.

    InterCode resets with ``git reset --hard; git clean -fd``; git does not track directories,
    so ``clean -fd`` deletes the empty directories a setup script made before any episode starts.
    Directories up to ``keep_depth`` levels below a root stay (CTF task folders whose assets
    the mirror lacks).
    """
    paths = " ".join(shlex.quote(root) for root in roots)
    return f"find {paths} -mindepth {keep_depth + 1} -depth -type d -empty -delete"


def setup_command(script: str) -> str:
    """A sandbox setup command that runs a bash ``script`` (InterCode's Dockerfile ``RUN /setup.sh``)."""
    return f"/bin/bash -c {shlex.quote(script)}"
