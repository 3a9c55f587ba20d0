"""One docker sandbox session: a container, its command server, snapshot and interpreters.

Commands go through the in-container command server (``_docker_server``); where the image's
Python cannot run it, or to clean up after a command killed it, a ``docker exec`` of the
supervisor (``_docker_inside.py run``/``sweep``) does the same job at ~100 ms a call.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lemur.envs.sandbox._docker_results import diff_manifests, direct_result, find_report, served_result
from lemur.envs.sandbox._docker_server import CommandServer, Served
from lemur.envs.sandbox._docker_stream import bridge, pump_exec
from lemur.envs.sandbox.base import (
    ExecResult,
    FileChange,
    InteractiveSession,
    MiB,
    SandboxError,
    SandboxSpec,
    Session,
)

#: The image sessions use when ``spec.image`` is None.
DEFAULT_IMAGE = "lemur/sandbox:bookworm"
#: Numeric user and group every command runs as (the image's ``sandbox`` user).
SANDBOX_USER = "1000:1000"
#: Extra seconds the host waits past a timeout for the in-container supervisor to report.
HOST_GRACE_SECONDS = 3.0
#: Seconds ``open`` allows each ``spec.setup`` command at least.
SETUP_SECONDS = 120.0
#: Seconds an interpreter may take to start.
BOOT_SECONDS = 20.0
#: Output past ``FLOOD_FACTOR`` times the cap (and at least ``FLOOD_MINIMUM`` over it) kills the command.
FLOOD_FACTOR = 4
FLOOD_MINIMUM = 4 * MiB
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_INSIDE_SOURCE = Path(__file__).with_name("_docker_inside.py").read_text()


def inside(mode: str, config: Mapping[str, Any]) -> list[str]:
    """The argv that runs ``_docker_inside.py`` in ``mode`` with ``config`` inside a container."""
    return ["python3", "-I", "-S", "-c", _INSIDE_SOURCE, mode, json.dumps(config)]


def rlimits(spec: SandboxSpec) -> dict[str, list[int]]:
    """Per-process limits: CPU (SIGXCPU at the soft limit), address space, file size, no core dumps."""
    limits = spec.limits
    return {
        "RLIMIT_CPU": [limits.cpu_seconds, limits.cpu_seconds + 1],
        "RLIMIT_AS": [limits.memory_bytes, limits.memory_bytes],
        "RLIMIT_FSIZE": [limits.file_size_bytes, limits.file_size_bytes],
        "RLIMIT_CORE": [0, 0],
    }


def flood_threshold(limit: int) -> int:
    """Total output bytes (both streams) after which a command is killed for flooding."""
    return max(limit * FLOOD_FACTOR, limit + FLOOD_MINIMUM)


def _remove(client: Any, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True)
    except Exception:  # noqa: BLE001 - already gone, or the daemon went away: nothing left to do
        pass


class DockerSession(Session):
    """An open docker sandbox: one container. Use as a context manager, or call :meth:`close`."""

    def __init__(self, client: Any, container: Any, spec: SandboxSpec) -> None:
        self.client = client
        self.container = container
        self.spec = spec
        self.areas = [spec.workdir, "/tmp"]
        self._lock = threading.RLock()
        self._closed = False
        #: Kill functions of the live interpreters, by their pid inside the container.
        self._interpreters: dict[int, Callable[[], None]] = {}
        self._snapshot = b""
        #: The command server (one long-lived exec); ``_serve`` turns False if the image cannot run it.
        self._server: CommandServer | None = None
        self._serve = True
        self._manifest: dict[str, dict[str, Any]] = {}
        self._finalizer = weakref.finalize(self, _remove, client, container.id)

    # -- lifecycle -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check the container runs, run ``spec.setup``, and snapshot the writable areas.

        Raises:
            SandboxError: The container exited, or a setup command failed.
        """
        self.container.reload()
        if self.container.status != "running":
            logs = self.container.logs().decode("utf-8", "replace").strip().replace("\n", " | ")[-300:]
            raise SandboxError(
                f"container of image {self.spec.image or DEFAULT_IMAGE!r} exited at start "
                f"(the image needs python3 and sh): {logs}"
            )
        for command in self.spec.setup:
            result = self.exec(command, timeout=max(SETUP_SECONDS, self.spec.limits.wall_seconds))
            if not result.ok:
                output = (result.stderr or result.stdout).strip().replace("\n", " | ")[-500:]
                raise SandboxError(
                    f"setup command {command!r} failed (exit {result.exit_code}"
                    f"{', timed out' if result.timed_out else ''}): {output}"
                )
        self._take_snapshot()

    def _take_snapshot(self) -> None:
        members = [area.lstrip("/") for area in self.areas]
        code, tar, err = self._raw(["tar", "-c", "-f", "-", "-C", "/", *members])
        if code != 0:
            raise SandboxError(f"could not snapshot the writable areas: {err.decode('utf-8', 'replace').strip()}")
        self._snapshot = tar
        self._manifest = self._read_manifest()

    def close(self) -> None:
        """Kill everything and remove the container; closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._server is not None:
                self._server.close()
            # Only kill: each interpreter's owner closes its own pipes when it sees them end.
            for kill in list(self._interpreters.values()):
                kill()
            self._interpreters.clear()
            self._finalizer()

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the docker sandbox session is closed")

    # -- running commands ----------------------------------------------------------------------
    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"PATH": PATH, "HOME": self.spec.workdir, "LANG": "C.UTF-8", **self.spec.env, **(extra or {})}

    def _start(self, argv: Sequence[str], stdin: bool = True) -> tuple[str, Any]:
        try:
            exec_id = self.client.api.exec_create(
                self.container.id, list(argv), stdin=stdin, stdout=True, stderr=True, user=SANDBOX_USER
            )["Id"]
            return exec_id, self.client.api.exec_start(exec_id, socket=True)
        except Exception as error:
            raise SandboxError(f"docker exec failed in container {self.container.short_id}: {error}") from error

    def _exit_code(self, exec_id: str) -> int:
        for _ in range(200):
            info = self.client.api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.005)
        return 137

    def _raw(self, argv: Sequence[str], stdin: bytes = b"", timeout: float = 120.0) -> tuple[int, bytes, bytes]:
        """Run ``argv`` without the supervisor (trusted helpers); return exit code, stdout, stderr."""
        exec_id, sock = self._start(argv)
        pumped = pump_exec(sock, stdin, time.monotonic() + timeout, limit=None)
        if pumped.deadline_hit:
            self._sweep()
            return 137, pumped.stdout, pumped.stderr
        return self._exit_code(exec_id), pumped.stdout, pumped.stderr

    def _sweep(self) -> None:
        """Kill every process but init and the live interpreters, from a fresh ``docker exec``.

        Retried a few times: while a fork bomb holds every pid, the exec itself may fail to start.

        Raises:
            SandboxError: The exec never started.
        """
        for attempt in range(5):
            try:
                _exec_id, sock = self._start(inside("sweep", {"protect": sorted(self._interpreters)}), stdin=False)
            except SandboxError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
                continue
            pump_exec(sock, b"", time.monotonic() + 30.0, limit=4096)
            return

    def exec(
        self,
        command: str | Sequence[str],
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run a command to completion (see :meth:`Session.exec`); output is capped per stream.

        Raises:
            SandboxError: The session is closed or the container is gone.
        """
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        timeout = self.spec.limits.wall_seconds if timeout is None else float(timeout)
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        limit = self.spec.limits.output_bytes
        nonce = "\n__LEMUR_STATUS_" + secrets.token_hex(8) + "__"
        config = {
            "argv": argv,
            "cwd": cwd or self.spec.workdir,
            "env": self._env(env),
            "timeout": timeout,
            "limits": rlimits(self.spec),
            "protect": sorted(self._interpreters),
            "nonce": nonce,
            "areas": self.areas,
        }
        with self._lock:
            self._check_open()
            began = time.monotonic()
            deadline = began + timeout + HOST_GRACE_SECONDS
            if self._serve:
                served = self._exec_served(config, data, deadline)
                if served is not None:
                    return served_result(served, limit, time.monotonic() - began)
            exec_id, sock = self._start(inside("run", config))
            pumped = pump_exec(
                sock,
                data,
                deadline,
                limit,
                flood_at=flood_threshold(limit),
                on_flood=self._sweep,
            )
            report = find_report(pumped, nonce)
            if report is None:
                # The supervisor was killed or stopped: clean up from outside.
                self._sweep()
                exit_code = 137 if pumped.deadline_hit else self._exit_code(exec_id)
                report = {
                    "exit_code": exit_code,
                    "timed_out": pumped.deadline_hit,
                    "limit": "wall_time" if pumped.deadline_hit else None,
                }
            seconds = time.monotonic() - began
        return direct_result(pumped, report, nonce, limit, seconds)

    def _exec_served(self, config: dict[str, Any], data: bytes, deadline: float) -> Served | None:
        """Run through the session's command server; None if this image cannot run one."""
        limit = self.spec.limits.output_bytes
        config = {**config, "output_limit": limit, "flood_at": flood_threshold(limit)}
        return self._served(config, data, deadline)

    def _served(self, config: dict[str, Any], data: bytes, deadline: float) -> Served | None:
        for _attempt in range(2):
            if self._server is None or not self._server.alive:
                _exec_id, sock = self._start(inside("serve", {}))
                self._server = CommandServer(sock)
            served = self._server.run(config, data, deadline)
            if served.report is not None:
                return served
            self._server = None
            if served.started or served.deadline_hit:
                # The command killed or stopped its server: clean up from outside.
                self._sweep()
                return served
            # The server had already ended (killed from an interpreter, or by reset): retry once.
        self._serve = False
        return None

    def write_file(self, path: str, data: str | bytes) -> None:
        """Create or replace the file at ``path`` (relative paths are under the work directory).

        Raises:
            SandboxError: The session is closed, or the file cannot be written there.
        """
        target = self._absolute(path)
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        with self._lock:
            self._check_open()
            payload = data.encode() if isinstance(data, str) else data
            code, _out, err = self._helper(
                "write", {"path": target}, payload, fallback=["sh", "-c", script, "sh", target]
            )
        if code != 0:
            raise SandboxError(f"cannot write {target} in the sandbox: {err.decode('utf-8', 'replace').strip()}")

    def read_file(self, path: str) -> bytes:
        """Return the content of the file at ``path`` (relative paths are under the work directory).

        Raises:
            FileNotFoundError: No such file.
            SandboxError: The session is closed, or the path cannot be read.
        """
        target = self._absolute(path)
        with self._lock:
            self._check_open()
            code, out, err = self._helper("read", {"path": target}, fallback=["cat", "--", target])
        if code != 0:
            message = err.decode("utf-8", "replace").strip()
            if "No such file" in message:
                raise FileNotFoundError(target)
            raise SandboxError(f"cannot read {target} in the sandbox: {message}")
        return out

    def _absolute(self, path: str) -> str:
        return path if path.startswith("/") else self.spec.workdir.rstrip("/") + "/" + path

    # -- file system state ---------------------------------------------------------------------
    def _helper(
        self, op: str, config: dict[str, Any], data: bytes = b"", fallback: Sequence[str] | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run a trusted operation (``restore``, ``manifest``, ``read``, ``write``) in the server.

        Without a server, ``fallback`` (or ``_docker_inside.py <op>``) runs by ``docker exec``.
        Returns the exit code, stdout and stderr.
        """
        if self._serve:
            served = self._served({**config, "op": op}, data, time.monotonic() + 120.0)
            if served is not None and served.report is not None:
                return int(served.report["exit_code"]), served.stdout, served.stderr
        return self._raw(fallback or inside(op, config), stdin=data)

    def reset(self) -> None:
        """Kill every process (interpreters too) and restore the writable areas to the snapshot.

        Raises:
            SandboxError: The session is closed, or the restore failed.
        """
        with self._lock:
            self._check_open()
            for kill in list(self._interpreters.values()):
                kill()
            self._interpreters.clear()
            code, _out, err = self._helper("restore", {"areas": self.areas}, self._snapshot)
        if code != 0:
            raise SandboxError(f"reset failed: {err.decode('utf-8', 'replace').strip()[-300:]}")

    def _read_manifest(self) -> dict[str, dict[str, Any]]:
        code, out, err = self._helper("manifest", {"areas": self.areas})
        if code != 0:
            raise SandboxError(f"cannot list the writable areas: {err.decode('utf-8', 'replace').strip()[-300:]}")
        return {entry["path"]: entry for entry in json.loads(out)}

    def changes(self) -> list[FileChange]:
        """The paths under the work directory and ``/tmp`` that differ from the snapshot, sorted.

        Directories are reported when added or deleted; a file is modified when its content,
        mode or type changed (a new mtime alone is not a change).

        Raises:
            SandboxError: The session is closed.
        """
        with self._lock:
            self._check_open()
            now = self._read_manifest()
        return diff_manifests(self._manifest, now)

    # -- interactive interpreters --------------------------------------------------------------
    def shell(self) -> InteractiveSession:
        """Start a persistent ``bash`` that keeps cwd and variables across ``run`` calls.

        Raises:
            SandboxError: The session is closed or bash does not start.
        """
        from lemur.envs.sandbox.interactive import ShellDialect

        return self._interpreter(ShellDialect())

    def python(self) -> InteractiveSession:
        """Start a persistent Python REPL that keeps its globals across cells.

        Raises:
            SandboxError: The session is closed or the REPL does not start.
        """
        from lemur.envs.sandbox.interactive import PythonDialect

        return self._interpreter(PythonDialect("python3"))

    def _interpreter(self, dialect: Any) -> InteractiveSession:
        from lemur.envs.sandbox.interactive import InterpreterSession

        self._check_open()
        return InterpreterSession(
            self._spawn, dialect, self.spec.limits.output_bytes, default_timeout=self.spec.limits.wall_seconds
        )

    def _spawn(self, argv: Sequence[str]) -> Any:
        """Start ``argv`` as a protected interpreter and return a channel of plain pipes to it."""
        from lemur.envs.sandbox.interactive import Channel

        config = {"argv": list(argv), "cwd": self.spec.workdir, "env": self._env(), "limits": rlimits(self.spec)}
        with self._lock:
            self._check_open()
            _exec_id, sock = self._start(inside("spawn", config))
            try:
                pipes = bridge(sock, BOOT_SECONDS)
            except TimeoutError as error:
                raise SandboxError(f"interpreter {argv[0]!r} did not start in the sandbox") from error
        killed = threading.Event()

        def kill() -> None:
            if killed.is_set():
                return
            killed.set()
            with self._lock:
                self._interpreters.pop(pipes.pid, None)
                if not self._closed:
                    self._helper("kill_tree", {"roots": [pipes.pid]})

        self._interpreters[pipes.pid] = kill
        return Channel(stdin=pipes.stdin, stdout=pipes.stdout, stderr=pipes.stderr, kill=kill)
