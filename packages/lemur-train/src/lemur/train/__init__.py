"""Lemur training: the JAX/Flax pre-training backend and the PyTorch/Transformers SFT backend."""
