"""The ``--model SPEC`` syntax, and turning a spec into a model backend.

A spec is ``BACKEND[:ARG][,key=value...]``::

    replay:runs/x.jsonl
    openai:http://127.0.0.1:8000/v1,model=tiny
    hf:/path/to/model,batch_size=8

``BACKEND`` names a component registered under :attr:`Kind.MODEL_BACKEND` (``lemur plugins
--kind model-backend``). The backend class is called as ``cls(ARG, **options)`` (or
``cls(**options)`` without ``ARG``). ``ARG`` and option values arrive as strings (``8`` is
``"8"``); backends convert them with :mod:`lemur.eval.models.options`, which also accepts
typed values from Python callers.
``ARG`` is everything between the first ``:`` and the first ``,``, so it may itself contain
colons (URLs, Windows paths) but no comma.

Contract for backend authors: the constructor validates its target and raises a
:class:`~lemur.core.errors.LemurError` subclass (one line naming the spec's target and what
is wrong) when the target is bad or unreachable (missing file, server not answering, unknown
model); the runner calls :func:`create_backend` before it writes anything, so such errors
leave no output behind.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

from lemur.core.errors import ConfigError, LemurError
from lemur.eval.models.base import ModelBackend

_BACKEND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_OPTION_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` spec.

    Attributes:
        text: The spec as the user wrote it.
        backend: The registry name of the backend (``replay``).
        target: The part after ``BACKEND:`` (a path or URL), or ``None``.
        options: Keyword options, values as strings.
    """

    text: str
    backend: str
    target: str | None
    options: dict[str, str]


def parse_model_spec(text: str) -> ModelSpec:
    """Parse ``BACKEND[:ARG][,key=value...]`` without importing or contacting anything.

    Raises:
        ConfigError: The spec is empty, the backend name is not a name, or an option is not
            ``key=value`` with a Python-identifier key given once.
    """
    head, *option_parts = text.strip().split(",")
    backend, sep, target = head.partition(":")
    if not backend or not _BACKEND_NAME.match(backend):
        raise ConfigError(
            f"model spec {text!r}: expected BACKEND[:ARG][,key=value...], e.g. 'replay:runs/x.jsonl' "
            "or 'openai:http://127.0.0.1:8000/v1,model=tiny'"
        )
    if sep and not target:
        raise ConfigError(f"model spec {text!r}: nothing after '{backend}:'; drop the colon or give the argument")
    options: dict[str, str] = {}
    for part in option_parts:
        key, eq, raw = part.partition("=")
        key = key.strip()
        if not eq or not _OPTION_KEY.match(key):
            raise ConfigError(f"model spec {text!r}: option {part!r} must look like key=value")
        if key in options:
            raise ConfigError(f"model spec {text!r}: option '{key}' is given twice")
        options[key] = raw.strip()
    return ModelSpec(text=text, backend=backend, target=target or None, options=options)


@dataclasses.dataclass(frozen=True)
class BackendRecipe:
    """How to build a spec's backend: the registered class, its argument and options.

    It pickles (the class by its import path), so worker processes and Ray workers can build
    the backend themselves, without the plugin registry and without shipping a live backend
    (HTTP clients and loaded models do not pickle).

    Attributes:
        spec: The parsed spec.
        backend_cls: The class registered under ``spec.backend``.
        args: ``(target,)``, or ``()`` without a target.
    """

    spec: ModelSpec
    backend_cls: type
    args: tuple[str, ...]

    def build(self) -> ModelBackend:
        """Call the backend class (see :func:`create_backend` for what it raises)."""
        try:
            backend = self.backend_cls(*self.args, **self.spec.options)
        except LemurError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model spec {self.spec.text!r}: {error}") from error
        if not isinstance(backend, ModelBackend):
            raise ConfigError(
                f"model backend '{self.spec.backend}' did not build a ModelBackend (got {type(backend).__name__})"
            )
        return backend

    def with_absolute_target(self) -> BackendRecipe:
        """This recipe with a target that names an existing local file or folder made absolute.

        Workers (Ray's in particular) need not share this process's working directory.
        """
        if not self.args or not Path(self.args[0]).exists():
            return self
        return dataclasses.replace(self, args=(str(Path(self.args[0]).resolve()),))


def backend_recipe(spec: str | ModelSpec) -> BackendRecipe:
    """Look up the backend class of ``spec`` and check that it takes the argument and options; builds nothing.

    Raises:
        ConfigError: The spec is malformed, or the backend does not take the given argument
            or options.
        UnknownComponentError: No model backend is registered under ``BACKEND``.
    """
    from lemur.core.components import Kind
    from lemur.core.plugins import components

    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    backend_cls = components(Kind.MODEL_BACKEND).load(parsed.backend)
    args = (parsed.target,) if parsed.target is not None else ()
    _check_signature(backend_cls, parsed, args)
    return BackendRecipe(parsed, backend_cls, args)


def create_backend(spec: str | ModelSpec) -> ModelBackend:
    """Build the model backend named by ``spec`` (see the module docstring for the syntax).

    Args:
        spec: A spec string such as ``"replay:runs/x.jsonl"`` or an already parsed spec.

    Returns:
        A ready backend; its constructor has already checked that the target is usable.

    Raises:
        ConfigError: The spec is malformed, or the backend does not take the given argument
            or options.
        UnknownComponentError: No model backend is registered under ``BACKEND``.
        LemurError: Raised by the backend's constructor for a bad or unreachable target.
    """
    return backend_recipe(spec).build()


def _check_signature(backend_cls: Any, parsed: ModelSpec, args: tuple[Any, ...]) -> None:
    """Raise a one-line ConfigError when the constructor cannot take ``args`` and the options."""
    try:
        signature = inspect.signature(backend_cls)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **parsed.options)
    except TypeError as error:
        accepted = [
            name
            for name, param in signature.parameters.items()
            if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD)
        ]
        raise ConfigError(
            f"model spec {parsed.text!r}: backend '{parsed.backend}' {error}; it accepts: "
            f"{', '.join(accepted) or 'no options'}"
        ) from None
