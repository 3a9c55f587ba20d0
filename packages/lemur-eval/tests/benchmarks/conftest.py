import json

import pytest


@pytest.fixture(scope="session")
def local_sandbox():
    """Skip unless the local (bubblewrap) sandbox can run here; its message says why not."""
    from lemur.envs.sandbox import SandboxUnavailableError, get_backend

    try:
        get_backend("local").check_available()
    except SandboxUnavailableError as error:
        pytest.skip(f"local sandbox unavailable: {error}")
    return "local"


# DS-1000 problems written for the tests in the official record format (the real data is not offline).
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

DS1000_PROBLEMS = [
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
def ds1000_mirror(tmp_path):
    """A data mirror holding ``ds1000/ds1000.jsonl`` with :data:`DS1000_PROBLEMS`."""
    (tmp_path / "ds1000").mkdir()
    (tmp_path / "ds1000" / "ds1000.jsonl").write_text("".join(json.dumps(p) + "\n" for p in DS1000_PROBLEMS))
    return tmp_path


@pytest.fixture
def ds1000_problem(ds1000_mirror):
    """The first DS-1000 test problem (a NumPy one)."""
    return DS1000_PROBLEMS[0]
