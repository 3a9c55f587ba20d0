"""The JAX/Flax pre-training backend: a Llama-2 model, sharding, optimizer, checkpoints, HF conversion.

Nothing heavy is imported here; import the sibling modules (``model``, ``train``, ``convert``)
where they are needed.
"""
