"""Errors raised by model backends that a user can fix (each one line, exit status 2 in the CLI)."""

from __future__ import annotations

from lemur.core.errors import LemurError


class BackendOptionError(LemurError, ValueError):
    """A backend option (``hf:/path,batch_size=x``) has a bad value or an unknown name."""


class ModelLoadError(LemurError):
    """A local model or tokenizer could not be loaded (missing path, unreadable files)."""


class ModelServerError(LemurError):
    """A model server could not be reached, kept failing, or refused a request."""


class UnsupportedCapabilityError(LemurError, NotImplementedError):
    """The backend (or the server behind it) cannot do what was asked, e.g. score text."""
