"""Text normalisation on real Wikipedia text with real-world damage applied."""

from __future__ import annotations

import unicodedata

import pytest

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.normalize import Normalize, normalize_text


def test_damaged_article_is_restored(enwiki_articles):
    article = next(text for text in enwiki_articles.values() if any(ord(c) > 127 for c in text))
    nfc = unicodedata.normalize("NFC", article)
    damaged = unicodedata.normalize("NFD", nfc).replace("\n", "\r\n").replace(". ", ".\x00 ", 3) + "\x1b[0m"
    assert normalize_text(damaged) == nfc + "[0m"  # ESC is a control character; its argument is text


def test_step_changes_text_and_messages_and_counts():
    messages = [{"role": "user", "content": "cafe\u0301\r\n"}, {"role": "assistant", "content": "ok\x07"}]
    records = [Document("a", "line\r\nnext\x0c"), Document("b", "clean\n", {"messages": messages})]
    step = Normalize()
    out = list(step.run(records))
    assert out[0].text == "line\nnext" and out[1].text == "clean\n"
    assert messages == [{"role": "user", "content": "café\n"}, {"role": "assistant", "content": "ok"}]
    assert step.stats["changed"] == 1 and step.stats["documents"] == 2


def test_options_and_tabs_are_kept():
    assert normalize_text("a\tb  \n", strip_trailing_space=True) == "a\tb\n"
    assert normalize_text("e\u0301", form=None) == "e\u0301"
    assert normalize_text("ﬁ", form="NFKC") == "fi"
    with pytest.raises(ConfigError, match="form='NFX'"):
        Normalize(form="NFX")
