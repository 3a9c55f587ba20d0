"""DS-1000's loader and scorer on small problems written for this test in the official format.

The real data is not available offline; these fixtures follow its record layout
(``prompt``, ``reference_code``, ``code_context`` with ``test_execution``/``test_string``,
``metadata``) so the same loading, post-processing and sandboxed scoring code runs.
"""

import pytest

from lemur.core.datafiles import DataFileError
from lemur.eval.benchmarks.ds1000 import DS1000, build_program, postprocess


def test_postprocess_follows_the_official_rules(ds1000_problem):
    assert postprocess("result = a.sum(axis=0)\n</code>\nEND") == "result = a.sum(axis=0)\n"
    assert postprocess("```python\nresult = 1\n```\nExplanation") == "\nresult = 1\n"
    assert postprocess("<code>result = 2\nEND SOLUTION\nmore") == "result = 2"
    program = build_program(ds1000_problem, "result = a.sum(axis=0)")
    assert program.endswith("code = 'result = a.sum(axis=0)'\ntest_execution(code)\ntest_string(code)\n")


def test_mirror_is_required_with_a_clear_message(tmp_path):
    with pytest.raises(DataFileError, match="pass --data-dir <DIR>"):
        list(DS1000(data_dir=tmp_path).samples())


def test_reference_solutions_pass_wrong_ones_fail_and_missing_libraries_are_unavailable(ds1000_mirror, local_sandbox):
    bench = DS1000(data_dir=ds1000_mirror, sandbox=local_sandbox)
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
