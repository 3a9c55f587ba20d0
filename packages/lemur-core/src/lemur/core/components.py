"""Component specs: what a plugin hook returns for each thing it contributes.

A spec names its implementation as a ``"module:attr"`` string, so collecting every plugin's
specs (``lemur plugins``, ``lemur --help``) imports no framework; the target is imported only
by :meth:`ComponentSpec.load`, when the component is used.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from collections.abc import Mapping
from typing import Any

from lemur.core.errors import MissingDependencyError, PluginError


class Kind(str, enum.Enum):
    """The kinds of component, one per collection hook (``lemur_<hook>``)."""

    DATA_SOURCE = "data-source"
    DATA_STEP = "data-step"
    TRAIN_BACKEND = "train-backend"
    MODEL_BACKEND = "model-backend"
    BENCHMARK = "benchmark"
    ENV = "env"
    AGENT = "agent"
    SANDBOX = "sandbox"

    @property
    def hook_name(self) -> str:
        """The name of the hook that collects this kind, e.g. ``lemur_benchmarks``."""
        return _HOOKS[self]


_HOOKS = {
    Kind.DATA_SOURCE: "lemur_data_sources",
    Kind.DATA_STEP: "lemur_data_steps",
    Kind.TRAIN_BACKEND: "lemur_train_backends",
    Kind.MODEL_BACKEND: "lemur_model_backends",
    Kind.BENCHMARK: "lemur_benchmarks",
    Kind.ENV: "lemur_envs",
    Kind.AGENT: "lemur_agents",
    Kind.SANDBOX: "lemur_sandboxes",
}


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """One component a plugin provides.

    Attributes:
        name: The name users type (``gsm8k``, ``local``, ``lemur/InterCode-Bash-v0``).
        target: Where the implementation lives, as ``"package.module:attribute"``.
        description: One line shown by ``lemur plugins``.
        extra: The pip requirement that installs the component's optional dependencies
            (``"lemur-envs[docker]"``), named in the error when one is missing.
        options: Kind-specific settings, e.g. ``max_episode_steps`` and ``kwargs`` for an
            environment registered into gymnasium.
    """

    name: str
    target: str
    description: str = ""
    extra: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        module, sep, attr = self.target.partition(":")
        if not (self.name and module and sep and attr):
            raise PluginError(
                f"component spec {self.name!r}: target {self.target!r} must look like 'package.module:attribute'"
            )

    def load(self) -> Any:
        """Import the target and return the object it names.

        Raises:
            MissingDependencyError: The target (or something it imports) needs a package that
                is not installed; the message names :attr:`extra` when the spec has one.
            PluginError: The module imports but has no such attribute.
        """
        module_name, _, attr_path = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            missing = error.name or "?"
            if module_name == missing or module_name.startswith(missing + "."):
                raise PluginError(f"component {self.name!r}: module {module_name!r} does not exist") from error
            raise MissingDependencyError(
                f"component {self.name!r}", missing.split(".")[0], self.extra or missing.split(".")[0]
            ) from error
        for part in attr_path.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError as error:
                raise PluginError(f"component {self.name!r}: {module_name!r} has no attribute {attr_path!r}") from error
        return obj


@dataclasses.dataclass(frozen=True)
class Provided:
    """A component spec together with the distribution that provided it."""

    kind: Kind
    spec: ComponentSpec
    distribution: str
    plugin: str
