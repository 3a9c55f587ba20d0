"""Fixtures for the sandbox tests: a ``backend`` fixture over every backend, and host-side probes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lemur.core.errors import UnknownComponentError
from lemur.envs.sandbox import SandboxBackend, SandboxUnavailableError, get_backend

BACKENDS = [pytest.param("local", id="local"), pytest.param("docker", id="docker", marks=pytest.mark.docker)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> SandboxBackend:
    """Each sandbox backend in turn; skips with the backend's own reason when it cannot run here."""
    try:
        chosen = get_backend(request.param)
    except UnknownComponentError as error:
        pytest.skip(f"sandbox backend {request.param!r} is not registered: {error}")
    try:
        chosen.check_available()
    except SandboxUnavailableError as error:
        pytest.skip(str(error))
    return chosen


@pytest.fixture
def local_backend() -> SandboxBackend:
    """The ``local`` backend; skips with its reason when bubblewrap cannot run here."""
    chosen = get_backend("local")
    try:
        chosen.check_available()
    except SandboxUnavailableError as error:
        pytest.skip(str(error))
    return chosen


def host_processes_matching(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of every host process whose command line contains ``marker``."""
    found = []
    own = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append((int(entry.name), cmdline.strip()))
    return found


@pytest.fixture
def leftovers() -> Callable[[str], list[tuple[int, str]]]:
    """``leftovers(marker)``: host processes still carrying ``marker`` after a short grace (up to 3 s)."""

    def find(marker: str) -> list[tuple[int, str]]:
        deadline = time.monotonic() + 3.0
        while True:
            found = host_processes_matching(marker)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    return find


@pytest.fixture
def processes_matching() -> Callable[[str], list[tuple[int, str]]]:
    """``processes_matching(marker)``: host processes whose command line contains ``marker``, now."""
    return host_processes_matching
