"""The ``local`` sandbox backend: bubblewrap, no daemon (the embedded default).

Layout of one session (see ``_supervisor.py`` for the inside):

- One **holder** bubblewrap per session, with its own user, PID, network (loopback only), IPC
  and UTS namespaces (host name ``sandbox``) and a read-only root. It sees the host's system
  directories read-only (``/usr``, ``/bin``, ``/lib*``, a prepared ``/etc``), or with
  ``spec.system_root`` those of that root file system (its ``python3`` runs the supervisor and
  its ``bwrap``, or one kept with its own loader and libraries in ``PRIVATE_BWRAP``, the
  commands; as root, mounted for the holder in a private mount namespace, as nobody could not
  reach it in root's cache), and the spec's mounts, nothing else of the host.
  Two size-limited tmpfs hold the writable areas (the work dir and ``/tmp``, ``disk_bytes`` in
  all) and the snapshot taken after setup. Its process is the stdlib **supervisor**. With
  ``spec.writable_root`` a third area on that tmpfs, a copy of the holder's root skeleton (mount
  points and symlinks), is each command's ``/``, with the same read-only binds on top; it is
  snapshot, reset and diffed like the others.
- Every command runs in a **nested** bubblewrap (a "stub", started ahead of time so a command
  does not wait for namespaces) with its own PID namespace: a timeout kills the whole tree by
  killing that bubblewrap, and a command cannot see or signal the supervisor or other
  commands, nor create namespaces. Limits: rlimits for CPU seconds, address space per process,
  processes (RLIMIT_NPROC, counted per command's user namespace) and file size; the supervisor
  bounds the resident memory of all commands together; output and wall time are enforced here.
- When the host runs as root, the sandbox runs as ``nobody`` (65534): root is exempt from
  RLIMIT_NPROC, and nobody cannot read root's files even if one were bound in.
- With ``spec.run_as_root`` each command is uid 0 of its own user namespace (``--uid 0``), which
  maps to that same host user, with Docker's default capabilities (``ROOT_CAPABILITIES``).
  ``--disable-userns`` puts it in a nested namespace that owns no mount, so it cannot mount,
  unmount or make namespaces; capabilities count only there, so RLIMIT_NPROC still binds (the
  kernel exempts only the host's root and holders of CAP_SYS_RESOURCE/ADMIN over the host), and
  DAC_OVERRIDE covers only files owned by the sandbox's own user (host files map to nobody).
  With ``writable_root`` too, the root area gets root's system directories: a copy of the
  prepared ``/etc`` (instead of its bind), ``/usr`` as a directory whose host entries are bound
  read-only one by one (new entries may be made; the host's files cannot become a namespace
  root's, so no copy-on-write below them), and an empty ``/root``, ``/var``, ``/home``...

Known limits: background processes a command leaves behind are killed when it exits (start
long-lived servers from an interactive shell); the sandbox uses the host's ``/usr`` unless a
``system_root`` is given (no images); memory is polled every 100 ms, so a burst between polls
is bounded only per process.

Size: about 600 lines, one session class and its control channel to the supervisor, which are
one protocol; the host-side bubblewrap arguments and checks live in ``_local_host``.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from lemur.envs.sandbox._local_host import (
    HOSTNAME,
    ROOT_CAPABILITIES,
    ROOT_SKELETON,
    check_reachable_by_others,
    check_system_root,
    drop_privileges,
    etc_staging,
    launch_script,
    nested_bwrap,
    probe,
    root_launcher,
    system_args,
)
from lemur.envs.sandbox.base import (
    ExecResult,
    FileChange,
    InteractiveSession,
    LimitHit,
    SandboxBackend,
    SandboxError,
    SandboxSpec,
    SandboxUnavailableError,
    Session,
)
from lemur.envs.sandbox.capture import Pumped, classify_limit, drain, pump
from lemur.envs.sandbox.interactive import Channel, InterpreterSession, PythonDialect, ShellDialect

#: Seconds the holder may take to start and report ready.
START_SECONDS = 30.0
#: Seconds to wait for a killed command's exit report.
KILL_SECONDS = 10.0
_SUPERVISOR_SOURCE = Path(__file__).with_name("_supervisor.py").read_text()
_RW_ROOT, _SNAP_ROOT = "/.lemur/rw", "/.lemur/snap"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_status(fd: int, deadline: float) -> tuple[int | None, bool]:
    """Wait for the stub's status line; return (exit status or None if the stub died, deadline hit)."""
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, True
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 64)
        if not chunk:
            return (int(data) if data.strip().isdigit() else None), False
        data += chunk


@functools.lru_cache(maxsize=1)
def _mount_points() -> str:
    """A host directory (one per process, removed at exit) for the system roots' mount points."""
    path = tempfile.mkdtemp(prefix="lemur-sandbox-roots-")
    os.chmod(path, 0o755)
    # Sessions not closed leave their (empty) mount points here; they go with the process.
    atexit.register(shutil.rmtree, path, True)
    return path


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class LocalBackend(SandboxBackend):
    """Sandboxes on bubblewrap: namespaces and rlimits, no daemon (see the module docstring)."""

    name = "local"
    #: Conformance checks this backend is known to fail, with the reason.
    known_failures: Mapping[str, str] = {}

    def check_available(self) -> None:
        """Return if bubblewrap can sandbox here.

        Raises:
            SandboxUnavailableError: bwrap is missing, or user namespaces are disabled.
        """
        reason = probe()
        if reason is not None:
            raise SandboxUnavailableError(f"local sandbox backend unavailable: {reason}")

    def open(self, spec: SandboxSpec) -> LocalSession:
        """Open a session as ``spec`` describes: start the holder, run setup, take the snapshot.

        Raises:
            SandboxUnavailableError: bubblewrap cannot run here.
            SandboxError: The spec is invalid, or setup failed (the message has its output).
        """
        self.check_available()
        return LocalSession(spec)


class _Pending:
    """A request waiting for the supervisor's reply (for a stub: its ``exit``)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, object] = {}


class LocalSession(Session):
    """An open bubblewrap sandbox; see the module docstring for its layout."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.limits = spec.limits
        self._validate(spec)
        self._ids = itertools.count(1)
        # Waiting requests by id, and claimed stubs by ("stub", stub id).
        self._pending: dict[object, _Pending] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._broken: str | None = None
        self._interactive: list[InterpreterSession] = []
        # Started stubs the supervisor handed over and nobody took yet: stub id -> pipes.
        self._stubs: dict[int, list[int]] = {}
        self._stub_ready = threading.Condition(self._lock)
        launcher, user = [], drop_privileges()
        # As root, a system root is mounted for the holder at a place nobody can reach (see root_launcher).
        self._mount_point: str | None = None
        if spec.system_root is not None and os.geteuid() == 0:
            self._mount_point = tempfile.mkdtemp(dir=_mount_points())
            os.chmod(self._mount_point, 0o755)
            launcher, user = root_launcher(spec.system_root, self._mount_point), {}
        host_sock, inner_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = host_sock
        try:
            self._holder = subprocess.Popen(
                launcher + self._holder_argv(inner_sock.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(inner_sock.fileno(),),
                env=self._base_env(),
                **user,
            )
        except BaseException:
            self._remove_mount_point()
            raise
        finally:
            inner_sock.close()
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_replies, name="lemur-sandbox-reader", daemon=True)
        self._reader.start()
        if not self._ready.wait(START_SECONDS) or self._broken:
            error = self._holder_error()
            self.close()
            raise SandboxError(f"local sandbox did not start: {error}")
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    # -- construction --------------------------------------------------------------------------
    @staticmethod
    def _validate(spec: SandboxSpec) -> None:
        if not spec.workdir.startswith("/") or spec.workdir in ("/", "/tmp") or spec.workdir.startswith("/.lemur"):
            raise SandboxError(f"sandbox spec: workdir {spec.workdir!r} must be an absolute path other than / and /tmp")
        if spec.image is not None:
            raise SandboxError(
                f"sandbox spec: image {spec.image!r}: the local backend runs on the host's system directories "
                "and takes no image; give a root file system as system_root, prepare files with setup and mounts, "
                "or use the docker backend"
            )
        if spec.system_root is not None:
            check_system_root(spec.system_root)
        for mount in spec.mounts:
            if not Path(mount.source).exists():
                raise SandboxError(f"sandbox spec: mount source {str(mount.source)!r} does not exist")
            if not mount.target.startswith("/") or mount.target.startswith("/.lemur"):
                raise SandboxError(f"sandbox spec: mount target {mount.target!r} must be an absolute path")
            if os.geteuid() == 0:
                check_reachable_by_others(Path(mount.source))

    def _holder_argv(self, fd: int) -> list[str]:
        spec, limits = self.spec, self.limits
        system = system_args(spec.system_root, self._mount_point)
        args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--new-session", "--hostname", HOSTNAME]
        if spec.network:
            args.append("--share-net")
        args += system
        # One bind of a prepared /etc: every mount here is copied into each command's namespace.
        etc = etc_staging(self._home(), spec.network, spec.run_as_root, spec.system_root)
        args += ["--ro-bind", str(etc), "/etc"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(limits.disk_bytes), "--tmpfs", _RW_ROOT]
        args += ["--size", str(limits.disk_bytes), "--tmpfs", _SNAP_ROOT]
        args += ["--dir", "/tmp", "--dir", spec.workdir]
        for mount in spec.mounts:
            args += ["--ro-bind" if mount.read_only else "--bind", str(Path(mount.source).resolve()), mount.target]
        args += ["--remount-ro", "/"]
        areas = [{"path": spec.workdir, "name": "work"}, {"path": "/tmp", "name": "tmp"}]
        # With a writable root each command's "/" is a directory on the rw tmpfs, and what the
        # holder binds over its read-only root is bound again on top of it, in the same order.
        root_binds = [[system[i + 2], True] for i in range(len(system)) if system[i] == "--ro-bind"]
        root_binds += [["/etc", True], *([mount.target, mount.read_only] for mount in spec.mounts)]
        # Root's system directories: /etc is copied onto the root area instead of bound, and /usr
        # is a directory there whose entries the supervisor binds read-only one by one.
        root_system = spec.writable_root and spec.run_as_root
        if root_system:
            root_binds = [bind for bind in root_binds if bind[0] not in ("/etc", "/usr")]
        config = {
            "bwrap": nested_bwrap(spec.system_root),
            "rw_root": _RW_ROOT,
            "snap_root": _SNAP_ROOT,
            "areas": ([{"path": "/", "name": "root"}] if spec.writable_root else []) + areas,
            "root_binds": root_binds if spec.writable_root else [],
            "root_copies": ["/etc"] if root_system else [],
            "root_shallow": ["/usr"] if root_system else [],
            "root_dirs": list(ROOT_SKELETON) if root_system else [],
            "as_root": list(ROOT_CAPABILITIES) if spec.run_as_root else None,
            "writable_mounts": [mount.target for mount in spec.mounts if not mount.read_only],
            "workdir": spec.workdir,
            "env": {**self._base_env(), **spec.env},
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_bytes": limits.memory_bytes,
                "file_size_bytes": limits.file_size_bytes,
                "processes": limits.processes,
            },
        }
        args += ["--chdir", "/", "/usr/bin/python3", "-I", "-S", "-c", _SUPERVISOR_SOURCE, json.dumps(config), str(fd)]
        return args

    def _home(self) -> str:
        """The home directory: ``/root`` for root on a writable root (where it exists), else the work dir."""
        return "/root" if self.spec.run_as_root and self.spec.writable_root else self.spec.workdir

    def _base_env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": self._home(),
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            "USER": "root" if self.spec.run_as_root else "sandbox",
        }

    def _setup(self) -> None:
        for command in self.spec.setup:
            result = self.exec(command, timeout=max(self.limits.wall_seconds, 60.0))
            if not result.ok:
                raise SandboxError(
                    f"sandbox setup command {command!r} failed (exit {result.exit_code}"
                    f"{', timed out' if result.timed_out else ''}): {(result.stderr or result.stdout).strip()[-500:]}"
                )
        self._request({"op": "snapshot"})

    def _holder_error(self) -> str:
        try:
            self._holder.wait(5.0)
        except subprocess.TimeoutExpired:
            return self._broken or "no answer from the supervisor"
        stderr = self._holder.stderr.read().decode(errors="replace").strip() if self._holder.stderr else ""
        return stderr[-500:] or f"bubblewrap exited with status {self._holder.returncode}"

    # -- control channel -----------------------------------------------------------------------
    def _read_replies(self) -> None:
        while True:
            try:
                data, fds, _flags, _address = socket.recv_fds(self._sock, 1 << 20, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                self._broken = self._broken or "the sandbox's supervisor exited"
                self._ready.set()
                with self._lock:
                    waiting, self._pending = list(self._pending.values()), {}
                for pending in waiting:
                    pending.reply = {"op": "error", "error": self._broken}
                    pending.event.set()
                with self._lock:
                    self._stub_ready.notify_all()
                return
            message = json.loads(data)
            if message["op"] == "ready":
                self._ready.set()
                continue
            with self._lock:
                if message["op"] == "stub":
                    if not self._closed:
                        self._stubs[message["stub"]] = fds
                        self._stub_ready.notify()
                    else:
                        _close_all(fds)
                    continue
                key = ("stub", message["stub"]) if message["op"] == "exit" else message.get("id")
                pending = self._pending.pop(key, None)
                if pending is None and message["op"] == "exit" and message["stub"] in self._stubs:
                    _close_all(self._stubs.pop(message["stub"]))  # died before use
            if pending is not None:
                pending.reply = message
                pending.event.set()

    def _check_usable(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox session is closed")
        if self._broken:
            raise SandboxError(f"the sandbox session is broken: {self._broken}")

    def _send(self, message: dict[str, object], fds: Sequence[int] = ()) -> _Pending | None:
        """Send one request; return its pending reply when it has an ``id``."""
        self._check_usable()
        pending = None
        if "id" in message:
            pending = _Pending()
            with self._lock:
                self._pending[message["id"]] = pending  # type: ignore[index]
        try:
            socket.send_fds(self._sock, [json.dumps(message).encode()], list(fds))
        except OSError as error:
            raise SandboxError(f"the sandbox session is broken: {error}") from error
        return pending

    def _request(self, message: dict[str, object], fds: Sequence[int] = (), timeout: float = 300.0) -> dict:
        pending = self._send({**message, "id": next(self._ids)}, fds)
        assert pending is not None
        if not pending.event.wait(timeout):
            raise SandboxError(f"the sandbox did not answer {message['op']!r} within {timeout:.0f} s")
        if pending.reply.get("op") == "error":
            raise SandboxError(f"sandbox {message['op']} failed: {pending.reply.get('error')}")
        return pending.reply

    def _spawn(self, argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> tuple[int, _Pending, list[int]]:
        """Start ``argv`` in a ready nested sandbox; return its id, its pending end, and its pipes.

        The pipes are the command's stdin (write end), stdout and stderr (read ends), and the pipe
        its exit status arrives on; the caller closes them.

        Raises:
            SandboxError: The session is closed or broken, or the command cannot be expressed.
        """
        if not argv:
            raise SandboxError("sandbox exec: the command is empty")
        script = launch_script(argv, cwd, env)
        pending = _Pending()
        stub_id, fds, waited = self._take_ready_stub()
        with self._lock:
            self._pending[("stub", stub_id)] = pending
        try:
            self._send({"op": "claim", "stub": stub_id, "waited": waited})
        except SandboxError:
            _close_all(fds)
            raise
        try:
            _write_all(fds[0], script)
        except OSError:
            pass  # the stub died (reset, limits); its exit status tells the rest
        return stub_id, pending, fds

    def _take_ready_stub(self) -> tuple[int, list[int], bool]:
        """Take a stub whose shell has announced it is ready (``r`` on its status pipe).

        Returns:
            The stub id, its pipes, and whether we had to wait for one (the supervisor then
            keeps more stubs ready).

        Raises:
            SandboxError: The session is closed or broken, or no stub got ready in time.
        """
        deadline = time.monotonic() + START_SECONDS
        waited = False
        while True:
            with self._lock:
                self._check_usable()
                if not self._stubs:
                    waited = True
                    self._stub_ready.wait(max(0.0, min(0.05, deadline - time.monotonic())))
                    self._check_usable()
                by_status = {pipes[3]: stub_id for stub_id, pipes in self._stubs.items()}
                if by_status:
                    # Waiting briefly while holding the lock only delays stubs being queued.
                    ready, _, _ = select.select(list(by_status), [], [], 0.0 if not waited else 0.002)
                    for stub_id in sorted(by_status[fd] for fd in ready):
                        pipes = self._stubs.pop(stub_id)
                        if os.read(pipes[3], 2) == b"r\n":
                            return stub_id, pipes, waited
                        _close_all(pipes)  # it died before getting ready
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox had no process ready within {START_SECONDS:.0f} s")
            waited = True

    def _kill(self, spawn_id: int) -> None:
        try:
            self._send({"op": "kill", "target": spawn_id})
        except SandboxError:
            pass

    # -- Session API ---------------------------------------------------------------------------
    def exec(
        self,
        command: str | Sequence[str],
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run a command in a fresh PID namespace of this sandbox (see :meth:`Session.exec`).

        Raises:
            SandboxError: The session is closed or broken.
        """
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        timeout = self.limits.wall_seconds if timeout is None else timeout
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        began = time.monotonic()
        pumped, exit_code, timed_out, error, limit = self._run(
            argv, timeout, data, cwd or self.spec.workdir, env or {}, self.limits.output_bytes
        )
        stdout = pumped.stdout.decode("utf-8", "replace")
        stderr = pumped.stderr.decode("utf-8", "replace") + (f"{error}\n" if error else "")
        return ExecResult(
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            truncated=pumped.truncated,
            seconds=time.monotonic() - began,
            limit=limit or classify_limit(exit_code, stderr, timed_out, pumped.truncated, pumped.flooded),
        )

    def _run(
        self, argv: Sequence[str], timeout: float, data: bytes, cwd: str, env: Mapping[str, str], keep: int
    ) -> tuple[Pumped, int, bool, str, LimitHit | None]:
        """Run ``argv`` to completion: output, exit code, timed out, a start error, a limit the supervisor hit."""
        began = time.monotonic()
        spawn_id, pending, (in_w, out_r, err_r, status_r) = self._spawn(argv, cwd, env)
        status: int | None = None
        try:
            pumped = pump(out_r, err_r, in_w, data, began + timeout, keep, end_fd=status_r)
            timed_out = pumped.deadline_hit
            if pumped.end is None and not timed_out and not pumped.flooded:
                # The output closed before the status came (the command closed its streams).
                status, timed_out = _read_status(status_r, began + timeout)
            elif pumped.end is not None and pumped.end.strip().isdigit():
                status = int(pumped.end)
            if timed_out or pumped.flooded or status is None:
                self._kill(spawn_id)
                if not pending.event.wait(KILL_SECONDS):
                    raise SandboxError(
                        f"the sandbox did not stop command {list(argv[:3])!r} within {KILL_SECONDS:.0f} s"
                    )
                drain((out_r, err_r), 1.0)
        finally:
            for fd in (out_r, err_r, status_r):
                os.close(fd)
        if status is not None:
            return pumped, status, False, "", None
        reply = pending.reply
        if reply.get("op") == "error":
            raise SandboxError(f"sandbox command failed to run: {reply.get('error')}")
        limit = reply.get("limit")
        code = int(reply["code"])  # type: ignore[arg-type]
        return pumped, code, timed_out, str(reply.get("error") or ""), limit  # type: ignore[return-value]

    def write_file(self, path: str, data: str | bytes) -> None:
        """Create or replace the file at ``path`` (parents are created).

        Raises:
            SandboxError: The file could not be written (read-only place, disk full, closed session).
        """
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        result = self.exec(["/bin/sh", "-c", script, "sh", path], stdin=data, timeout=max(self.limits.wall_seconds, 60))
        if not result.ok:
            raise SandboxError(f"cannot write {path!r} in the sandbox: {result.stderr.strip()}")

    def read_file(self, path: str) -> bytes:
        """Return the content of the file at ``path`` (at most ``limits.file_size_bytes``).

        Raises:
            FileNotFoundError: No such file.
            SandboxError: It cannot be read (a directory, no permission, closed session).
        """
        script = 'test -e "$1" || exit 44; exec cat -- "$1"'
        pumped, exit_code, timed_out, error, _limit = self._run(
            ["/bin/sh", "-c", script, "sh", path], 60.0, b"", self.spec.workdir, {}, self.limits.file_size_bytes
        )
        if exit_code == 44:
            raise FileNotFoundError(path)
        if exit_code != 0 or timed_out or pumped.truncated:
            reason = pumped.stderr.decode(errors="replace").strip() or error or f"exit status {exit_code}"
            raise SandboxError(f"cannot read {path!r} in the sandbox: {reason}")
        return pumped.stdout

    def reset(self) -> None:
        """Kill every process (interactive ones too) and restore the file system to right after setup."""
        for interpreter in self._interactive:
            interpreter.close()
        self._interactive.clear()
        self._request({"op": "reset"})

    def changes(self) -> list[FileChange]:
        """The paths under the work dir, ``/tmp`` (and ``/`` if writable) that differ from setup, sorted."""
        read_end, write_end = os.pipe()
        try:
            pending = self._send({"op": "changes", "id": next(self._ids)}, (write_end,))
        finally:
            os.close(write_end)
        with os.fdopen(read_end, "rb") as reply_pipe:
            data = reply_pipe.read()
        assert pending is not None
        pending.event.wait(60)
        if pending.reply.get("op") == "error":
            raise SandboxError(f"sandbox changes failed: {pending.reply.get('error')}")
        return [FileChange(path, kind) for path, kind in json.loads(data or b"[]")]

    def _start_interpreter(self, argv: Sequence[str]) -> Channel:
        spawn_id, _pending, (in_w, out_r, err_r, status_r) = self._spawn(argv, self.spec.workdir, {})
        os.close(status_r)
        return Channel(stdin=in_w, stdout=out_r, stderr=err_r, kill=functools.partial(self._kill, spawn_id))

    def shell(self) -> InteractiveSession:
        """Start a persistent ``bash`` that keeps cwd and variables across ``run`` calls."""
        session = InterpreterSession(
            self._start_interpreter, ShellDialect(), self.limits.output_bytes, self.limits.wall_seconds
        )
        self._interactive.append(session)
        return session

    def python(self) -> InteractiveSession:
        """Start a persistent Python REPL (the sandbox's ``python3``) that keeps its globals."""
        session = InterpreterSession(
            self._start_interpreter, PythonDialect(), self.limits.output_bytes, self.limits.wall_seconds
        )
        self._interactive.append(session)
        return session

    def close(self) -> None:
        """Kill everything and remove the sandbox; closing twice is harmless."""
        if self._closed:
            return
        for interpreter in self._interactive:
            interpreter.close()
        with self._lock:
            self._closed = True
            for fds in self._stubs.values():
                _close_all(fds)
            self._stubs.clear()
            self._stub_ready.notify_all()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            self._holder.wait(KILL_SECONDS)
        except subprocess.TimeoutExpired:
            self._holder.send_signal(signal.SIGKILL)
            self._holder.wait()
        if self._holder.stderr is not None:
            self._holder.stderr.close()
        self._remove_mount_point()

    def _remove_mount_point(self) -> None:
        if self._mount_point is not None:
            try:
                os.rmdir(self._mount_point)  # empty here: the tree was bound only in the holder's namespace
            except OSError:
                pass
            self._mount_point = None
