import math

import pytest

from lemur.eval.benchmark import Sample
from lemur.eval.benchmarks.mmlu import MMLU, extract_letter, header


@pytest.fixture(scope="module")
def samples(shared_data):
    return list(MMLU(data_dir=shared_data).samples())


def test_loads_14079_questions_of_57_subjects(samples):
    assert len(samples) == 14079
    assert len({s.inputs["subject"] for s in samples}) == 57
    assert {s.target for s in samples} == {"A", "B", "C", "D"}


def test_prompt_has_five_shots_in_hendrycks_format(samples):
    prompt = samples[0].inputs["prompt"]
    assert prompt.startswith(header("abstract_algebra"))
    assert header("abstract_algebra") == (
        "The following are multiple choice questions (with answers) about  abstract algebra.\n\n"
    )
    assert prompt.count("\nAnswer: ") == 5 and prompt.endswith("over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:")
    requests = MMLU().request(samples[0])
    assert [r.continuation for r in requests] == [" A", " B", " C", " D"]
    assert all(r.context == prompt for r in requests)


def test_loglikelihood_argmax_scoring(samples):
    bench = MMLU()
    sample = samples[0]
    index = "ABCD".index(sample.target)
    best = [-5.0, -5.0, -5.0, -5.0]
    best[index] = -0.1
    worst = [-0.1] * 4
    worst[index] = -9.0
    assert bench.score(sample, best).value == 1.0 and bench.score(sample, worst).value == 0.0
    right = [bench.score(s, [0.0 if c == s.target else -math.inf for c in "ABCD"]) for s in samples]
    assert bench.aggregate(right) == {"accuracy": 1.0}


@pytest.mark.parametrize(
    ("output", "letter"),
    [
        (" B", "B"),
        ("The answer is (C).", "C"),
        ("Answer: D", "D"),
        ("**Answer:** A) 0", "A"),
        ("I think it's B because the group is cyclic.", "B"),
        ("None of these.", None),
    ],
)
def test_generate_mode_reads_chat_style_answers(output, letter):
    assert extract_letter(output) == letter
    bench = MMLU(mode="generate")
    sample = Sample(id="x", inputs={"subject": "s", "prompt": "p"}, target="B")
    assert bench.score(sample, output).value == float(letter == "B")
    assert bench.request(sample).max_tokens == 8
