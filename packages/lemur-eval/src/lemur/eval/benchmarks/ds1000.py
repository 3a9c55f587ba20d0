"""DS-1000: data-science code generation over seven Python libraries, scored by running each problem's tests.

Paper: Lai et al., "DS-1000: A Natural and Reliable Benchmark for Data Science Code
Generation", ICML 2023 (arXiv 2211.11501). Official source: ``xlang-ai/DS-1000`` (the 2024
simplified release, also on Hugging Face as ``xlangai/DS-1000``): one JSON line per problem with
``prompt``, ``reference_code``, ``code_context`` and ``metadata`` (``problem_id``, ``library``,
``perturbation_type``, …). No revision of that file could be checksum-pinned offline, so this
module reads it only from a local mirror (``--data-dir`` holding ``ds1000/ds1000.jsonl`` or
``ds1000/ds1000.jsonl.gz``) and records in the results that it was not checksum-verified.

Setting (Lemur paper, Table 3): 0-shot completion, greedy, accuracy. The model continues the
problem's prompt; generation stops at ``</code>`` or ``# SOLUTION END``. The official post-
processing takes the text before ``</code>``, drops Markdown fences and ``END SOLUTION``; the
test program is ``code_context`` followed by ``code = <repr(solution)>``,
``test_execution(code)`` and, when the context defines it, ``test_string(code)``. It runs in the
sandbox (60 s) and passes when it exits with status 0. Accuracy is reported overall, per library
and per perturbation type. A library that the sandbox's Python cannot import is reported as
unavailable and its problems are left out, never scored as 0.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from lemur.core.datafiles import DataFileError
from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.execution import ProgramRunner
from lemur.eval.models.base import GenerationRequest

STOP = ("</code>", "# SOLUTION END")
MAX_TOKENS = 1024
TIMEOUT = 60.0
#: DS-1000's library names and the module each needs.
LIBRARIES = {
    "Numpy": "numpy",
    "Pandas": "pandas",
    "Matplotlib": "matplotlib",
    "Scipy": "scipy",
    "Sklearn": "sklearn",
    "Pytorch": "torch",
    "Tensorflow": "tensorflow",
}


def postprocess(output: str) -> str:
    """The official post-processing of a completion into the solution code."""
    code = output.split("</code>")[0].replace("```python", "")
    code = code.split("```")[0].split("\nEND SOLUTION")[0]
    return code.replace("<code>", "")


def build_program(problem: dict, code: str) -> str:
    """The program that tests ``code`` with ``problem``'s ``code_context``."""
    program = problem["code_context"] + "\n" + f"code = {code!r}\n" + "test_execution(code)\n"
    if "test_string(" in problem["code_context"]:
        program += "test_string(code)\n"
    return program


def find_data_file(data_dir: Path | None) -> Path:
    """The DS-1000 file in the mirror ``data_dir``.

    Raises:
        DataFileError: No mirror was given, or it holds no ``ds1000/ds1000.jsonl[.gz]``.
    """
    if data_dir is not None:
        for name in ("ds1000.jsonl", "ds1000.jsonl.gz"):
            if (data_dir / "ds1000" / name).is_file():
                return data_dir / "ds1000" / name
    raise DataFileError(
        "DS-1000 is read only from a local mirror: save the official test set (xlang-ai/DS-1000, "
        "data/ds1000.jsonl.gz) as <DIR>/ds1000/ds1000.jsonl.gz and pass --data-dir <DIR>"
    )


class DS1000(Benchmark):
    """DS-1000, completion mode (see the module docstring).

    Args:
        data_dir: Mirror holding ``ds1000/ds1000.jsonl`` or ``.jsonl.gz`` (required).
        sandbox: Sandbox backend whose Python runs the tests (its image must have the libraries).
    """

    spec = BenchmarkSpec(
        name="ds-1000",
        version="1",
        category="code",
        metric="accuracy",
        setting={"shots": 0, "mode": "completion", "decoding": "greedy", "timeout_seconds": TIMEOUT},
        description="data-science code in 7 Python libraries, accuracy",
    )

    def __init__(self, data_dir=None, sandbox: str = "local") -> None:
        super().__init__(data_dir)
        self.runner = ProgramRunner(sandbox)
        self.unavailable: dict[str, str] = {}

    def _available(self, library: str) -> bool:
        if library not in self.unavailable and not hasattr(self, f"_checked_{library}"):
            module = LIBRARIES.get(library, library.lower())
            result = self.runner.run_python(f"import {module}\n", timeout=TIMEOUT)
            if not result.ok:
                self.unavailable[library] = f"the sandbox's python3 cannot import {module}"
                print(
                    f"ds-1000: {library} unavailable ({self.unavailable[library]}); its problems are left out",
                    file=sys.stderr,
                )
            setattr(self, f"_checked_{library}", True)
        return library not in self.unavailable

    def samples(self) -> Iterator[Sample]:
        path = find_data_file(self.data_dir)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                problem = json.loads(line)
                library = problem["metadata"]["library"]
                if self._available(library):
                    yield Sample(
                        id=str(problem["metadata"]["problem_id"]), inputs=problem, target=problem["reference_code"]
                    )

    def request(self, sample: Sample) -> GenerationRequest:
        return GenerationRequest(prompt=sample.inputs["prompt"], stop=STOP, max_tokens=MAX_TOKENS)

    def score(self, sample: Sample, output: str) -> Score:
        result = self.runner.run_python(build_program(sample.inputs, postprocess(output)), TIMEOUT)
        metadata = sample.inputs["metadata"]
        return Score(
            float(result.ok),
            {
                "library": metadata["library"],
                "perturbation": metadata.get("perturbation_type", ""),
                "timed_out": result.timed_out,
                "stderr": result.stderr[-1000:],
            },
        )

    def aggregate(self, scores) -> dict[str, float]:
        groups: dict[str, list[float]] = defaultdict(list)
        for score in scores:
            groups[f"accuracy/{score.details['library']}"].append(score.value)
            groups[f"accuracy/perturbation/{score.details['perturbation']}"].append(score.value)
        result = {"accuracy": sum(s.value for s in scores) / len(scores) if scores else 0.0}
        result.update({key: sum(values) / len(values) for key, values in sorted(groups.items())})
        return result
