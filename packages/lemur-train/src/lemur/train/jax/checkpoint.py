"""Orbax checkpoints of the whole train state (float32 params and optimizer state) plus the data position.

Saves are asynchronous: :meth:`Checkpointer.save` returns once the arrays are copied off the
devices and the write continues in the background; :meth:`Checkpointer.close` waits for it.
Each checkpoint holds ``state`` (params, optimizer state and step, saved in their own dtypes,
never down-cast) and ``data`` (the input iterator's position as JSON), so a resumed run sees
exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from lemur.core.config import ConfigModel


class CheckpointConfig(ConfigModel):
    """When and how checkpoints are written."""

    every_steps: int = Field(1000, ge=1, description="Save every this many optimizer steps (and at the last step).")
    keep: int = Field(3, ge=1, description="How many recent checkpoints to keep.")
    async_save: bool = Field(True, description="Write in the background while training continues.")


class Checkpointer:
    """Saves and restores train states under ``<run_dir>/checkpoints/<step>``.

    Args:
        directory: The checkpoints directory.
        config: Save interval, retention and async mode.
    """

    def __init__(self, directory: str | Path, config: CheckpointConfig):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        options = ocp.CheckpointManagerOptions(
            max_to_keep=config.keep,
            save_interval_steps=config.every_steps,
            enable_async_checkpointing=config.async_save,
            create=True,
        )
        self.manager = ocp.CheckpointManager(Path(directory).absolute(), options=options)

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None."""
        return self.manager.latest_step()

    def save(self, step: int, state: Any, data_state: dict[str, Any], force: bool = False) -> bool:
        """Save ``state`` and ``data_state`` as step ``step`` if the interval says so (or ``force``).

        Returns:
            Whether a save was started.
        """
        ocp = self._ocp
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state))
        return bool(self.manager.save(step, args=args, force=force))

    def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any]]:
        """Load step ``step`` into arrays laid out like ``abstract_state`` (``ShapeDtypeStruct`` with shardings).

        Returns:
            ``(state, data_state)``.
        """
        ocp = self._ocp
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore())
        restored = self.manager.restore(step, args=args)
        return restored["state"], restored["data"]

    def close(self) -> None:
        """Wait for background writes to finish and release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()
