"""The ``docker`` sandbox backend: one container per session, on any Docker engine.

Each session is a container of the project's image (``lemur/sandbox:bookworm``, built offline
by ``lemur envs build-image`` / ``tools/build_base_image.sh``), started with no network, a
read-only root, every capability dropped, ``no-new-privileges``, user 1000, a pids limit, a
memory cgroup limit, and size-limited tmpfs mounts for the work directory and ``/tmp`` (the
only writable areas). ``DOCKER_HOST`` is honoured (``docker.from_env()``), so sessions can run
on a remote engine; ``spec.mounts`` then name paths on that engine's machine.

Every command runs under a small supervisor inside the container (``_docker_inside.py``):
per-process limits (CPU seconds, address space, file size), its own session, the wall-clock
timeout, and afterwards a sweep that kills whatever it left behind (daemonized children
included). The container's PID 1 is an init that reaps orphans and cannot be killed from
inside. The host also enforces the timeout and the output cap, so a supervisor that the
command stopped or killed cannot hold a session.

``reset()`` restores a tar of the writable areas taken right after ``spec.setup`` (kept on
the host, out of the sandbox's reach); ``changes()`` compares a manifest (type, mode, size,
SHA-256) with the one taken then.
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

from lemur.envs.sandbox._docker_server import CommandServer, Served
from lemur.envs.sandbox._docker_stream import Pumped, bridge, pump_exec
from lemur.envs.sandbox.base import (
    ExecResult,
    FileChange,
    InteractiveSession,
    LimitHit,
    MiB,
    SandboxBackend,
    SandboxError,
    SandboxSpec,
    SandboxUnavailableError,
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
#: Size of ``/tmp`` as a fraction of ``limits.disk_bytes``.
TMP_FRACTION = 4
SHM_BYTES = 64 * MiB
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL = "lemur.sandbox"

_INSIDE_SOURCE = Path(__file__).with_name("_docker_inside.py").read_text()
_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")

HOW_TO_START = (
    "start one with 'sudo dockerd &' or 'sudo systemctl start docker', "
    "or point DOCKER_HOST at a remote engine (e.g. DOCKER_HOST=ssh://user@host)"
)


def docker_client() -> Any:
    """A Docker client from the environment (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ...), pinged.

    Raises:
        MissingDependencyError: The ``docker`` package is not installed.
        SandboxUnavailableError: No daemon answers; the message says how to start one.
    """
    from lemur.core.errors import MissingDependencyError

    try:
        import docker
    except ImportError as error:
        raise MissingDependencyError("sandbox backend 'docker'", "docker", "lemur-envs[docker]") from error
    import os

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise SandboxUnavailableError(f"no Docker daemon answers at {where} ({reason}); {HOW_TO_START}") from error
    return client


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


class DockerBackend(SandboxBackend):
    """Sandboxes as Docker containers (see the module docstring for what each session gets)."""

    name = "docker"

    def __init__(self) -> None:
        self._client: Any = None

    def client(self) -> Any:
        """The Docker client, created (and pinged) on first use.

        Raises:
            SandboxUnavailableError: No daemon answers.
        """
        if self._client is None:
            self._client = docker_client()
        return self._client

    def check_available(self) -> None:
        """Return if a Docker daemon answers and the default image exists.

        Raises:
            SandboxUnavailableError: No daemon, or no image; the message says how to fix it.
        """
        self._image(self.client(), DEFAULT_IMAGE)

    @staticmethod
    def _image(client: Any, image: str) -> None:
        import docker.errors

        try:
            client.images.get(image)
        except docker.errors.ImageNotFound as error:
            hint = (
                "build it with 'lemur envs build-image' (or tools/build_base_image.sh)"
                if image == DEFAULT_IMAGE
                else "build or pull it first"
            )
            raise SandboxUnavailableError(f"docker image {image!r} not found; {hint}") from error

    def open(self, spec: SandboxSpec) -> DockerSession:
        """Start a container for ``spec``, run its setup and snapshot the writable areas.

        Raises:
            SandboxUnavailableError: No daemon, or the image is missing.
            SandboxError: The container did not start, or a setup command failed (the message
                has its output).
        """
        client = self.client()
        image = spec.image or DEFAULT_IMAGE
        self._image(client, image)
        try:
            container = client.containers.run(image, **container_options(spec))
        except Exception as error:
            message = str(error).replace("\n", " ")[:300]
            raise SandboxError(f"could not start a container of image {image!r}: {message}") from error
        session = DockerSession(client, container, spec)
        try:
            session.prepare()
        except BaseException:
            session.close()
            raise
        return session


def container_options(spec: SandboxSpec) -> dict[str, Any]:
    """The ``containers.run`` keyword arguments that realise ``spec``'s isolation and limits."""
    from docker.types import Mount, Ulimit

    limits = spec.limits
    tmp_bytes = max(limits.disk_bytes // TMP_FRACTION, 16 * MiB)
    tmpfs_flags = "exec,nosuid,nodev,uid=1000,gid=1000"
    return {
        "command": inside("init", {}),
        "detach": True,
        "user": SANDBOX_USER,
        "working_dir": spec.workdir,
        "environment": {"PATH": PATH, "HOME": spec.workdir},
        "network_mode": "bridge" if spec.network else "none",
        "read_only": True,
        "tmpfs": {
            spec.workdir: f"size={limits.disk_bytes},mode=0755,{tmpfs_flags}",
            "/tmp": f"size={tmp_bytes},mode=1777,{tmpfs_flags}",
        },
        "shm_size": SHM_BYTES,
        # tmpfs pages are charged to the container's memory: room for them on top of the processes.
        "mem_limit": limits.memory_bytes + limits.disk_bytes + tmp_bytes + SHM_BYTES + 64 * MiB,
        "memswap_limit": limits.memory_bytes + limits.disk_bytes + tmp_bytes + SHM_BYTES + 64 * MiB,
        "pids_limit": limits.processes,
        "nano_cpus": 1_000_000_000,
        "ulimits": [
            Ulimit(name="cpu", soft=limits.cpu_seconds + 1, hard=limits.cpu_seconds + 1),
            Ulimit(name="fsize", soft=limits.file_size_bytes, hard=limits.file_size_bytes),
            Ulimit(name="core", soft=0, hard=0),
            Ulimit(name="nofile", soft=4096, hard=4096),
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mounts": [
            Mount(target=m.target, source=str(m.source), type="bind", read_only=m.read_only) for m in spec.mounts
        ],
        "hostname": "sandbox",
        "labels": {LABEL: "docker"},
    }


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
        """Kill every process but init and the live interpreters."""
        exec_id, sock = self._start(inside("sweep", {"protect": sorted(self._interpreters)}), stdin=False)
        pump_exec(sock, b"", time.monotonic() + 30.0, limit=4096)

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
                    return _served_result(served, limit, time.monotonic() - began)
            exec_id, sock = self._start(inside("run", config))
            pumped = pump_exec(
                sock,
                data,
                deadline,
                limit,
                flood_at=flood_threshold(limit),
                on_flood=self._sweep,
            )
            report = _find_report(pumped, nonce)
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
        return _result(pumped, report, nonce, limit, seconds)

    def _exec_served(self, config: dict[str, Any], data: bytes, deadline: float) -> Served | None:
        """Run through the session's command server; None if this image cannot run one."""
        limit = self.spec.limits.output_bytes
        config = {**config, "output_limit": limit, "flood_at": flood_threshold(limit)}
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
            code, _out, err = self._raw(["sh", "-c", script, "sh", target], stdin=payload)
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
            code, out, err = self._raw(["cat", "--", target])
        if code != 0:
            message = err.decode("utf-8", "replace").strip()
            if "No such file" in message:
                raise FileNotFoundError(target)
            raise SandboxError(f"cannot read {target} in the sandbox: {message}")
        return out

    def _absolute(self, path: str) -> str:
        return path if path.startswith("/") else self.spec.workdir.rstrip("/") + "/" + path

    # -- file system state ---------------------------------------------------------------------
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
            if self._server is not None:
                self._server.close()
                self._server = None
            code, _out, err = self._raw(inside("restore", {"areas": self.areas}), stdin=self._snapshot)
        if code != 0:
            raise SandboxError(f"reset failed: {err.decode('utf-8', 'replace').strip()[-300:]}")

    def _read_manifest(self) -> dict[str, dict[str, Any]]:
        code, out, err = self._raw(inside("manifest", {"areas": self.areas}))
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
                    exec_id, kill_sock = self._start(inside("kill_tree", {"roots": [pipes.pid]}), stdin=False)
                    pump_exec(kill_sock, b"", time.monotonic() + 30.0, limit=4096)

        self._interpreters[pipes.pid] = kill
        return Channel(stdin=pipes.stdin, stdout=pipes.stdout, stderr=pipes.stderr, kill=kill)


def diff_manifests(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> list[FileChange]:
    """Compare two manifests (path -> entry) and return the changes sorted by path, then kind."""
    changes: list[tuple[str, str]] = []
    for path in before.keys() | after.keys():
        old, new = before.get(path), after.get(path)
        if new is None:
            changes.append((path, "deleted"))
        elif old is None:
            changes.append((path, "added"))
        elif old["type"] != new["type"]:
            changes += [(path, "deleted"), (path, "added")]
        elif new["type"] == "file" and _file_changed(old, new):
            changes.append((path, "modified"))
        elif new["type"] == "link" and old.get("target") != new.get("target"):
            changes.append((path, "modified"))
    return [FileChange(path, kind) for path, kind in sorted(changes)]  # type: ignore[arg-type]


def _file_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    if old["mode"] != new["mode"] or old["size"] != new["size"]:
        return True
    if old.get("sha256") and new.get("sha256"):
        return old["sha256"] != new["sha256"]
    return old["mtime"] != new["mtime"]


def _find_report(pumped: Pumped, nonce: str) -> dict[str, Any] | None:
    tail = pumped.stderr_tail
    index = tail.rfind(nonce.encode())
    if index < 0:
        return None
    try:
        return json.loads(tail[index + len(nonce) :].decode())
    except ValueError:
        return None


def _result(pumped: Pumped, report: Mapping[str, Any], nonce: str, limit: int, seconds: float) -> ExecResult:
    """Assemble the ExecResult of a direct exec: strip the status line, then apply the cap."""
    marker = b""
    index = pumped.stderr_tail.rfind(nonce.encode())
    if index >= 0:
        marker = pumped.stderr_tail[index:]
    stderr_total = pumped.stderr_total - len(marker)
    stderr = pumped.stderr[: min(stderr_total, limit)]
    return _assemble(pumped.stdout, stderr, pumped.stdout_total, stderr_total, pumped.flooded, report, limit, seconds)


def _served_result(served: Served, limit: int, seconds: float) -> ExecResult:
    """Assemble the ExecResult of a command run by the command server."""
    report = served.report
    if report is None:
        report = {
            "exit_code": 137,
            "timed_out": served.deadline_hit,
            "limit": "wall_time" if served.deadline_hit else None,
        }
    return _assemble(
        served.stdout,
        served.stderr,
        int(report.get("stdout_total", len(served.stdout))),
        int(report.get("stderr_total", len(served.stderr))),
        bool(report.get("flooded", False)),
        report,
        limit,
        seconds,
    )


def _assemble(
    stdout: bytes,
    stderr: bytes,
    stdout_total: int,
    stderr_total: int,
    flooded: bool,
    report: Mapping[str, Any],
    limit: int,
    seconds: float,
) -> ExecResult:
    """Apply the output cap and name the limit (from the report, else from the output)."""
    stdout = stdout[:limit]
    stderr = stderr[:limit]
    truncated = stdout_total > limit or stderr_total > limit
    stderr_text = stderr.decode("utf-8", "replace")
    exit_code = int(report["exit_code"])
    timed_out = bool(report["timed_out"])
    hit: LimitHit | None = report.get("limit")
    if hit is None and flooded:
        hit = "output"
    if hit is None and exit_code != 0:
        if any(marker_text in stderr_text for marker_text in _MEMORY_MARKERS):
            hit = "memory"
        elif "No space left on device" in stderr_text:
            hit = "disk"
        elif "File too large" in stderr_text:
            hit = "file_size"
        elif "fork" in stderr_text.lower() and "Resource temporarily unavailable" in stderr_text:
            hit = "processes"
    if hit is None and truncated:
        hit = "output"
    return ExecResult(
        exit_code=exit_code,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr_text,
        timed_out=timed_out,
        truncated=truncated or flooded,
        seconds=seconds,
        limit=hit,
    )
