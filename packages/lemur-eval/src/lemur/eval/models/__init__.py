"""Model backends: the one interface every model is evaluated through (see :mod:`.base`)."""

from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, Message, ModelBackend

__all__ = ["Generation", "GenerationRequest", "LoglikelihoodRequest", "Message", "ModelBackend"]
