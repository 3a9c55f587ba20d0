"""Sandboxed execution: one interface (:mod:`.base`), several backends (``local``, ``docker``)."""

from __future__ import annotations

from lemur.envs.sandbox.base import (
    ExecResult,
    FileChange,
    InteractiveSession,
    Limits,
    Mount,
    SandboxBackend,
    SandboxError,
    SandboxSpec,
    SandboxUnavailableError,
    Session,
)

__all__ = [
    "ExecResult",
    "FileChange",
    "InteractiveSession",
    "Limits",
    "Mount",
    "SandboxBackend",
    "SandboxError",
    "SandboxSpec",
    "SandboxUnavailableError",
    "Session",
    "get_backend",
]


def get_backend(name: str = "local") -> SandboxBackend:
    """Build the sandbox backend registered as ``name`` (``local`` is the embedded default).

    Raises:
        UnknownComponentError: No backend has that name.
    """
    from lemur.core.components import Kind
    from lemur.core.plugins import load_component

    backend_class = load_component(Kind.SANDBOX, name)
    return backend_class()
