"""GSM8K: grade-school math word problems, 8-shot chain of thought.

Paper: Cobbe et al., "Training Verifiers to Solve Math Word Problems", 2021 (arXiv 2110.14168).
Source: ``openai/grade-school-math`` at commit 3101c7d, ``grade_school_math/data/test.jsonl``
(1,319 problems), SHA-256 pinned in ``manifests/gsm8k.json``.

Setting (Lemur paper, Table 3): 8-shot chain of thought, greedy, accuracy. Protocol of the
Lemur evaluation scripts: the eight exemplars of Wei et al. (2022), Table 20, in their fixed
order; prompt ``"Answer the following questions.\\n\\n"`` + ``"Question: …\\nAnswer: <cot>"``
blocks joined by blank lines + ``"Question: <q>\\nAnswer:"``; stop at the first newline; at
most 512 new tokens. In chat form the whole prompt is the user turn and the assistant turn is
opened with ``"Answer:"``.

Answer extraction (all three reported; ``accuracy`` is the Lemur rule):

* ``lemur`` (faithful): drop thousands separators, take the last number of the output (the
  whole output if none), compare with the gold answer by HF ``exact_match`` ignoring case and
  punctuation. Known flaws: ``"18.5"`` equals ``"185"`` and signs are ignored.
* ``strict``: the number after "the answer is" (any case), compared numerically.
* ``flexible``: the last number of the output, compared numerically.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files, hf_exact_match, same_number
from lemur.eval.models.base import GenerationRequest, Message

SHOTS = 8
STOP = ("\n",)
MAX_TOKENS = 512
INSTRUCTION = "Answer the following questions.\n\n"

#: Wei et al. (2022), Table 20: the eight chain-of-thought exemplars, in the order Lemur uses.
EXEMPLARS: tuple[tuple[str, str], ...] = (
    (
        "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
        "there will be 21 trees. How many trees did the grove workers plant today?",
        "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have "
        "been 21 - 15 = 6. So the answer is 6.",
    ),
    (
        "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
        "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. So the answer is 5.",
    ),
    (
        "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
        "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, "
        "they had 74 - 35 = 39. So the answer is 39.",
    ),
    (
        "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did "
        "Jason give to Denny?",
        "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. "
        "So the answer is 8.",
    ),
    (
        "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have "
        "now?",
        "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. "
        "So the answer is 9.",
    ),
    (
        "There were nine computers in the server room. Five more computers were installed each day, from monday to "
        "thursday. How many computers are now in the server room?",
        "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers "
        "were added. 9 + 20 is 29. So the answer is 29.",
    ),
    (
        "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf "
        "balls did he have at the end of wednesday?",
        "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, "
        "he had 35 - 2 = 33 golf balls. So the answer is 33.",
    ),
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars "
        "left. 23 - 15 is 8. So the answer is 8.",
    ),
)

_THOUSANDS = re.compile(r"(\d),(\d)")
_NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")
_STRICT = re.compile(r"the answer is\s*\$?\s*(-?[\d,]*\.?\d+)", re.IGNORECASE)
_FLEXIBLE = re.compile(r"-?[\d,]*\.?\d+")


def gold_answer(solution: str) -> str:
    """The gold number of a GSM8K solution: the text after ``####``, thousands separators removed."""
    return _THOUSANDS.sub(r"\1\2", solution.split("####")[-1].strip())


def extract_lemur(output: str) -> str:
    """The Lemur scripts' prediction: the last number (separators removed), else the whole output."""
    numbers = _NUMBER.findall(_THOUSANDS.sub(r"\1\2", output))
    return numbers[-1] if numbers else output


def extract_strict(output: str) -> str | None:
    """The number stated after "the answer is", or ``None``."""
    match = _STRICT.search(output)
    return match.group(1) if match else None


def extract_flexible(output: str) -> str | None:
    """The last number anywhere in the output, or ``None``."""
    numbers = [n for n in _FLEXIBLE.findall(output) if any(c.isdigit() for c in n)]
    return numbers[-1] if numbers else None


class GSM8K(Benchmark):
    """GSM8K test set, 8-shot chain of thought (see the module docstring).

    Args:
        data_dir: Local mirror holding ``gsm8k/test.jsonl``; ``None`` downloads it.
        chat: Build chat messages (user turn + assistant turn opened with ``"Answer:"``)
            instead of one raw prompt.
    """

    spec = BenchmarkSpec(
        name="gsm8k",
        version="1",
        category="text",
        metric="accuracy",
        setting={"shots": SHOTS, "chain_of_thought": True, "decoding": "greedy"},
        description="grade-school math word problems, 8-shot CoT",
    )

    def __init__(self, data_dir=None, chat: bool = False) -> None:
        super().__init__(data_dir)
        self.chat = chat
        self.prefix = INSTRUCTION + "\n\n".join(f"Question: {q}\nAnswer: {a}" for q, a in EXEMPLARS) + "\n\n"

    def samples(self) -> Iterator[Sample]:
        path = fetch_files("gsm8k", self.data_dir)["gsm8k/test.jsonl"]
        with open(path, encoding="utf-8") as lines:
            for index, line in enumerate(lines):
                row = json.loads(line)
                yield Sample(
                    id=f"test-{index}", inputs={"question": row["question"]}, target=gold_answer(row["answer"])
                )

    def request(self, sample: Sample) -> GenerationRequest:
        question = "Question: " + sample.inputs["question"].strip()
        if self.chat:
            messages = (Message("user", self.prefix + question), Message("assistant", "Answer:"))
            return GenerationRequest(messages=messages, stop=STOP, max_tokens=MAX_TOKENS)
        return GenerationRequest(prompt=self.prefix + question + "\nAnswer:", stop=STOP, max_tokens=MAX_TOKENS)

    def score(self, sample: Sample, output: str) -> Score:
        lemur = extract_lemur(output)
        strict, flexible = extract_strict(output), extract_flexible(output)
        return Score(
            float(hf_exact_match(lemur, sample.target)),
            {
                "prediction": lemur,
                "strict": same_number(strict, sample.target),
                "flexible": same_number(flexible, sample.target),
            },
        )

    def aggregate(self, scores) -> dict[str, float]:
        n = len(scores) or 1
        return {
            "accuracy": sum(s.value for s in scores) / n,
            "accuracy_strict": sum(s.details["strict"] for s in scores) / n,
            "accuracy_flexible": sum(s.details["flexible"] for s in scores) / n,
        }
