"""Convert and check backend options, which arrive as strings from model specs (``batch_size=8``).

Backends accept both typed values (from Python) and strings (from ``BACKEND:ARG,key=value``);
these helpers turn either into the typed value or raise one clear
:class:`~lemur.eval.models.errors.BackendOptionError` naming the backend, the option and
what is allowed.
"""

from __future__ import annotations

from collections.abc import Collection

from lemur.eval.models.errors import BackendOptionError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def as_int(backend: str, option: str, value: int | str, minimum: int | None = None) -> int:
    """``value`` as an int no smaller than ``minimum``.

    Raises:
        BackendOptionError: Not an integer, or below ``minimum``.
    """
    try:
        number = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        raise BackendOptionError(f"{backend} backend: option {option}={value!r} must be an integer") from None
    if minimum is not None and number < minimum:
        raise BackendOptionError(f"{backend} backend: option {option}={number} must be at least {minimum}")
    return number


def as_float(backend: str, option: str, value: float | str, minimum: float | None = None) -> float:
    """``value`` as a float no smaller than ``minimum``.

    Raises:
        BackendOptionError: Not a number, or below ``minimum``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BackendOptionError(f"{backend} backend: option {option}={value!r} must be a number") from None
    if minimum is not None and number < minimum:
        raise BackendOptionError(f"{backend} backend: option {option}={number} must be at least {minimum}")
    return number


def as_bool(backend: str, option: str, value: bool | str) -> bool:
    """``value`` as a bool (strings: true/false, yes/no, on/off, 1/0).

    Raises:
        BackendOptionError: Any other string.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BackendOptionError(f"{backend} backend: option {option}={value!r} must be true or false")


def as_choice(backend: str, option: str, value: str, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``.

    Raises:
        BackendOptionError: Anything else; the message lists the allowed values.
    """
    if value not in allowed:
        raise BackendOptionError(
            f"{backend} backend: option {option}={value!r} is not allowed; allowed: {', '.join(sorted(allowed))}"
        )
    return value
