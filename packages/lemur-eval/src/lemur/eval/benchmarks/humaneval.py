"""HumanEval: 164 hand-written Python functions, completed from their signature and docstring.

Paper: Chen et al., "Evaluating Large Language Models Trained on Code", 2021 (arXiv 2107.03374).
Source: ``openai/human-eval`` at commit 6d43fb9, ``data/HumanEval.jsonl.gz``, SHA-256 pinned in
``manifests/humaneval.json``.

Setting (Lemur paper, Table 3): 0-shot pass@1, greedy. The model continues the problem's
prompt; generation stops at the Codex stop sequences (``\\nclass``, ``\\ndef``, ``\\n#``,
``\\nif``, ``\\nprint``); at most 512 new tokens. The program ``prompt + completion + "\\n" +
test + "\\n" + "check(<entry_point>)"`` runs in the sandbox (``python3 -I``, 3 s, as the
original harness) and passes when it exits with status 0. Chat form: the user turn asks
"Complete the following python function.\\n\\n\\n<prompt>" and the assistant turn is opened with
"Here is the completed function:\\n\\n\\n<prompt>" (the Lemur scripts close that turn with
``<|im_end|>`` before the model speaks, which looks like a bug; it is left open here).

Completion post-processing (both reported; ``pass@1`` is the Lemur rule):

* ``lemur`` (faithful): keep the completion up to its last line that starts with ``return``
  (everything after it is dropped; a function without ``return`` loses its whole body).
* ``plain``: the completion as generated.

A fenced code block that defines the entry point is run as the whole solution (chat models
often repeat the function). Samples of the same problem (``n > 1``) give unbiased pass@k.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from collections.abc import Iterator

from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files
from lemur.eval.benchmarks.execution import ProgramRunner, pass_at_k
from lemur.eval.models.base import GenerationRequest, Message

STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MAX_TOKENS = 512
TIMEOUT = 3.0
_FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.DOTALL)


def truncate_after_last_return(completion: str) -> str:
    """The Lemur scripts' post-processing: lines up to the last one starting with ``return``."""
    lines = completion.split("\n")
    index = len(lines) - 1
    while index >= 0 and not lines[index].strip().startswith("return"):
        index -= 1
    return "\n".join(lines[: index + 1]) + "\n"


def build_program(problem: dict, completion: str) -> str:
    """The program that tests ``completion`` of ``problem``."""
    tests = f"\n{problem['test']}\ncheck({problem['entry_point']})\n"
    block = _FENCE.search(completion)
    if block and f"def {problem['entry_point']}" in block.group(1):
        return block.group(1) + tests
    return problem["prompt"] + completion + tests


def aggregate_pass_at_k(scores, problem_key: str, ks=(1, 10, 100)) -> dict[str, float]:
    """Mean unbiased pass@k over problems, for every ``k`` no larger than the fewest samples of a problem."""
    by_problem: dict[str, list[float]] = defaultdict(list)
    for score in scores:
        by_problem[score.details[problem_key]].append(score.value)
    if not by_problem:
        return {"pass@1": 0.0}
    fewest = min(len(values) for values in by_problem.values())
    result = {}
    for k in ks:
        if k <= fewest:
            estimates = [pass_at_k(len(v), int(sum(v)), k) for v in by_problem.values()]
            result[f"pass@{k}"] = sum(estimates) / len(estimates)
    return result


class HumanEval(Benchmark):
    """HumanEval, 0-shot, scored by running the tests in a sandbox (see the module docstring).

    Args:
        data_dir: Local mirror holding ``humaneval/HumanEval.jsonl.gz``.
        chat: Chat-form requests.
        sandbox: Sandbox backend that runs the programs (``local`` or ``docker``).
    """

    spec = BenchmarkSpec(
        name="humaneval",
        version="1",
        category="code",
        metric="pass@1",
        setting={"shots": 0, "decoding": "greedy", "timeout_seconds": TIMEOUT},
        description="Python function completion, pass@1",
    )

    def __init__(self, data_dir=None, chat: bool = False, sandbox: str = "local") -> None:
        super().__init__(data_dir)
        self.chat = chat
        self.runner = ProgramRunner(sandbox)

    def samples(self) -> Iterator[Sample]:
        path = fetch_files("humaneval", self.data_dir)["humaneval/HumanEval.jsonl.gz"]
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                problem = json.loads(line)
                yield Sample(id=problem["task_id"], inputs=problem, target=problem["canonical_solution"])

    def request(self, sample: Sample) -> GenerationRequest:
        prompt = sample.inputs["prompt"]
        if self.chat:
            messages = (
                Message("user", "Complete the following python function.\n\n\n" + prompt),
                Message("assistant", "Here is the completed function:\n\n\n" + prompt),
            )
            return GenerationRequest(messages=messages, stop=STOP, max_tokens=MAX_TOKENS)
        return GenerationRequest(prompt=prompt, stop=STOP, max_tokens=MAX_TOKENS)

    def score(self, sample: Sample, output: str) -> Score:
        lemur_program = build_program(sample.inputs, truncate_after_last_return(output))
        plain_program = build_program(sample.inputs, output)
        lemur = self.runner.run_python(lemur_program, TIMEOUT)
        plain = lemur if plain_program == lemur_program else self.runner.run_python(plain_program, TIMEOUT)
        return Score(
            float(lemur.ok),
            {
                "problem": sample.id,
                "passed_plain": plain.ok,
                "timed_out": lemur.timed_out,
                "stderr": lemur.stderr[-1000:],
            },
        )

    def aggregate(self, scores) -> dict[str, float]:
        result = aggregate_pass_at_k(scores, "problem")
        plain = [s.__class__(float(s.details["passed_plain"]), s.details) for s in scores]
        result["pass@1_plain"] = aggregate_pass_at_k(plain, "problem")["pass@1"]
        return result
