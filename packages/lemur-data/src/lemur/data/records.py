"""The record type every source yields and every step consumes."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(slots=True)
class Document:
    """One text document (a source file, a web page, a conversation rendered as text).

    Attributes:
        id: Unique within its source.
        text: The content.
        metadata: What sources and steps learn about it (``source``, ``language``, ...).
    """

    id: str
    text: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
