"""Errors a user can fix.

Every error here carries a one-line message saying what is wrong, where (file, field or
component) and what is allowed or what to do. Library code raises them; only the CLI entry
point turns them into ``error: <message>`` on stderr and exit status 2 (``USAGE_ERROR``).
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit statuses of the ``lemur`` command."""

    #: The command did what was asked.
    OK = 0
    #: A bug: an exception that is not a ``LemurError``.
    INTERNAL_ERROR = 1
    #: Bad input the user can fix: config, names, files, missing optional packages.
    USAGE_ERROR = 2


class LemurError(Exception):
    """Base class of every error a user can fix; ``str(error)`` is one line."""

    exit_code: int = ExitCode.USAGE_ERROR


class ConfigError(LemurError):
    """A config file is missing, unreadable, or does not match its schema."""


class UnknownComponentError(LemurError, LookupError):
    """A component name (benchmark, backend, environment, ...) is not registered."""


class DuplicateComponentError(LemurError):
    """Two distributions provide a component of the same kind under the same name."""


class MissingDependencyError(LemurError, ImportError):
    """An optional package needed by a component is not installed."""

    def __init__(self, feature: str, package: str, install: str) -> None:
        """Build the message ``<feature> needs <package>: pip install '<install>'``.

        Args:
            feature: What the user asked for, e.g. ``"the docker sandbox"``.
            package: The importable module that is missing, e.g. ``"docker"``.
            install: The pip requirement that brings it, e.g. ``"lemur-envs[docker]"``.
        """
        super().__init__(f"{feature} needs the package '{package}', which is not installed: pip install '{install}'")
        self.package = package
        self.install = install


class PluginError(LemurError):
    """A plugin could not be loaded, or returned something that is not a component spec."""
