"""The device mesh ``(data, fsdp, tensor)`` and the ordered table mapping logical axis names to it.

The model names axes logically (``embed``, ``mlp``, ``activation_batch``...). For each logical
axis, the first rule that names it and whose mesh axes are not already used by the same array
wins (Flax's ``logical_to_mesh_axes``); a name with no rule is replicated. Weights are sharded
FSDP-style over ``fsdp`` on ``embed`` and Megatron-style over ``tensor`` on heads / MLP / vocab;
the batch is split over ``data`` x ``fsdp``. Multi-host runs call :func:`initialize_distributed`
before anything touches a device.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from lemur.core.config import ConfigModel
from lemur.core.errors import ConfigError

MESH_AXES = ("data", "fsdp", "tensor")

#: Ordered (logical axis, mesh axes) rules; first match wins, anything unnamed is replicated.
LOGICAL_AXIS_RULES: tuple[tuple[str, Any], ...] = (
    # Activations.
    ("activation_batch", ("data", "fsdp")),
    ("activation_length", None),
    ("activation_embed", None),
    ("activation_heads", "tensor"),
    ("activation_kv_heads", "tensor"),
    ("activation_mlp", "tensor"),
    ("activation_vocab", "tensor"),
    # Embedding and output layer.
    ("vocab", "tensor"),
    ("embed", "fsdp"),
    # Attention.
    ("q_heads", "tensor"),
    ("kv_heads", "tensor"),
    ("kv", None),
    # MLP.
    ("mlp", "tensor"),
    # Stacked layers and norms stay whole.
    ("layers", None),
    ("norm", None),
)


class MeshConfig(ConfigModel):
    """How devices are arranged; one axis may be -1 (all remaining devices)."""

    data: int = Field(1, description="Pure data-parallel replicas (gradients all-reduced).")
    fsdp: int = Field(-1, description="Fully sharded data parallel: weights and batch split over this axis.")
    tensor: int = Field(1, description="Tensor (model) parallel: heads, MLP and vocab split over this axis.")


class DistributedConfig(ConfigModel):
    """Multi-host setup passed to ``jax.distributed.initialize`` (TPU pods and SLURM detect it themselves)."""

    enabled: bool = Field(False, description="Call jax.distributed.initialize before using devices.")
    coordinator_address: str | None = Field(None, description="host:port of process 0 (auto-detected when null).")
    num_processes: int | None = Field(None, ge=1, description="Number of processes (auto-detected when null).")
    process_id: int | None = Field(None, ge=0, description="This process's index (auto-detected when null).")
    cpu_collectives: str | None = Field(
        None, description="CPU cross-process collectives ('gloo') for multi-process runs on CPU; null leaves JAX's."
    )


def initialize_distributed(config: DistributedConfig) -> None:
    """Join the multi-host run described by ``config`` (no-op when not enabled)."""
    if not config.enabled:
        return
    import jax

    if config.cpu_collectives:
        jax.config.update("jax_cpu_collectives_implementation", config.cpu_collectives)
    jax.distributed.initialize(
        coordinator_address=config.coordinator_address,
        num_processes=config.num_processes,
        process_id=config.process_id,
    )


def mesh_shape(config: MeshConfig, device_count: int) -> tuple[int, int, int]:
    """The ``(data, fsdp, tensor)`` sizes for ``device_count`` devices, resolving one -1.

    Raises:
        ConfigError: More than one -1, a size below 1, or sizes that do not multiply to the device count.
    """
    sizes = [config.data, config.fsdp, config.tensor]
    if sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise ConfigError(f"mesh: sizes {dict(zip(MESH_AXES, sizes, strict=True))} must be >= 1 with at most one -1")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if device_count % known:
            raise ConfigError(f"mesh: {device_count} devices do not split into axes of product {known}")
        sizes[sizes.index(-1)] = device_count // known
    if math.prod(sizes) != device_count:
        raise ConfigError(
            f"mesh: data*fsdp*tensor = {math.prod(sizes)} but there are {device_count} devices; use -1 for one axis"
        )
    return sizes[0], sizes[1], sizes[2]


def make_mesh(config: MeshConfig, devices: list | None = None):
    """A ``jax.sharding.Mesh`` over ``devices`` (default: all) with axes :data:`MESH_AXES`."""
    import jax
    import numpy as np

    devices = list(devices if devices is not None else jax.devices())
    shape = mesh_shape(config, len(devices))
    try:
        from jax.experimental import mesh_utils

        grid = mesh_utils.create_device_mesh(shape, devices=devices)
    except (ValueError, NotImplementedError, AssertionError):
        grid = np.asarray(devices).reshape(shape)
    return jax.sharding.Mesh(grid, MESH_AXES)


def logical_shardings(boxed_tree: Any, mesh) -> Any:
    """``NamedSharding`` for every leaf of a tree of logically annotated values (e.g. ``jax.eval_shape`` of init)."""
    import flax.linen as nn

    specs = nn.get_partition_spec(boxed_tree)
    return nn.logical_to_mesh_sharding(specs, mesh, LOGICAL_AXIS_RULES)


def batch_sharding(mesh):
    """Sharding of ``[batch, length]`` inputs: batch split over ``data`` x ``fsdp``."""
    import jax
    from jax.sharding import PartitionSpec

    return jax.sharding.NamedSharding(mesh, PartitionSpec(("data", "fsdp"), None))


def global_batch(local: dict[str, Any], mesh) -> dict[str, Any]:
    """Assemble each host's rows (``local``, this host's slice) into global arrays sharded by :func:`batch_sharding`."""
    import jax

    sharding = batch_sharding(mesh)
    out = {}
    for name, array in local.items():
        shape = (array.shape[0] * jax.process_count(), *array.shape[1:])
        out[name] = jax.make_array_from_process_local_data(sharding, array, shape)
    return out
