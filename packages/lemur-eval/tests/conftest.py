"""Fixtures for lemur-eval's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def eval_test_plugin(plugin_manager, monkeypatch):
    """The runner-test plugin (``_lemur_eval_test_plugin``) plus lemur-eval's own plugin, in a fresh manager."""
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    import _lemur_eval_test_plugin

    import lemur.eval.plugin

    plugin_manager.register_plugin(lemur.eval.plugin, "lemur_eval")
    plugin_manager.register_plugin(_lemur_eval_test_plugin, "lemur-eval-test")
    return _lemur_eval_test_plugin


@pytest.fixture
def eval_cli(tmp_path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``lemur`` with the runner-test plugin in a subprocess: ``eval_cli("eval", "run", ...)``."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *cli_command(*args)], **cli_options(tmp_path), timeout=timeout)

    return run


def cli_command(*args: str) -> list[str]:
    """The argv (after the interpreter) that runs the test CLI."""
    return [str(TESTS / "_lemur_eval_cli.py"), *args]


def cli_options(cwd: Path) -> dict:
    """``subprocess`` keyword arguments for the test CLI: its PYTHONPATH, an isolated cache dir, text output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    env["LEMUR_CACHE_DIR"] = str(cwd / "lemur-cache")
    env.pop("LEMUR_CONFIG", None)
    return {"env": env, "cwd": cwd, "capture_output": True, "text": True, "check": False}
