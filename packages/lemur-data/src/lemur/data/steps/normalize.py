"""Text normalisation: Unicode normal form, newlines, control characters."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Literal

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.base import PipelineStep

_NEWLINES = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")
# C0/C1 control characters except tab and line feed, plus DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f]")
_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n|\Z)")
_FORMS = ("NFC", "NFKC", "NFD", "NFKD")


def normalize_text(
    text: str,
    form: str | None = "NFC",
    newlines: bool = True,
    strip_control: bool = True,
    strip_trailing_space: bool = False,
) -> str:
    """Return ``text`` normalised.

    Args:
        text: The input.
        form: Unicode normal form (``NFC``, ``NFKC``, ``NFD``, ``NFKD``) or ``None`` to keep it.
        newlines: Turn ``\\r\\n``, ``\\r``, U+0085, U+2028 and U+2029 into ``\\n``.
        strip_control: Delete control characters other than tab and newline (NUL, escape
            sequences' ESC, form feed, ...).
        strip_trailing_space: Delete spaces and tabs at the end of each line.
    """
    if newlines:
        text = _NEWLINES.sub("\n", text)
    if strip_control:
        text = _CONTROL.sub("", text)
    if form:
        text = unicodedata.normalize(form, text)  # type: ignore[arg-type]
    if strip_trailing_space:
        text = _TRAILING_SPACE.sub("", text)
    return text


class Normalize(PipelineStep):
    """Normalises each document's text (and each message of a conversation) in place.

    Args:
        form: Unicode normal form, or ``"none"`` to keep the text's own.
        newlines: Normalise line endings to ``\\n``.
        strip_control: Delete control characters other than tab and newline.
        strip_trailing_space: Delete spaces and tabs at line ends (off by default: it changes code).

    Raises:
        ConfigError: ``form`` is not a Unicode normal form.
    """

    name = "normalize"

    def __init__(
        self,
        form: Literal["NFC", "NFKC", "NFD", "NFKD", "none"] = "NFC",
        newlines: bool = True,
        strip_control: bool = True,
        strip_trailing_space: bool = False,
    ) -> None:
        super().__init__()
        if form != "none" and form not in _FORMS:
            raise ConfigError(f"normalize: form={form!r} is not one of {', '.join(_FORMS)}, none")
        self.options = {
            "form": None if form == "none" else form,
            "newlines": newlines,
            "strip_control": strip_control,
            "strip_trailing_space": strip_trailing_space,
        }

    def run(self, records: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for record in records:
            text = normalize_text(record.text, **self.options)
            if text != record.text:
                self.stats["changed"] += 1
                record.text = text
            for message in record.metadata.get("messages") or ():
                message["content"] = normalize_text(message["content"], **self.options)
            self.stats["documents"] += 1
            yield record
