"""Language filters on real English prose and real translations from /usr/share/locale."""

from __future__ import annotations

import lemur_data_test_realdata as realdata
import pytest

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.language import LanguageFilter, NonEnglishRunFilter

pytest.importorskip("langdetect", reason="needs 'langdetect': pip install 'lemur-data[lang]'")
pytest.importorskip("regex", reason="needs 'regex': pip install 'lemur-data[lang]'")

FOREIGN = ("de", "fr", "ru", "ja", "zh_CN", "ko")
# Real symbols that appear in English chat data: a `tree` listing, emoji, math.
SYMBOLS = ("\n├── src\n│   └── main.py\n", " 🚀🎉✨ ", " x ≤≥≠ y ", " ★★★★☆ ")


@pytest.fixture(scope="module")
def foreign_documents() -> dict[str, list[str]]:
    return {language: realdata.gettext_documents(language, count=12) for language in FOREIGN}


def _run(step, texts):
    records = [Document(str(i), text) for i, text in enumerate(texts)]
    return [doc.id for doc in step.run(records)]


def test_langdetect_keeps_english_and_drops_translations(enwiki_articles, info_manual_nodes, foreign_documents):
    english = list(enwiki_articles.values())[:40] + list(info_manual_nodes.values())[:20]
    step = LanguageFilter(max_chars=2000)
    kept = _run(step, english)
    assert len(kept) >= 0.95 * len(english)
    for language, texts in foreign_documents.items():
        assert len(_run(step, texts)) <= 1, language
    print(dict(step.stats))
    records = [Document("x", english[0])]
    list(LanguageFilter().run(records))
    assert records[0].metadata["language"] == "en" and records[0].metadata["language_score"] > 0.9


def test_conversations_are_judged_without_role_labels(foreign_documents, enwiki_articles):
    from lemur.data.sources.conversation import make_conversation

    def conversation(user, assistant):
        return make_conversation("c", [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}])

    short_german = [text.splitlines()[0][:60] for text in foreign_documents["de"]]
    german = [conversation(a, b) for a, b in zip(short_german[::2], short_german[1::2], strict=True)]
    english = [conversation(text[:200], text[200:400]) for text in list(enwiki_articles.values())[:6]]
    step = LanguageFilter()
    kept = list(step.run(german + english))
    assert kept == english
    assert all(doc.metadata["language"] != "en" for doc in german)


def test_langdetect_is_deterministic_given_the_seed(foreign_documents):
    mixed = [text[:60] for texts in foreign_documents.values() for text in texts[:3]]
    first, second = LanguageFilter(seed=5), LanguageFilter(seed=5)
    assert [first.detect(t) for t in mixed] == [second.detect(t) for t in mixed]


def test_non_english_runs_both_rules_counted(enwiki_articles, foreign_documents):
    english = list(enwiki_articles.values())[:30]
    decorated = [text[:1500] + SYMBOLS[i % len(SYMBOLS)] + text[1500:3000] for i, text in enumerate(english)]
    cjk_cyrillic = [t for lang in ("ru", "ja", "zh_CN", "ko") for t in foreign_documents[lang]]
    texts = decorated + cjk_cyrillic
    step = NonEnglishRunFilter()
    kept = set(_run(step, texts))
    print(dict(step.stats))
    expected_drops = {str(i) for i, text in enumerate(texts) if realdata.has_non_latin_letter_run(text)}
    assert {str(i) for i in range(len(texts))} - kept == expected_drops
    assert {str(i) for i in range(len(decorated), len(texts))} <= expected_drops
    # The naive rule also trips on every tree listing, emoji run and symbol run.
    assert step.stats["would_drop_non-ascii"] == len(texts)
    assert step.stats["would_drop_non-latin-letters"] == len(expected_drops) < len(texts)
    assert _run(NonEnglishRunFilter(rule="non-ascii"), decorated) == []


def test_accented_latin_is_not_a_non_english_run(foreign_documents):
    step = NonEnglishRunFilter(min_run=3)
    kept = _run(step, foreign_documents["fr"] + foreign_documents["de"])
    assert len(kept) == 24 and step.stats["dropped"] == 0


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="rule='emoji' is not one of"):
        NonEnglishRunFilter(rule="emoji")
    with pytest.raises(ConfigError, match="min_run=0"):
        NonEnglishRunFilter(min_run=0)
    with pytest.raises(ConfigError, match="threshold=2"):
        LanguageFilter(threshold=2)
