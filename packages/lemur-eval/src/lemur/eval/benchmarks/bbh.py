"""BIG-Bench Hard (BBH): 27 hard BIG-Bench tasks, 3-shot, answer only (no chain of thought).

Paper: Suzgun et al., "Challenging BIG-Bench Tasks and Whether Chain-of-Thought Can Solve
Them", 2022 (arXiv 2210.09261). Source: ``suzgunmirac/BIG-Bench-Hard`` at commit 9ee07bd,
``bbh/<task>.json`` (6,511 examples) and ``cot-prompts/<task>.txt`` (3 exemplars per task),
SHA-256 pinned in ``manifests/bbh.json``.

Setting (Lemur paper, Table 3): 3-shot without chain of thought, greedy, exact match averaged
per task over the 27 tasks (macro). Protocol of the Lemur evaluation scripts: each task's CoT
prompt file minus its first two lines, every exemplar's reasoning replaced by the text after
"So the answer is" (keeping its final period, e.g. ``A: (B).``); prompt =
``<task prompt>.strip() + "\\n\\nQ: " + input + "\\nA: "``; stop at the first newline; at most
512 new tokens. In chat form the user turn holds ``<task prompt>\\n\\nQ: <input>`` and the
assistant turn is opened with ``"A:"``.

Answer extraction (both reported; ``exact_match`` is the Lemur rule):

* ``lemur`` (faithful): first paragraph of the output, text before its first period, and for
  multiple choice the first ``(X)``; compared by HF ``exact_match`` ignoring case and all
  punctuation. Known flaw: for ``dyck_languages`` the targets are bracket sequences, so once
  punctuation is removed only the spacing is compared; any bracket string of the right length
  matches.
* ``strict``: the first line of the output with whitespace and one final period stripped,
  (for multiple choice: the first ``(X)``), equal to the target ignoring case only.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from statistics import fmean

from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files, hf_exact_match
from lemur.eval.models.base import GenerationRequest, Message

SHOTS = 3
STOP = ("\n",)
MAX_TOKENS = 512
ANSWER_MARK = "So the answer is"
_CHOICE = re.compile(r"\(\w\)")
_BEFORE_PERIOD = re.compile(r"(.*?)\.")


def answer_only_prompt(cot_prompt_file: str) -> str:
    """Turn a BBH chain-of-thought prompt file into the 3-shot answer-only task prompt."""
    body = "".join(cot_prompt_file.splitlines(keepends=True)[2:])
    blocks = []
    for block in body.split("\n\n"):
        if block.startswith("Q:"):
            if ANSWER_MARK not in block or "\nA:" not in block:
                raise ValueError(f"exemplar without {ANSWER_MARK!r} or 'A:': {block[:60]!r}")
            block = block.split("\nA:")[0].strip() + "\nA: " + block.split(ANSWER_MARK)[-1].strip()
        blocks.append(block)
    return "\n\n".join(blocks)


def extract_lemur(output: str) -> str:
    """The Lemur scripts' prediction (see the module docstring)."""
    output = output.strip().split("\n\n")[0].strip()
    match = _BEFORE_PERIOD.search(output)
    prediction = match.group(1).strip() if match else output.strip()
    if "(" in prediction and ")" in prediction and "[" not in prediction and "]" not in prediction:
        choice = _CHOICE.search(prediction)
        prediction = choice.group(0) if choice else prediction
    return prediction


def extract_strict(output: str, target: str) -> str:
    """First line, whitespace and one final period stripped; the first ``(X)`` when the target is a choice."""
    lines = output.strip().splitlines()
    line = lines[0].strip() if lines else ""
    line = line[:-1].rstrip() if line.endswith(".") else line
    if _CHOICE.fullmatch(target):
        choice = _CHOICE.search(line)
        return choice.group(0) if choice else line
    return line


class BBH(Benchmark):
    """BIG-Bench Hard, 3-shot answer-only (see the module docstring).

    Args:
        data_dir: Local mirror holding ``bbh/bbh/*.json`` and ``bbh/cot-prompts/*.txt``.
        chat: Build chat messages (assistant turn opened with ``"A:"``) instead of a raw prompt.
        tasks: Only these task names (default: all 27).
    """

    spec = BenchmarkSpec(
        name="bbh",
        version="1",
        category="text",
        metric="exact_match",
        setting={"shots": SHOTS, "chain_of_thought": False, "decoding": "greedy", "aggregation": "mean over tasks"},
        description="BIG-Bench Hard, 27 tasks, 3-shot answer only",
    )

    def __init__(self, data_dir=None, chat: bool = False, tasks: list[str] | None = None) -> None:
        super().__init__(data_dir)
        self.chat = chat
        self.tasks = tasks
        self._prompts: dict[str, str] = {}

    def samples(self) -> Iterator[Sample]:
        files = fetch_files("bbh", self.data_dir)
        task_files = {
            path.rsplit("/", 1)[1][: -len(".json")]: local
            for path, local in files.items()
            if path.startswith("bbh/bbh/") and path.endswith(".json")
        }
        for task in sorted(task_files):
            if self.tasks is not None and task not in self.tasks:
                continue
            prompt_file = files[f"bbh/cot-prompts/{task}.txt"]
            self._prompts[task] = answer_only_prompt(prompt_file.read_text(encoding="utf-8"))
            examples = json.loads(task_files[task].read_text(encoding="utf-8"))["examples"]
            for index, example in enumerate(examples):
                yield Sample(
                    id=f"{task}-{index}", inputs={"task": task, "input": example["input"]}, target=example["target"]
                )

    def request(self, sample: Sample) -> GenerationRequest:
        task_prompt = self._task_prompt(sample.inputs["task"]).strip()
        if self.chat:
            messages = (Message("user", f"{task_prompt}\n\nQ: {sample.inputs['input']}"), Message("assistant", "A:"))
            return GenerationRequest(messages=messages, stop=STOP, max_tokens=MAX_TOKENS)
        return GenerationRequest(
            prompt=f"{task_prompt}\n\nQ: {sample.inputs['input']}\nA: ", stop=STOP, max_tokens=MAX_TOKENS
        )

    def _task_prompt(self, task: str) -> str:
        if task not in self._prompts:
            local = fetch_files("bbh", self.data_dir)[f"bbh/cot-prompts/{task}.txt"]
            self._prompts[task] = answer_only_prompt(local.read_text(encoding="utf-8"))
        return self._prompts[task]

    def score(self, sample: Sample, output: str) -> Score:
        prediction = extract_lemur(output)
        strict = extract_strict(output, sample.target).lower() == sample.target.lower()
        return Score(
            float(hf_exact_match(prediction, sample.target)),
            {"task": sample.inputs["task"], "prediction": prediction, "strict": strict},
        )

    def aggregate(self, scores) -> dict[str, float]:
        by_task: dict[str, list[Score]] = defaultdict(list)
        for score in scores:
            by_task[score.details["task"]].append(score)
        if not by_task:
            return {"exact_match": 0.0, "exact_match_strict": 0.0}
        result = {
            "exact_match": fmean(fmean(s.value for s in task) for task in by_task.values()),
            "exact_match_strict": fmean(fmean(float(s.details["strict"]) for s in task) for task in by_task.values()),
        }
        for task, task_scores in sorted(by_task.items()):
            result[f"exact_match/{task}"] = fmean(s.value for s in task_scores)
        return result
