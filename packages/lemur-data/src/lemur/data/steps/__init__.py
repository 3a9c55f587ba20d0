"""Pipeline steps: filters, dedupers, tokenizers and packers (see :mod:`.base`)."""

from lemur.data.steps.base import Filter, PipelineStep

__all__ = ["Filter", "PipelineStep"]
