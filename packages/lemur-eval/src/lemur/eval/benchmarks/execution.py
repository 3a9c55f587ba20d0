"""Running model-written programs for code benchmarks, always inside a sandbox.

:class:`ProgramRunner` keeps one sandbox session per thread (sessions are cheap to reuse and
reset to a clean work dir in about a millisecond), feeds each program through standard input
and returns the sandbox's :class:`~lemur.envs.sandbox.ExecResult`. It pickles without its
sessions, so a benchmark holding one can be sent to worker processes or Ray.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from typing import Any

from lemur.envs.sandbox import ExecResult, Limits, SandboxSpec, Session


class ProgramRunner:
    """Executes programs in sandbox sessions of backend ``backend``.

    Args:
        backend: Sandbox backend name (``local``, ``docker``).
        image: The backend's root file system (``None``: its default).
        limits: Resource limits of each run.
    """

    def __init__(self, backend: str = "local", image: str | None = None, limits: Limits | None = None) -> None:
        self.backend = backend
        self.spec = SandboxSpec(image=image, limits=limits or Limits(memory_bytes=2048 * 1024 * 1024))
        self._local = threading.local()
        self._sessions: list[Session] = []
        self._lock = threading.Lock()

    def run(self, command: Sequence[str], stdin: str, timeout: float) -> ExecResult:
        """Run ``command`` with ``stdin`` in a freshly reset session of this thread.

        Raises:
            SandboxUnavailableError: The backend cannot run here (the message says how to fix it).
        """
        session = self._session()
        session.reset()
        return session.exec(list(command), stdin=stdin, timeout=timeout)

    def run_python(self, program: str, timeout: float) -> ExecResult:
        """Run a Python program (``python3 -I -``, its source on standard input)."""
        return self.run(["python3", "-I", "-"], program, timeout)

    def _session(self) -> Session:
        session = getattr(self._local, "session", None)
        if session is None:
            from lemur.envs.sandbox import get_backend

            backend = get_backend(self.backend)
            backend.check_available()
            session = backend.open(self.spec)
            self._local.session = session
            with self._lock:
                if not self._sessions:
                    atexit.register(self.close)
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every session this runner opened."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"backend": self.backend, "spec": self.spec}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.backend, self.spec = state["backend"], state["spec"]
        self._local, self._sessions, self._lock = threading.local(), [], threading.Lock()


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate for one problem with ``n`` samples of which ``c`` passed (Chen et al. 2021).

    ``1 - C(n - c, k) / C(n, k)``, computed as a product to stay exact for large ``n``.

    Raises:
        ValueError: ``k`` is larger than ``n`` or counts are out of range.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product
