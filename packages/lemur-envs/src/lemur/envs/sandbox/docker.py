"""The ``docker`` sandbox backend: one container per session, on any Docker engine.

Each session is a container of the project's image (``lemur/sandbox:bookworm``, built offline
by ``lemur envs build-image`` / ``tools/build_base_image.sh``), started with no network, a
read-only root, every capability dropped, ``no-new-privileges``, user 1000, a pids limit, a
memory cgroup limit, and size-limited tmpfs mounts for the work directory and ``/tmp`` (the
only writable areas). ``DOCKER_HOST`` is honoured (``docker.from_env()``), so sessions can run
on a remote engine; ``spec.mounts`` then name paths on that engine's machine.

Commands run inside the container under a small supervisor (``_docker_inside.py``), normally
the session's long-lived command server (a command costs a fork, not a ``docker exec``):
per-process limits (CPU seconds, address space, file size), its own session, the wall-clock
timeout, the output cap, and afterwards a sweep that kills whatever it left behind
(daemonized children included). The container's PID 1 is an init that reaps orphans and
cannot be killed from inside. The host enforces the timeout too, so a command that kills or
stops its supervisor cannot hold a session. The session itself lives in ``_docker_session``.

``reset()`` restores a tar of the writable areas taken right after ``spec.setup`` (kept on
the host, out of the sandbox's reach); ``changes()`` compares a manifest (type, mode, size,
SHA-256) with the one taken then.
"""

from __future__ import annotations

import os
from typing import Any

from lemur.envs.sandbox._docker_session import DEFAULT_IMAGE, PATH, SANDBOX_USER, DockerSession, inside
from lemur.envs.sandbox.base import MiB, SandboxBackend, SandboxError, SandboxSpec, SandboxUnavailableError

__all__ = ["DEFAULT_IMAGE", "LABEL", "DockerBackend", "DockerSession", "container_options", "docker_client"]

#: Size of ``/tmp`` as a fraction of ``limits.disk_bytes``.
TMP_FRACTION = 4
SHM_BYTES = 64 * MiB
#: Label on every container the backend starts (``docker ps --filter label=lemur.sandbox``).
LABEL = "lemur.sandbox"

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
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise SandboxUnavailableError(f"no Docker daemon answers at {where} ({reason}); {HOW_TO_START}") from error
    return client


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
            SandboxError: The spec asks for a writable root or a system root, the container did not start, or a
                setup command failed (the message has its output).
        """
        if spec.writable_root:
            raise SandboxError(
                "sandbox spec: writable_root=True is not supported by the docker backend "
                "(its root is read-only; only the work dir, /tmp and mounts are snapshot); use the local backend"
            )
        if spec.system_root is not None:
            raise SandboxError(
                f"sandbox spec: system_root {spec.system_root!r} is the local backend's; the docker backend "
                "takes an image instead"
            )
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
