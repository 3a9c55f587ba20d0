"""MBPP: Mostly Basic Python Problems, 3-shot, scored by running the problem's asserts.

Paper: Austin et al., "Program Synthesis with Large Language Models", 2021 (arXiv 2108.07732).
Source: ``google-research/google-research``, ``mbpp/mbpp.jsonl`` (974 problems), the 2021
version whose SHA-256 the Hugging Face ``mbpp`` loader records (pinned in ``manifests/mbpp.json``).
Upstream has since edited the file in place, so a fresh download may fail the checksum: use a
mirror of the 2021 file with ``--data-dir`` (the error says so).

Setting (Lemur paper, Table 3): 3-shot pass@1, greedy, on the test split (task ids 11–510).
Protocol of the Lemur evaluation scripts: exemplars are problems 2, 3 and 4, each as
``"\\nYou are an expert Python programmer, and here is your task: <text> Your code should pass
these tests:\\n\\n<tests>\\n[BEGIN]\\n<code>"`` followed by ``"\\n[DONE]"``; the test problem ends
with ``[BEGIN]\\n``; the whole prompt is stripped. Stop at ``\\n[DONE]``, ``\\nassert`` or
``\\nprint``; at most 512 new tokens. The program ``completion + "\\n" + test_setup_code +
"\\n" + asserts`` runs in the sandbox (``python3 -I``, 3 s) and passes when it exits with 0.

Known flaw, kept by default (``prompt_style="lemur"``): the scripts' template writes the blank
line after "these tests:" as the two-character text ``\\n\\n`` (a backslash and an ``n``,
twice), not as newlines. ``prompt_style="austin"`` uses real newlines (Austin et al.'s format).

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files
from lemur.eval.benchmarks.execution import ProgramRunner
from lemur.eval.benchmarks.humaneval import aggregate_pass_at_k
from lemur.eval.models.base import GenerationRequest

SHOT_IDS = (2, 3, 4)
TEST_IDS = range(11, 511)
STOP = ("\n[DONE]", "\nassert", "\nprint")
MAX_TOKENS = 512
TIMEOUT = 3.0
_TEMPLATES = {
    "lemur": "\nYou are an expert Python programmer, and here is your task: {text} Your code should pass these "
    "tests:\\n\\n{tests}\n[BEGIN]\n{code}",
    "austin": "\nYou are an expert Python programmer, and here is your task: {text} Your code should pass these "
    "tests:\n\n{tests}\n[BEGIN]\n{code}",
}


def build_program(problem: dict, completion: str) -> str:
    """The program that tests ``completion`` against ``problem``'s asserts."""
    return completion + "\n" + problem.get("test_setup_code", "") + "\n" + "\n".join(problem["test_list"]) + "\n"


class MBPP(Benchmark):
    """MBPP test split, 3-shot (see the module docstring).

    Args:
        data_dir: Local mirror holding ``mbpp/mbpp.jsonl``.
        prompt_style: ``lemur`` (faithful, with the literal ``\\n`` text) or ``austin``.
        sandbox: Sandbox backend that runs the programs.
    """

    spec = BenchmarkSpec(
        name="mbpp",
        version="1",
        category="code",
        metric="pass@1",
        setting={"shots": 3, "decoding": "greedy", "split": "test (task ids 11-510)", "timeout_seconds": TIMEOUT},
        description="basic Python problems, 3-shot pass@1",
    )

    def __init__(self, data_dir=None, prompt_style: str = "lemur", sandbox: str = "local") -> None:
        super().__init__(data_dir)
        if prompt_style not in _TEMPLATES:
            from lemur.core.errors import ConfigError

            raise ConfigError(f"mbpp: prompt_style {prompt_style!r} is not one of {', '.join(_TEMPLATES)}")
        self.template = _TEMPLATES[prompt_style]
        self.runner = ProgramRunner(sandbox)
        self._prefix: str | None = None

    def _problems(self) -> dict[int, dict]:
        path = fetch_files("mbpp", self.data_dir)["mbpp/mbpp.jsonl"]
        with open(path, encoding="utf-8") as lines:
            return {row["task_id"]: row for row in map(json.loads, lines)}

    def samples(self) -> Iterator[Sample]:
        problems = self._problems()
        self._prefix = "".join(
            self.template.format(text=p["text"], tests="\n".join(p["test_list"]), code=p["code"]) + "\n[DONE]"
            for p in (problems[i] for i in SHOT_IDS)
        )
        for task_id in TEST_IDS:
            problem = problems[task_id]
            yield Sample(id=str(task_id), inputs=problem, target=problem["code"])

    def request(self, sample: Sample) -> GenerationRequest:
        if self._prefix is None:
            next(self.samples())
        problem = sample.inputs
        prompt = self._prefix + self.template.format(
            text=problem["text"].strip(), tests="\n".join(problem["test_list"]), code=""
        )
        return GenerationRequest(prompt=prompt.strip(), stop=STOP, max_tokens=MAX_TOKENS)

    def score(self, sample: Sample, output: str) -> Score:
        completion = output.split("\n[DONE]")[0].strip()
        result = self.runner.run_python(build_program(sample.inputs, completion), TIMEOUT)
        return Score(
            float(result.ok), {"problem": sample.id, "timed_out": result.timed_out, "stderr": result.stderr[-1000:]}
        )

    def aggregate(self, scores) -> dict[str, float]:
        return aggregate_pass_at_k(scores, "problem")
