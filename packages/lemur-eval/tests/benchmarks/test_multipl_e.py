"""MultiPL-E on the real translated prompts and tests, in every language whose toolchain is installed.

The data ships no translated canonical solutions, so each language gets a hand-written correct
and wrong completion of ``HumanEval_53_add`` (written for this test).
"""

import pytest

from lemur.eval.benchmarks.multipl_e import TOOLCHAINS, MultiPLE

ADD = {
    "cpp": ("    return x + y;\n", "    return x - y;\n"),
    "java": ("        return x + y;\n", "        return x - y;\n"),
    "js": ("  return x + y;\n}\n", "  return x - y;\n}\n"),
    "sh": ("    echo $(( $1 + $2 ))\n", "    echo $(( $1 - $2 ))\n"),
    "rs": ("    x + y\n", "    x - y\n"),
    "php": ("    return $x + $y;\n}\n", "    return $x - $y;\n}\n"),
    "rb": ("  x + y\nend\n", "  x - y\nend\n"),
    "lua": ("    return x + y\nend\n", "    return x - y\nend\n"),
}


@pytest.fixture(scope="module")
def problems(shared_data):
    bench = MultiPLE(data_dir=shared_data, languages=sorted(set(TOOLCHAINS) - {"java"}) + ["java"])
    return bench, {s.id: s for s in bench.samples()}


@pytest.mark.parametrize("language", sorted(TOOLCHAINS))
def test_right_completion_passes_and_wrong_one_fails(problems, language, local_sandbox):
    bench, samples = problems
    if language in bench.unavailable:
        pytest.skip(f"{language} toolchain not installed: {bench.unavailable[language]}")
    sample = samples[f"{language}/HumanEval_53_add"]
    right, wrong = ADD[language]
    passed = bench.score(sample, right)
    assert passed.value == 1.0, passed.details["stderr"]
    failed = bench.score(sample, wrong)
    assert failed.value == 0.0 and not failed.details["timed_out"]


def test_loads_all_languages_with_their_stop_tokens(problems):
    bench, samples = problems
    counts = {language: sum(s.inputs["language"] == language for s in samples.values()) for language in TOOLCHAINS}
    expected = {"cpp": 161, "java": 158, "js": 161, "sh": 158, "rs": 156, "php": 161, "rb": 161, "lua": 161}
    assert {k: v for k, v in counts.items() if k not in bench.unavailable} == {
        k: v for k, v in expected.items() if k not in bench.unavailable
    }
    js = next(s for s in samples.values() if s.inputs["language"] == "js")
    assert bench.request(js).stop == ("\nfunction ", "\n/*", "\n//", "\nconsole.log")


def test_aggregate_is_mean_over_languages():
    bench = MultiPLE(languages=["cpp"])
    scores = [
        bench_score(1.0, "cpp", "a"),
        bench_score(0.0, "cpp", "b"),
        bench_score(1.0, "lua", "c"),
    ]
    assert bench.aggregate(scores) == {"pass@1/cpp": 0.5, "pass@1/lua": 1.0, "pass@1": 0.75}


def bench_score(value, language, problem):
    from lemur.eval.benchmark import Score

    return Score(value, {"language": language, "problem": f"{language}/{problem}"})


def test_unknown_language_is_a_config_error():
    from lemur.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown languages \\['cobol'\\]; allowed: cpp, java, js, lua"):
        MultiPLE(languages=["cobol"])
