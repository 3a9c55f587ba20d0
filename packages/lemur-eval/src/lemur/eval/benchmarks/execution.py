"""Running model-written programs for code benchmarks, always inside a sandbox.

:class:`ProgramRunner` keeps one sandbox session per thread and returns the sandbox's
:class:`~lemur.envs.sandbox.ExecResult` for each program. Python programs run through a
*zygote*: a Python REPL inside the session that forks one child per program (as the original
HumanEval harness forks a process per program), which saves an interpreter start per program;
the zygote never runs untrusted code and the children cannot reach it (see ``_zygote.py``).
Other commands (compilers, other languages) run with ``Session.exec`` on a freshly reset
session. The runner pickles without its sessions, so a benchmark holding one can be sent to
worker processes or Ray.
"""

from __future__ import annotations

import atexit
import base64
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lemur.envs.sandbox import ExecResult, InteractiveSession, Limits, SandboxSpec, Session

_ZYGOTE_SOURCE = Path(__file__).with_name("_zygote.py").read_text(encoding="utf-8")
#: Programs a zygote runs before the session is reset and a new zygote started.
RESTART_EVERY = 200
#: Bytes of each output stream kept per program run by a zygote (its JSON reply must fit the REPL's cap).
PROGRAM_OUTPUT_BYTES = 64 * 1024


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
        if getattr(self._local, "zygote", None) is not None:
            self._local.zygote.close()  # reset() ends every process, the zygote included
            self._local.zygote = None
        session.reset()
        return session.exec(list(command), stdin=stdin, timeout=timeout)

    def run_python(self, program: str, timeout: float) -> ExecResult:
        """Run a Python program as ``__main__`` in a fresh child of this thread's zygote.

        Falls back to ``python3 -I -`` on a reset session when the zygote cannot answer (it is
        restarted for the next program).
        """
        zygote = self._zygote()
        encoded = base64.b64encode(program.encode("utf-8")).decode("ascii")
        reply = zygote.run(f"_lemur_run({encoded!r}, {timeout!r}, {PROGRAM_OUTPUT_BYTES})", timeout + 30)
        marker = reply.stdout.rfind("LEMUR-RESULT ")
        if marker >= 0:
            self._local.runs = getattr(self._local, "runs", 0) + 1
            return ExecResult(**json.loads(reply.stdout[marker + len("LEMUR-RESULT ") :]))
        self._local.zygote = None
        zygote.close()
        return self.run(["python3", "-I", "-"], program, timeout)

    def _zygote(self) -> InteractiveSession:
        zygote = getattr(self._local, "zygote", None)
        if zygote is not None and getattr(self._local, "runs", 0) >= RESTART_EVERY:
            # a fresh work area and zygote now and then, so leftovers of earlier programs cannot pile up
            zygote.close()
            self._session().reset()
            zygote = None
        if zygote is None:
            zygote = self._session().python()
            zygote.run(_ZYGOTE_SOURCE, timeout=30)
            self._local.zygote, self._local.runs = zygote, 0
        return zygote

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
