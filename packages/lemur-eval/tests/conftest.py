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
def eval_test_plugin(plugin_manager, monkeypatch, tmp_path):
    """The runner-test plugin (``_lemur_eval_test_plugin``) plus lemur-eval's own plugin, in a fresh manager.

    The model-call cache defaults to a folder under ``tmp_path`` (never the user's).
    """
    monkeypatch.setenv("LEMUR_CACHE_DIR", str(tmp_path / "lemur-cache"))
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    import _lemur_eval_test_plugin

    import lemur.eval.plugin

    plugin_manager.register_plugin(lemur.eval.plugin, "lemur_eval")
    plugin_manager.register_plugin(_lemur_eval_test_plugin, "lemur-eval-test")
    return _lemur_eval_test_plugin


@pytest.fixture
def eval_cli(tmp_path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``lemur`` with the runner-test plugin in a subprocess in ``tmp_path``: ``eval_cli("eval", "run", ...)``.

    The subprocess gets its own model-call cache under ``tmp_path``.
    """

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
        env["LEMUR_CACHE_DIR"] = str(tmp_path / "lemur-cache")
        env.pop("LEMUR_CONFIG", None)
        return subprocess.run(
            [sys.executable, str(TESTS / "_lemur_eval_cli.py"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    return run
