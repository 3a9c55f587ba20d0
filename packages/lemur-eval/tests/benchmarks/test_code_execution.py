"""HumanEval and MBPP scored by running programs in the local sandbox, on the real data."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from lemur.eval.benchmark import Sample
from lemur.eval.benchmarks.execution import pass_at_k
from lemur.eval.benchmarks.humaneval import HumanEval, build_program, truncate_after_last_return
from lemur.eval.benchmarks.mbpp import MBPP

#: MBPP gold programs that may exceed the 3 s limit on a loaded 2-core machine (they pass given time).
MBPP_SLOW_GOLD = {"123"}  # amicable numbers below 9,999: about 2-10 s in CPython


def score_all(bench, pairs):
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda pair: bench.score(*pair), pairs))


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [(200, 20, 1, 0.1), (200, 20, 10, 0.660226), (10, 3, 5, 0.916667), (1, 1, 1, 1.0), (5, 0, 5, 0.0)],
)
def test_unbiased_pass_at_k(n, c, k, expected):
    from math import comb

    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-6)
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_lemur_post_processing_and_fenced_solutions():
    assert truncate_after_last_return("    x = 1\n    return x\nprint(x)\n") == "    x = 1\n    return x\n"
    assert truncate_after_last_return("    pass\n") == "\n"
    problem = {"prompt": "def f():\n", "test": "def check(c):\n    assert c() == 1", "entry_point": "f"}
    fenced = "Sure:\n```python\ndef f():\n    return 1\n```"
    assert build_program(problem, fenced).startswith("def f():\n    return 1\n\ndef check")


@pytest.mark.slow
def test_humaneval_canonical_solutions_all_pass_and_wrong_ones_fail(shared_data, local_sandbox):
    bench = HumanEval(data_dir=shared_data, sandbox=local_sandbox)
    samples = list(bench.samples())
    assert len(samples) == 164
    right = score_all(bench, [(s, s.target) for s in samples])
    assert [s.details["problem"] for s in right if s.value != 1.0] == []
    assert bench.aggregate(right) == {"pass@1": 1.0, "pass@1_plain": 1.0}
    wrong = score_all(bench, [(s, "    pass\n") for s in samples[:20]])
    assert bench.aggregate(wrong)["pass@1"] == 0.0
    assert bench.request(samples[0]).stop == ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


@pytest.mark.slow
def test_mbpp_gold_code_passes_its_asserts(shared_data, local_sandbox):
    bench = MBPP(data_dir=shared_data, sandbox=local_sandbox)
    samples = list(bench.samples())
    assert [s.id for s in samples[:2]] == ["11", "12"] and len(samples) == 500
    scores = score_all(bench, [(s, s.target) for s in samples])
    failed = {s.details["problem"]: s.details for s in scores if s.value != 1.0}
    assert set(failed) <= MBPP_SLOW_GOLD and all(d["timed_out"] for d in failed.values()), failed
    wrong = score_all(bench, [(s, "def nothing():\n    return None") for s in samples[:20]])
    assert bench.aggregate(wrong) == {"pass@1": 0.0}


def test_mbpp_prompt_is_lemur_3_shot(shared_data):
    bench = MBPP(data_dir=shared_data)
    sample = next(bench.samples())
    prompt = bench.request(sample).prompt
    assert prompt.startswith("You are an expert Python programmer, and here is your task: Write a function to find")
    assert prompt.count("[DONE]") == 3 and prompt.endswith("[BEGIN]")
    assert "these tests:\\n\\nassert" in prompt  # the scripts' literal backslash-n text, kept on purpose
    austin = MBPP(data_dir=shared_data, prompt_style="austin")
    austin_sample = next(austin.samples())
    assert "these tests:\n\nassert" in austin.request(austin_sample).prompt


def test_sandboxed_program_cannot_escape(local_sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    bench = HumanEval(sandbox=local_sandbox)
    problem = {"prompt": "def f():\n", "test": "def check(c):\n    c()", "entry_point": "f"}
    sample = Sample(id="x", inputs=problem)
    escaped = bench.score(sample, f"    print(open({str(secret)!r}).read())\n    return 1\n")
    assert escaped.value == 0.0 and "top secret" not in escaped.details["stderr"]
    assert "No such file" in escaped.details["stderr"] or "Permission" in escaped.details["stderr"]


def test_zygote_children_are_isolated_and_cleaned_up(local_sandbox):
    from lemur.eval.benchmarks.execution import ProgramRunner

    runner = ProgramRunner(local_sandbox)
    fds = runner.run_python("import os\nprint(sorted(os.listdir('/proc/self/fd')))", 3.0)
    assert fds.stdout == "['0', '1', '2', '3']\n"  # 3 is listdir's own descriptor: no protocol pipes
    peek = runner.run_python("import os\nos.listdir(f'/proc/{os.getppid()}/fd')", 3.0)
    assert peek.exit_code == 1 and "PermissionError" in peek.stderr  # the zygote is not dumpable
    count = "import os\nprint(sum(name.isdigit() for name in os.listdir('/proc')))"
    before = runner.run_python(count, 3.0).stdout
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\nprint('parent done')"
    assert runner.run_python(daemon, 3.0).stdout == "parent done\n"
    assert runner.run_python(count, 3.0).stdout == before  # the daemon that left the session is gone
    loop = runner.run_python("while True:\n    pass", 1.0)
    assert loop.timed_out and loop.exit_code == 137
    runner.run_python("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", 3.0)
    assert runner.run_python("print(6 * 7)", 3.0).stdout == "42\n"  # a killed zygote is replaced
    runner.close()
