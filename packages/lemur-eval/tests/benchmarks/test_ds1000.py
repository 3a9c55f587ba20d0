"""DS-1000's loader and scorer on small problems written for this test in the official format.

The real data is not available offline; these fixtures follow its record layout
(``prompt``, ``reference_code``, ``code_context`` with ``test_execution``/``test_string``,
``metadata``) so the same loading, post-processing and sandboxed scoring code runs.
"""

import json

import pytest

from lemur.core.datafiles import DataFileError
from lemur.eval.benchmarks.ds1000 import DS1000, build_program, postprocess

NUMPY_CONTEXT = '''
import numpy as np

def generate_test_case(test_case_id):
    a = np.arange(12).reshape(3, 4)
    return a, a.sum(axis=0)

def exec_test(result, ans):
    np.testing.assert_array_equal(result, ans)
    return 1

exec_context = r"""
import numpy as np
a = test_input
[insert]
"""

def test_execution(solution: str):
    code = exec_context.replace("[insert]", solution)
    test_input, expected = generate_test_case(1)
    env = {"test_input": test_input}
    exec(code, env)
    assert exec_test(env["result"], expected)

def test_string(solution: str):
    assert "for" not in solution, "loops are not allowed"
'''

PANDAS_CONTEXT = """
import pandas as pd

def test_execution(solution: str):
    df = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
    env = {"df": df, "pd": pd}
    exec(solution, env)
    assert env["result"].to_dict() == {"a": 4, "b": 2}
"""

PROBLEMS = [
    {
        "prompt": "Problem:\nSum the columns of a.\nA:\n<code>\nimport numpy as np\na = ...\n</code>\nresult = ...\n"
        "BEGIN SOLUTION\n<code>\n",
        "reference_code": "result = a.sum(axis=0)",
        "code_context": NUMPY_CONTEXT,
        "metadata": {"problem_id": 0, "library": "Numpy", "perturbation_type": "Origin", "test_case_cnt": 1},
    },
    {
        "prompt": "Problem:\nSum v by k.\nA:\n<code>\nimport pandas as pd\n</code>\nresult = ...\n"
        "BEGIN SOLUTION\n<code>\n",
        "reference_code": 'result = df.groupby("k")["v"].sum()',
        "code_context": PANDAS_CONTEXT,
        "metadata": {"problem_id": 1, "library": "Pandas", "perturbation_type": "Semantic", "test_case_cnt": 1},
    },
    {
        "prompt": "Problem:\nA library this sandbox lacks.\n<code>\n",
        "reference_code": "result = 1",
        "code_context": "import lemur_missing_library_xyz\ndef test_execution(solution):\n    pass\n",
        "metadata": {"problem_id": 2, "library": "Lemur_missing_library_xyz", "perturbation_type": "Origin"},
    },
]


@pytest.fixture
def mirror(tmp_path):
    (tmp_path / "ds1000").mkdir()
    (tmp_path / "ds1000" / "ds1000.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    return tmp_path


def test_postprocess_follows_the_official_rules():
    assert postprocess("result = a.sum(axis=0)\n</code>\nEND") == "result = a.sum(axis=0)\n"
    assert postprocess("```python\nresult = 1\n```\nExplanation") == "\nresult = 1\n"
    assert postprocess("<code>result = 2\nEND SOLUTION\nmore") == "result = 2"
    program = build_program(PROBLEMS[0], "result = a.sum(axis=0)")
    assert program.endswith("code = 'result = a.sum(axis=0)'\ntest_execution(code)\ntest_string(code)\n")


def test_mirror_is_required_with_a_clear_message(tmp_path):
    with pytest.raises(DataFileError, match="pass --data-dir <DIR>"):
        list(DS1000(data_dir=tmp_path).samples())


def test_reference_solutions_pass_wrong_ones_fail_and_missing_libraries_are_unavailable(mirror, local_sandbox):
    bench = DS1000(data_dir=mirror, sandbox=local_sandbox)
    samples = list(bench.samples())
    assert "Lemur_missing_library_xyz" in bench.unavailable
    assert [s.id for s in samples if s.inputs["metadata"]["library"] == "Numpy"] == ["0"]
    for library, module in (("Numpy", "numpy"), ("Pandas", "pandas")):
        if library in bench.unavailable:
            pytest.skip(f"the sandbox's python3 lacks {module} (Debian: python3-{module})")
    right = [bench.score(s, s.target + "\n</code>") for s in samples]
    assert bench.aggregate(right) == {
        "accuracy": 1.0,
        "accuracy/Numpy": 1.0,
        "accuracy/Pandas": 1.0,
        "accuracy/perturbation/Origin": 1.0,
        "accuracy/perturbation/Semantic": 1.0,
    }
    loop = "result = np.array([sum(col) for col in a.T])"  # right answer, but test_string forbids loops
    wrong = [bench.score(samples[0], loop), bench.score(samples[1], "result = df['v']")]
    assert bench.aggregate(wrong)["accuracy"] == 0.0
