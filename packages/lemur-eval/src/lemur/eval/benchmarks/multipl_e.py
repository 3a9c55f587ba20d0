"""MultiPL-E: HumanEval translated into other programming languages, scored by running the tests.

Paper: Cassano et al., "MultiPL-E: A Scalable and Polyglot Approach to Benchmarking Neural Code
Generation", IEEE TSE 2023 (arXiv 2208.08227). Source: ``nuprl/MultiPL-E`` at commit 0e0f33b,
``prompts/humaneval-<lang>-reworded.json`` for C++, Java, JavaScript, Bash, Rust, PHP, Ruby and
Lua, SHA-256 pinned in ``manifests/multipl-e.json``. Licence: BSD-3 plus a clause forbidding
use as training data.

Setting (Lemur paper, Table 3): 0-shot pass@1, greedy, per language. The model continues the
translated prompt; generation stops at the language's own stop tokens (from the data); the
program ``prompt + completion + "\\n" + tests`` is compiled and run in the sandbox (15 s for
compile and run together) and passes when it exits with status 0 (failed asserts, exceptions
and panics exit non-zero in every language's test harness). The headline ``pass@1`` is the mean
over the evaluated languages; each language's own pass@1 is reported beside it.

A language whose toolchain is not installed is reported as unavailable (its samples are left
out and a warning names the missing tool and the Debian package), never scored as 0.

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from lemur.envs.sandbox import Limits
from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files
from lemur.eval.benchmarks.execution import ProgramRunner
from lemur.eval.benchmarks.humaneval import aggregate_pass_at_k
from lemur.eval.models.base import GenerationRequest

MAX_TOKENS = 512
TIMEOUT = 15.0
GiB = 1024**3
#: MultiPL-E's Java prompts import org.javatuples (Debian: libjavatuples-java).
JAVATUPLES = "/usr/share/java/javatuples.jar"


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """How to build and run one language's program inside the sandbox.

    Attributes:
        language: MultiPL-E's language key (``cpp``).
        file: The source file name the program is written to.
        tools: Executables that must exist (any one of each tuple).
        script: Shell commands that compile and run ``file``; ``{tool}`` is the first tool found.
        debian: The Debian packages that provide the tools.
        files: Other files that must exist (libraries the tests import).
    """

    language: str
    file: str
    tools: tuple[str, ...]
    script: str
    debian: str
    files: tuple[str, ...] = ()

    def find_tool(self) -> str | None:
        """The first of :attr:`tools` on this machine's ``/usr`` (what the sandbox sees), or ``None``.

        ``None`` too when one of :attr:`files` is missing.
        """
        if not all(Path(file).is_file() for file in self.files):
            return None
        for tool in self.tools:
            found = shutil.which(tool, path="/usr/local/bin:/usr/bin:/bin")
            if found:
                return found
        return None


TOOLCHAINS = {
    chain.language: chain
    for chain in (
        Toolchain("cpp", "main.cpp", ("g++",), "{tool} -std=c++17 -o main main.cpp && ./main", "g++"),
        Toolchain(
            "java",
            "Problem.java",
            ("javac",),
            f"{{tool}} -J-Xmx512m -cp {JAVATUPLES} Problem.java && java -Xmx512m -Xss8m -ea -cp {JAVATUPLES}:. Problem",
            "default-jdk-headless libjavatuples-java",
            files=(JAVATUPLES,),
        ),
        Toolchain("js", "main.js", ("node", "nodejs"), "{tool} main.js", "nodejs"),
        Toolchain("sh", "main.sh", ("bash",), "{tool} main.sh", "bash"),
        Toolchain("rs", "main.rs", ("rustc",), "{tool} --edition 2021 -o main main.rs && ./main", "rustc"),
        Toolchain("php", "main.php", ("php",), "{tool} main.php", "php-cli"),
        Toolchain("rb", "main.rb", ("ruby",), "{tool} main.rb", "ruby"),
        Toolchain("lua", "main.lua", ("lua5.4", "lua5.3", "lua"), "{tool} main.lua", "lua5.3 lua-unit"),
    )
}


def build_program(problem: dict, completion: str) -> str:
    """The program that tests ``completion`` of ``problem``."""
    return problem["prompt"] + completion + "\n" + problem["tests"]


class MultiPLE(Benchmark):
    """MultiPL-E HumanEval in eight languages (see the module docstring).

    Args:
        data_dir: Local mirror holding ``multipl-e/prompts/*.json``.
        languages: Languages to evaluate (default: all eight).
        sandbox: Sandbox backend that builds and runs the programs.
    """

    spec = BenchmarkSpec(
        name="multipl-e",
        version="1",
        category="code",
        metric="pass@1",
        setting={"shots": 0, "decoding": "greedy", "languages": sorted(TOOLCHAINS), "timeout_seconds": TIMEOUT},
        description="HumanEval in C++, Java, JS, Bash, Rust, PHP, Ruby, Lua; pass@1",
    )

    def __init__(self, data_dir=None, languages: list[str] | None = None, sandbox: str = "local") -> None:
        super().__init__(data_dir)
        unknown = sorted(set(languages or ()) - set(TOOLCHAINS))
        if unknown:
            from lemur.core.errors import ConfigError

            raise ConfigError(f"multipl-e: unknown languages {unknown}; allowed: {', '.join(sorted(TOOLCHAINS))}")
        self.languages = list(languages or TOOLCHAINS)
        self.runner = ProgramRunner(sandbox, limits=Limits(memory_bytes=8 * GiB, processes=512))
        self.unavailable = {
            language: f"needs {'/'.join(TOOLCHAINS[language].tools)} (Debian: {TOOLCHAINS[language].debian})"
            for language in self.languages
            if TOOLCHAINS[language].find_tool() is None
        }

    def samples(self) -> Iterator[Sample]:
        files = fetch_files("multipl-e", self.data_dir)
        for language, reason in sorted(self.unavailable.items()):
            print(f"multipl-e: {language} unavailable ({reason}); its problems are left out", file=sys.stderr)
        for language in self.languages:
            if language in self.unavailable:
                continue
            problems = json.loads(files[f"multipl-e/prompts/humaneval-{language}-reworded.json"].read_text("utf-8"))
            for problem in problems:
                yield Sample(id=f"{language}/{problem['name']}", inputs={"language": language, **problem})

    def request(self, sample: Sample) -> GenerationRequest:
        stop = tuple(sample.inputs["stop_tokens"])
        return GenerationRequest(prompt=sample.inputs["prompt"], stop=stop, max_tokens=MAX_TOKENS)

    def score(self, sample: Sample, output: str) -> Score:
        chain = TOOLCHAINS[sample.inputs["language"]]
        tool = chain.find_tool()
        script = f"cat > {chain.file} && " + chain.script.format(tool=tool)
        result = self.runner.run(["bash", "-c", script], build_program(sample.inputs, output), TIMEOUT)
        return Score(
            float(result.ok),
            {
                "problem": sample.id,
                "language": chain.language,
                "timed_out": result.timed_out,
                "stderr": result.stderr[-1000:],
            },
        )

    def aggregate(self, scores) -> dict[str, float]:
        by_language = defaultdict(list)
        for score in scores:
            by_language[score.details["language"]].append(score)
        result = {}
        for language, language_scores in sorted(by_language.items()):
            result[f"pass@1/{language}"] = aggregate_pass_at_k(language_scores, "problem")["pass@1"]
        per_language = [value for key, value in result.items() if key.startswith("pass@1/")]
        result["pass@1"] = sum(per_language) / len(per_language) if per_language else 0.0
        return result
