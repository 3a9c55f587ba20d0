"""Lemur environments and sandboxes.

Importing this package registers every plugin's environments into gymnasium's registry, so
``import lemur.envs; gymnasium.make("lemur/InterCode-Bash-v0")`` works, and so does
``gymnasium.make("lemur.envs:lemur/InterCode-Bash-v0")`` with no import (gymnasium imports
the module named before the colon).
"""

from __future__ import annotations

from lemur.core.plugins import when_ready
from lemur.envs.registration import register_envs

__all__ = ["register_envs"]

when_ready(register_envs)
