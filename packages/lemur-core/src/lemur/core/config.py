"""Loading YAML configs into frozen, strict pydantic models.

Every config class derives from :class:`ConfigModel` (unknown keys are errors, every field has
a description, the object is read-only after loading). :func:`load_config` validates the
whole file before anything is written and turns the first problem into one line naming the
file, the field and what is allowed, raised as :class:`~lemur.core.errors.ConfigError`.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from lemur.core.errors import ConfigError


class ConfigModel(pydantic.BaseModel):
    """Base of every Lemur config: unknown keys rejected, frozen after validation."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML says keys are unique;
    PyYAML would keep the last one silently). Keys brought in by a ``<<`` merge may still be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                seen = key in first_line
            except TypeError:
                continue  # an unhashable key; the base class reports it
            if seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first at line {first_line[key]})", key_node.start_mark
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping (an empty file is an empty mapping).

    Raises:
        ConfigError: The file is missing, unreadable, not YAML, not a mapping, or gives a key
            twice in one mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level, got {type(data).__name__}")
    return data


def validate_config(
    model: type[ModelT],
    data: Mapping[str, Any],
    source: str,
    overrides: Mapping[str, Any] | None = None,
    allow_override: bool = False,
) -> ModelT:
    """Validate ``data`` (plus ``overrides``, e.g. from command-line flags) into ``model``.

    Args:
        model: The pydantic model class.
        data: The mapping read from the file.
        source: What to call the input in messages (usually the file path).
        overrides: Top-level keys set by another source (flags); ``None`` values are ignored.
        allow_override: Whether an override may change a value the file also sets.

    Raises:
        ConfigError: One line naming ``source``, the field, and what is allowed.
    """
    merged = dict(data)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in merged and merged[key] != value and not allow_override:
            raise ConfigError(
                f"{source}: field '{key}' is {merged[key]!r} in the file but {value!r} on the command line; "
                "set it in one place"
            )
        merged[key] = value
    try:
        return model.model_validate(merged)
    except pydantic.ValidationError as error:
        raise ConfigError(f"{source}: {describe_validation_error(model, error)}") from None


def load_config(
    path: str | Path,
    model: type[ModelT],
    overrides: Mapping[str, Any] | None = None,
    allow_override: bool = False,
) -> ModelT:
    """Read the YAML file at ``path`` and validate it into ``model``; see :func:`validate_config`."""
    return validate_config(model, read_yaml_mapping(path), str(path), overrides, allow_override)


def describe_validation_error(model: type[pydantic.BaseModel], error: pydantic.ValidationError) -> str:
    """Turn the first error of a pydantic ``ValidationError`` into one line for a user."""
    errors = error.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    field = _format_loc(loc)
    kind = first["type"]
    given = first.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        message = f"unknown key '{field}'" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
    elif kind == "missing":
        message = f"field '{field}' is required but missing"
    elif kind in ("literal_error", "enum"):
        expected = first.get("ctx", {}).get("expected", "")
        message = f"field '{field}' is {given!r}; allowed values: {expected}"
    else:
        message = f"field '{field}': {first['msg'].rstrip('.')} (got {given!r})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed_keys(model: type[pydantic.BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, pydantic.BaseModel)):
            current = _inner_model(current)
            if isinstance(part, int):
                continue
        if not (isinstance(current, type) and issubclass(current, pydantic.BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = field.annotation
    current = _inner_model(current)
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return sorted(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside ``list[M]``, ``M | None``, ``dict[str, M]``; else ``annotation``."""
    if isinstance(annotation, type) and issubclass(annotation, (pydantic.BaseModel, enum.Enum)):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _inner_model(arg)
        if isinstance(inner, type) and issubclass(inner, pydantic.BaseModel):
            return inner
    return annotation
