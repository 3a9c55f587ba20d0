"""Fixtures for lemur-eval's tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def _running(make_server: Callable[[int], Any], port: int = 0) -> Iterator[tuple[Any, str]]:
    """Run the uvicorn server ``make_server(port)`` in a thread on 127.0.0.1; yields it and its ``/v1`` URL."""
    from lemur.eval.serve import bind_socket

    sock = bind_socket("127.0.0.1", port)
    port = sock.getsockname()[1]
    server = make_server(port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.05)
    try:
        yield server, f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _serving(backend: Any, name: str = "tiny", port: int = 0, max_batch: int = 8):
    from lemur.eval.serve import build_server

    return _running(lambda bound: build_server(backend, name, "127.0.0.1", bound, max_batch=max_batch), port)


def _serving_app(app: Any):
    import uvicorn

    def make(port: int) -> Any:
        return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))

    return _running(make)


@pytest.fixture(scope="session")
def lemur_serve() -> Callable[..., contextlib.AbstractContextManager[tuple[Any, str]]]:
    """``with lemur_serve(backend, name="tiny", port=0, max_batch=8) as (server, url)``: `lemur serve`'s app over
    ``backend`` in a thread on 127.0.0.1 (``port`` 0: a free one); ``url`` ends in ``/v1``."""
    return _serving


@pytest.fixture(scope="session")
def serve_app() -> Callable[..., contextlib.AbstractContextManager[tuple[Any, str]]]:
    """``with serve_app(asgi_app) as (server, url)``: any ASGI app under uvicorn on a free 127.0.0.1 port."""
    return _serving_app
