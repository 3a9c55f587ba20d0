"""Fixtures shared by every test tree in the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def plugin_manager():
    """A fresh plugin manager with no plugins loaded, installed as the process-wide one for the test."""
    from lemur.core.plugins import build_plugin_manager, set_plugin_manager

    manager = build_plugin_manager(load_entry_points=False)
    set_plugin_manager(manager)
    yield manager
    set_plugin_manager(None)


@pytest.fixture
def run_lemur() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``lemur`` command in a subprocess: ``run_lemur("plugins", env={...})``."""
    executable = Path(sys.executable).parent / "lemur"

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        full_env.pop("LEMUR_CONFIG", None) if env is None or "LEMUR_CONFIG" not in env else None
        return subprocess.run(
            [str(executable), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
        )

    return run


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark data beside the repository (``../shared/data``); skips when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA
