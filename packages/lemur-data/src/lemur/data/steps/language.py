"""Language filters: ``langdetect`` identification and the non-English character-run rule.

Lemur-Chat keeps English conversations only: langdetect, plus removal of texts with runs of
three or more non-English characters. "Non-English character" is ambiguous, so the rule is
configurable and :class:`NonEnglishRunFilter` always counts what *both* definitions would drop:

- ``non-ascii``: any character outside ASCII. Naive: it also fires on emoji runs, box
  drawing (``├──``), math symbols, typographic quotes and accented Latin words.
- ``non-latin-letters`` (default): letters (``\\p{L}``) of any script but Latin, so
  Cyrillic, CJK, Hangul, Arabic... count and symbols, emoji and accented Latin do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from lemur.core.errors import ConfigError
from lemur.data.records import Document
from lemur.data.steps.base import Filter

RULES = ("non-latin-letters", "non-ascii")


def run_pattern(rule: str, min_run: int) -> Any:
    """A compiled pattern matching ``min_run`` or more consecutive characters disallowed by ``rule``.

    Raises:
        ConfigError: Unknown ``rule`` or ``min_run`` below 1.
    """
    if min_run < 1:
        raise ConfigError(f"non-english-runs: min_run={min_run} must be at least 1")
    if rule == "non-ascii":
        return re.compile(f"[^\\x00-\\x7f]{{{min_run},}}")
    if rule == "non-latin-letters":
        import regex

        return regex.compile(f"(?:(?!\\p{{Latin}})\\p{{L}}){{{min_run},}}")
    raise ConfigError(f"non-english-runs: rule={rule!r} is not one of {', '.join(RULES)}")


class NonEnglishRunFilter(Filter):
    """Drops documents that contain a run of ``min_run`` or more non-English characters.

    Besides ``kept``/``dropped``, :attr:`stats` has ``would_drop_<rule>`` for every rule in
    :data:`RULES`, so a run reports how many documents each definition hits.

    Args:
        rule: ``non-latin-letters`` (default) or ``non-ascii``; see the module docstring.
        min_run: Shortest offending run, in characters (3 in Lemur-Chat).

    Raises:
        ConfigError: Unknown rule or ``min_run < 1``.
    """

    name = "non-english-runs"
    requires = (("regex", "lemur-data[lang]"),)

    def __init__(self, rule: Literal["non-latin-letters", "non-ascii"] = "non-latin-letters", min_run: int = 3):
        super().__init__()
        self.rule = rule
        self.patterns = {name: run_pattern(name, min_run) for name in RULES}
        if rule not in self.patterns:
            raise ConfigError(f"non-english-runs: rule={rule!r} is not one of {', '.join(RULES)}")

    def keep(self, record: Document) -> bool | tuple[bool, str]:
        hits = {name: pattern.search(record.text) for name, pattern in self.patterns.items()}
        for name, hit in hits.items():
            if hit:
                self.stats[f"would_drop_{name}"] += 1
        hit = hits[self.rule]
        if hit:
            record.metadata["non_english_run"] = hit.group(0)[:20]
            return False, "non_english_run"
        return True


class LanguageFilter(Filter):
    """Keeps documents whose language, by ``langdetect``, is allowed with enough probability.

    Detection is deterministic: the filter owns a langdetect factory seeded with ``seed``.
    A conversation (``metadata["messages"]``) is judged on its messages' contents joined,
    without the role labels of its rendered text. Documents get ``metadata["language"]`` and
    ``metadata["language_score"]``.

    Args:
        languages: Allowed ISO 639-1 codes (``["en"]``).
        threshold: Least probability of the best allowed language, in [0, 1].
        seed: Seed of langdetect's random sampling.
        max_chars: Only the first ``max_chars`` characters are examined (speed; whole
            conversations are long).

    Raises:
        ConfigError: ``threshold`` outside [0, 1] or no language given.
    """

    name = "language"
    requires = (("langdetect", "lemur-data[lang]"),)

    def __init__(
        self, languages: Iterable[str] = ("en",), threshold: float = 0.5, seed: int = 0, max_chars: int = 5000
    ) -> None:
        super().__init__()
        self.languages = frozenset([languages] if isinstance(languages, str) else languages)
        if not self.languages:
            raise ConfigError("language: languages must name at least one language, e.g. ['en']")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"language: threshold={threshold} must be within [0, 1]")
        self.threshold = threshold
        self.seed = seed
        self.max_chars = max_chars
        self._factory: Any = None

    def _detector_factory(self) -> Any:
        if self._factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            factory.set_seed(self.seed)
            self._factory = factory
        return self._factory

    def detect(self, text: str) -> list[tuple[str, float]]:
        """Language probabilities of ``text``, best first; empty when it has no letters."""
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._detector_factory().create()
        detector.append(text[: self.max_chars])
        try:
            return [(item.lang, item.prob) for item in detector.get_probabilities()]
        except LangDetectException:
            return []

    def keep(self, record: Document) -> bool | tuple[bool, str]:
        messages = record.metadata.get("messages")
        # A conversation's rendered text has English role labels; judge only what was said.
        text = "\n".join(m["content"] for m in messages) if messages else record.text
        ranked = self.detect(text)
        if not ranked:
            return False, "no_language"
        best, score = ranked[0]
        record.metadata["language"] = best
        record.metadata["language_score"] = round(score, 4)
        if best in self.languages and score >= self.threshold:
            return True
        return False, "language"
