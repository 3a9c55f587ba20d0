"""The sandbox contract: every piece of model-written code or command runs through one of these.

``backend.open(spec) -> Session``; a session runs commands (``exec``), moves files in and out,
keeps persistent interactive shells and Python REPLs, and resets its file system to the state
right after ``spec.setup`` ran. No network, and bounded CPU time, memory, processes, file
size, output and disk, unless the spec says otherwise.

A non-zero exit, a timeout or a hit limit is data in :class:`ExecResult`, never an exception;
only "cannot run at all" raises (:class:`SandboxUnavailableError`, :class:`SandboxError`).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from lemur.core.errors import LemurError

MiB = 1024 * 1024


class SandboxError(LemurError):
    """A sandbox operation could not be carried out (the session is closed, a path escapes the sandbox, ...)."""


class SandboxUnavailableError(SandboxError):
    """The backend cannot run on this machine (no bubblewrap, no Docker daemon); the message says how to fix it."""


LimitHit = Literal["wall_time", "cpu_time", "memory", "processes", "file_size", "output", "disk"]


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """What one command did.

    Attributes:
        exit_code: The process's exit status; ``128 + N`` when killed by signal N (as a shell
            reports it), also after a timeout.
        stdout: Standard output, decoded as UTF-8 with replacement, cut at the output limit.
        stderr: Standard error, likewise.
        timed_out: The wall-clock timeout fired and the whole process tree was killed.
        truncated: Output passed ``Limits.output_bytes`` and was cut (the rest was discarded).
        seconds: Wall-clock duration.
        limit: Which limit ended or cut the command, if one did.
    """

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    seconds: float = 0.0
    limit: LimitHit | None = None

    @property
    def ok(self) -> bool:
        """Exit status 0 and no timeout."""
        return self.exit_code == 0 and not self.timed_out


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits applied to every command of a session.

    Attributes:
        wall_seconds: Default wall-clock timeout of one ``exec`` (seconds).
        cpu_seconds: CPU time per process (seconds, RLIMIT_CPU).
        memory_bytes: Address space / memory of the sandbox (bytes).
        processes: Processes and threads the sandbox may hold at once.
        file_size_bytes: Largest file a process may write (bytes, RLIMIT_FSIZE).
        output_bytes: Stdout and stderr kept per command, each (bytes); the rest is discarded.
        disk_bytes: Total size of the writable work area (bytes).
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 60
    memory_bytes: int = 1024 * MiB
    processes: int = 256
    file_size_bytes: int = 256 * MiB
    output_bytes: int = 1 * MiB
    disk_bytes: int = 1024 * MiB


@dataclasses.dataclass(frozen=True)
class Mount:
    """A host path made visible inside the sandbox at ``target`` (read-only unless said otherwise)."""

    source: Path
    target: str
    read_only: bool = True


@dataclasses.dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox looks like when a session opens.

    Attributes:
        image: The ``docker`` backend's image tag; ``None`` means its default image. The
            ``local`` backend takes none (see ``system_root``).
        workdir: The private writable directory commands start in.
        mounts: Extra host paths bound in; nothing else of the host is visible.
        env: Environment variables of every command.
        setup: Shell commands run once when the session opens, as part of the prepared file
            system; ``reset()`` returns to the state right after them.
        network: ``False`` (default): no network but loopback inside the sandbox.
        limits: Resource limits.
        writable_root: ``False`` (default): outside the work dir, ``/tmp`` and writable mounts
            the file system is read-only. ``True`` (``local`` backend only; ``docker`` refuses
            it): the top level of ``/`` is writable too (new files and directories such as
            ``/backup.tar`` or ``/var/log``), kept on the session's ``disk_bytes`` area,
            restored by ``reset()`` and listed by ``changes()``; the system directories
            (``/usr``, ``/etc``, ...) and read-only mounts stay read-only.
        run_as_root: ``False`` (default): commands run as an unprivileged user. ``True``
            (``local`` backend only): commands run as uid 0 / gid 0 of their own user namespace,
            mapped to the sandbox's unprivileged host user, with the capabilities Docker grants
            a container by default (file ownership and permission overrides, ``kill`` inside the
            sandbox) but none to mount or make namespaces; every limit still holds. With
            ``writable_root`` the system directories become root's too: ``/etc`` is a writable
            copy, new entries can be made in ``/usr`` (what it holds stays read-only: the host's
            files cannot be owned by a namespace's root), and ``/root`` and ``/var`` exist; all of
            it is restored by ``reset()``.
        system_root: ``None`` (default): the ``local`` backend shows the host's system
            directories. A directory (``local`` backend only; ``docker`` refuses it): a root file
            system, such as ``lemur envs build-root intercode-bash`` makes, whose ``/usr``,
            ``/bin``, ``/sbin``, ``/lib*`` and ``/etc`` the sandbox shows instead of the host's,
            read-only (its ``/etc`` as a copy with the sandbox's users and Docker's ``/etc/hosts``;
            nothing else of it, e.g. ``/var``, is used). It must hold ``/usr/bin/python3`` and
            ``/usr/bin/bwrap``, which the sandbox itself runs on.
    """

    image: str | None = None
    workdir: str = "/work"
    mounts: tuple[Mount, ...] = ()
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    setup: tuple[str, ...] = ()
    network: bool = False
    limits: Limits = dataclasses.field(default_factory=Limits)
    writable_root: bool = False
    run_as_root: bool = False
    system_root: str | None = None


@dataclasses.dataclass(frozen=True)
class FileChange:
    """A path that differs from the prepared file system: ``added``, ``modified`` or ``deleted``."""

    path: str
    kind: Literal["added", "modified", "deleted"]


class InteractiveSession(abc.ABC):
    """A long-lived interpreter inside a session: a shell keeps cwd and variables, a REPL keeps state."""

    @abc.abstractmethod
    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run ``code`` (a shell command line, or a Python cell) and return its output.

        On timeout the running code is interrupted and ``timed_out`` is set; the interpreter
        is restarted if it cannot be interrupted, and the result says so in ``stderr``.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the interpreter."""


class Session(abc.ABC):
    """An open sandbox. Use as a context manager, or call :meth:`close`."""

    @abc.abstractmethod
    def exec(
        self,
        command: str | Sequence[str],
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run a command to completion (a string runs under ``sh -c``; a list runs as is).

        Args:
            command: What to run.
            timeout: Wall-clock seconds; ``None`` uses ``spec.limits.wall_seconds``. The whole
                process tree is killed when it fires, daemonized children included.
            stdin: Bytes or text fed to standard input.
            cwd: Directory inside the sandbox; default ``spec.workdir``.
            env: Extra environment variables for this command.

        Raises:
            SandboxError: The session is closed or broken beyond repair.
        """

    @abc.abstractmethod
    def write_file(self, path: str, data: str | bytes) -> None:
        """Create or replace the file at ``path`` inside the sandbox (parents are created)."""

    @abc.abstractmethod
    def read_file(self, path: str) -> bytes:
        """Return the content of the file at ``path`` inside the sandbox.

        Raises:
            FileNotFoundError: No such file.
        """

    @abc.abstractmethod
    def reset(self) -> None:
        """Kill every process and restore the file system to its state right after setup."""

    @abc.abstractmethod
    def changes(self) -> list[FileChange]:
        """The paths under the writable areas that differ from the prepared state, sorted by path."""

    @abc.abstractmethod
    def shell(self) -> InteractiveSession:
        """Start a persistent ``bash`` that keeps cwd and variables across ``run`` calls."""

    @abc.abstractmethod
    def python(self) -> InteractiveSession:
        """Start a persistent Python REPL that keeps its globals across cells."""

    @abc.abstractmethod
    def close(self) -> None:
        """Kill everything and release the sandbox's resources; closing twice is harmless."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SandboxBackend(abc.ABC):
    """A way of running sandboxes (``local`` on bubblewrap, ``docker``)."""

    #: Registry name.
    name: str = ""

    @abc.abstractmethod
    def check_available(self) -> None:
        """Return if the backend can run here.

        Raises:
            SandboxUnavailableError: It cannot; the message says what is missing and how to fix it.
        """

    @abc.abstractmethod
    def open(self, spec: SandboxSpec) -> Session:
        """Open a session as ``spec`` describes (running ``spec.setup`` and snapshotting the result).

        Raises:
            SandboxUnavailableError: The backend cannot run here.
            SandboxError: Setup failed; the message includes the failing command's output.
        """
