"""Registering the environments of every Lemur plugin into gymnasium's registry."""

from __future__ import annotations

from lemur.core.components import Kind
from lemur.core.errors import DuplicateComponentError
from lemur.core.plugins import LemurPluginManager


def register_envs(manager: LemurPluginManager) -> list[str]:
    """Register every ``env`` component of ``manager`` with ``gymnasium.register``.

    An id already registered with the same entry point is left alone (re-importing is
    harmless); an id registered by something else with another entry point is an error, never
    a silent override.

    Returns:
        The ids registered by this call.

    Raises:
        DuplicateComponentError: The id is taken in gymnasium by a different entry point.
    """
    import gymnasium

    registered = []
    for provided in manager.components(Kind.ENV):
        spec = provided.spec
        existing = gymnasium.registry.get(spec.name)
        if existing is not None:
            if existing.entry_point == spec.target:
                continue
            raise DuplicateComponentError(
                f"environment {spec.name!r} from distribution '{provided.distribution}' is already registered in "
                f"gymnasium with entry point {existing.entry_point!r}"
            )
        gymnasium.register(
            id=spec.name,
            entry_point=spec.target,
            max_episode_steps=spec.options.get("max_episode_steps"),
            kwargs=dict(spec.options.get("kwargs", {})),
        )
        registered.append(spec.name)
    return registered
