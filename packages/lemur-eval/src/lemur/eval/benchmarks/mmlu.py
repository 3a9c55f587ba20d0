"""MMLU: 57-subject multiple-choice knowledge test, 5-shot.

Paper: Hendrycks et al., "Measuring Massive Multitask Language Understanding", ICLR 2021
(arXiv 2009.03300). Source: ``hendrycks/test`` at commit 785eba5, ``data/dev`` (5 shots per
subject) and ``data/test`` (14,079 questions) CSVs, SHA-256 pinned in ``manifests/mmlu.json``.
This is the early git version of the data (the later release has 14,042 test questions with
some edits); scores on the two are close but not identical.

Setting (Lemur paper, Table 3): 5-shot, accuracy over all questions (micro average). Protocol
of the Lemur evaluation scripts (from Hendrycks' ``evaluate.py``): header ``"The following are
multiple choice questions (with answers) about  <subject words>.\\n\\n"`` (the double space is
the original's), the subject's first five dev rows as ``"<q>\\nA. …\\nB. …\\nC. …\\nD. …\\nAnswer: X\\n\\n"``,
then the test question ending ``"\\nAnswer:"``; the prediction is the choice whose letter is
the most likely next token. Here that is four log-likelihood requests with continuations
``" A"`` … ``" D"`` (the space belongs to the continuation), argmax.

Modes:
* ``loglikelihood`` (default, faithful): needs a backend that scores text.
* ``generate``: for chat-only APIs; one greedy token budget of 8, the letter read from the
  answer (``answer: (B)``, else the first standalone letter); reported as ``accuracy_generate``.

Deviations: CSV cells are read verbatim (the original's pandas reader turns cells such as
``None`` into ``nan``); the original drops shots until the prompt is under 2,048 tokens, which
needs the model's tokenizer and is left to the backend's context limit.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files
from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest

SHOTS = 5
CHOICES = ("A", "B", "C", "D")
_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:：]?\s*\(?([ABCD])\b", re.IGNORECASE)
_LETTER = re.compile(r"\b([ABCD])\b")


def format_question(row: list[str], answer: bool) -> str:
    """One question block in Hendrycks' format, with its answer letter when ``answer``."""
    text = (
        row[0]
        + "".join(f"\n{letter}. {choice}" for letter, choice in zip(CHOICES, row[1:5], strict=True))
        + "\nAnswer:"
    )
    return text + (f" {row[5]}\n\n" if answer else "")


def header(subject: str) -> str:
    """The prompt header for ``subject`` (``abstract_algebra``), double space included."""
    return (
        "The following are multiple choice questions (with answers) about "
        + "".join(" " + word for word in subject.split("_"))
        + ".\n\n"
    )


def extract_letter(output: str) -> str | None:
    """The chosen letter of a generated answer, or ``None``."""
    match = _ANSWER.search(output) or _LETTER.search(output)
    return match.group(1).upper() if match else None


def _read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]


class MMLU(Benchmark):
    """MMLU test set, 5-shot (see the module docstring).

    Args:
        data_dir: Local mirror holding ``mmlu/data/{dev,test}/*.csv``.
        mode: ``loglikelihood`` or ``generate``.
        subjects: Only these subjects (default: all 57).
    """

    spec = BenchmarkSpec(
        name="mmlu",
        version="1",
        category="text",
        metric="accuracy",
        setting={"shots": SHOTS, "scoring": "next-token log-likelihood of A/B/C/D", "aggregation": "micro"},
        description="57-subject multiple choice, 5-shot",
    )

    def __init__(self, data_dir=None, mode: str = "loglikelihood", subjects: list[str] | None = None) -> None:
        super().__init__(data_dir)
        if mode not in ("loglikelihood", "generate"):
            from lemur.core.errors import ConfigError

            raise ConfigError(f"mmlu: mode {mode!r} is not one of 'loglikelihood', 'generate'")
        self.mode = mode
        self.subjects = subjects

    def samples(self) -> Iterator[Sample]:
        files = fetch_files("mmlu", self.data_dir)
        tests = sorted(p for p in files if p.startswith("mmlu/data/test/"))
        for path in tests:
            subject = path.rsplit("/", 1)[1][: -len("_test.csv")]
            if self.subjects is not None and subject not in self.subjects:
                continue
            shots = _read_csv(files[f"mmlu/data/dev/{subject}_dev.csv"])[:SHOTS]
            prefix = header(subject) + "".join(format_question(row, answer=True) for row in shots)
            for index, row in enumerate(_read_csv(files[path])):
                yield Sample(
                    id=f"{subject}-{index}",
                    inputs={"subject": subject, "prompt": prefix + format_question(row, answer=False)},
                    target=row[5].strip(),
                )

    def request(self, sample: Sample) -> GenerationRequest | list[LoglikelihoodRequest]:
        if self.mode == "generate":
            return GenerationRequest(prompt=sample.inputs["prompt"], max_tokens=8, stop=("\n",))
        return [LoglikelihoodRequest(sample.inputs["prompt"], f" {letter}") for letter in CHOICES]

    def score(self, sample: Sample, output: str | list[float]) -> Score:
        if isinstance(output, str):
            predicted = extract_letter(output)
        else:
            predicted = CHOICES[max(range(len(CHOICES)), key=lambda i: output[i])]
        return Score(float(predicted == sample.target), {"subject": sample.inputs["subject"], "prediction": predicted})

    def aggregate(self, scores) -> dict[str, float]:
        metric = "accuracy" if self.mode == "loglikelihood" else "accuracy_generate"
        return {metric: sum(s.value for s in scores) / len(scores) if scores else 0.0}
