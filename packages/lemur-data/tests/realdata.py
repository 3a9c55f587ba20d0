"""Real local corpora for lemur-data tests: Python stdlib source, an enwiki dump excerpt, Debian info manuals.

Loaded by the ``conftest.py`` of ``tests/steps`` and ``tests/sources``; every loader skips the
test with a reason when its corpus is not on the machine.
"""

from __future__ import annotations

import bz2
import gzip
import random
import re
import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])
INFO_DIR = Path("/usr/share/info")
_WORD = re.compile(r"\S+")


def stdlib_sources() -> dict[str, str]:
    """The top-level ``*.py`` files of this Python's standard library: relative name -> text."""
    files = sorted(STDLIB.glob("*.py"))
    if len(files) < 50:
        pytest.skip(f"Python standard library sources not found under {STDLIB}")
    return {path.name: path.read_text(encoding="utf-8", errors="replace") for path in files}


def gensim_test_data() -> Path:
    """gensim's test-data directory (real Wikipedia dump excerpts and corpora)."""
    gensim = pytest.importorskip("gensim", reason="gensim (lemur-data[test]) ships the enwiki excerpt")
    return Path(gensim.__file__).parent / "test" / "test_data"


def wiki_articles(language: str = "en", min_chars: int = 500) -> dict[str, str]:
    """Plain text of the articles (not redirects) in gensim's real ``<language>wiki`` dump excerpt: title -> text."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    name = {
        "en": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
        "bg": "bgwiki-latest-pages-articles-shortened.xml.bz2",
    }[language]
    articles = {}
    with bz2.open(gensim_test_data() / name) as dump:
        for title, markup, _ in extract_pages(dump):
            if markup.lstrip().lower().startswith("#redirect"):
                continue
            text = re.sub(r"\n{3,}", "\n\n", filter_wiki(markup)).strip()
            if len(text) >= min_chars:
                articles[title] = text
    return articles


def info_nodes(min_chars: int = 800, limit: int = 400) -> dict[str, str]:
    """Nodes of the Debian info manuals under ``/usr/share/info`` (book-like English prose): id -> text."""
    nodes: dict[str, str] = {}
    for path in sorted(INFO_DIR.glob("*.info*.gz")):
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        for number, node in enumerate(text.split("\x1f")[1:]):
            body = node.strip()
            if len(body) >= min_chars and not body.startswith("Tag Table"):
                nodes[f"{path.name}#{number}"] = body
                if len(nodes) >= limit:
                    return nodes
    if len(nodes) < 20:
        pytest.skip(f"Debian info manuals not found under {INFO_DIR}")
    return nodes


def gettext_documents(language: str, count: int = 20, per_document: int = 8) -> list[str]:
    """Real translated UI strings from ``/usr/share/locale/<language>``, ``per_document`` strings per document."""
    import gettext

    strings: list[str] = []
    for path in sorted(Path("/usr/share/locale", language, "LC_MESSAGES").glob("*.mo")):
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, UnicodeDecodeError):
            continue
        strings += [value for key, value in sorted(catalog.items(), key=str) if key and isinstance(value, str)]
        strings = [text for text in strings if len(text) > 40]
        if len(strings) >= count * per_document:
            break
    if len(strings) < count * per_document:
        pytest.skip(f"not enough '{language}' translations under /usr/share/locale")
    return ["\n".join(strings[i * per_document : (i + 1) * per_document]) for i in range(count)]


def edit_words(text: str, fraction: float, vocabulary: list[str], rng: random.Random) -> str:
    """``text`` with ``fraction`` of its whitespace-separated words replaced by words from ``vocabulary``.

    Whitespace (code indentation, newlines) is kept as it is; at least one word changes.
    """
    spans = [match.span() for match in _WORD.finditer(text)]
    chosen = sorted(rng.sample(range(len(spans)), max(1, round(fraction * len(spans)))))
    pieces, last = [], 0
    for index in chosen:
        start, end = spans[index]
        pieces += [text[last:start], rng.choice(vocabulary)]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def has_non_latin_letter_run(text: str, length: int = 3) -> bool:
    """Independent reference for the run rule: ``length`` consecutive letters whose Unicode name is not LATIN."""
    import unicodedata

    run = 0
    for char in text:
        run = run + 1 if char.isalpha() and "LATIN" not in unicodedata.name(char, "") else 0
        if run >= length:
            return True
    return False


def exact_jaccard(first: str, second: str, shingle_size: int) -> float:
    """Jaccard similarity of two texts' word-shingle sets, computed independently of lemur's MinHash."""

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9_\x80-\U0010ffff]+", text.lower())
        if len(words) < shingle_size:
            return {tuple(words)} if words else set()
        return {tuple(words[i : i + shingle_size]) for i in range(len(words) - shingle_size + 1)}

    a, b = shingles(first), shingles(second)
    return len(a & b) / len(a | b) if a | b else 0.0


@pytest.fixture(scope="session")
def stdlib_texts() -> dict[str, str]:
    """Fixture form of :func:`stdlib_sources`."""
    return stdlib_sources()


@pytest.fixture(scope="session")
def enwiki_articles() -> dict[str, str]:
    """Fixture form of :func:`wiki_articles` for English."""
    return wiki_articles("en")


@pytest.fixture(scope="session")
def info_manual_nodes() -> dict[str, str]:
    """Fixture form of :func:`info_nodes`."""
    return info_nodes()
