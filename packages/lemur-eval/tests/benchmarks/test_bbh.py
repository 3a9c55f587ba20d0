import pytest

from lemur.eval.benchmark import Sample
from lemur.eval.benchmarks.bbh import BBH, answer_only_prompt, extract_lemur


@pytest.fixture(scope="module")
def benchmark(shared_data):
    bench = BBH(data_dir=shared_data)
    return bench, list(bench.samples())


def test_loads_27_tasks_and_6511_examples(benchmark):
    _, samples = benchmark
    tasks = {s.inputs["task"] for s in samples}
    assert len(tasks) == 27 and len(samples) == 6511
    assert sum(s.inputs["task"] == "causal_judgement" for s in samples) == 187


def test_prompt_is_answer_only_3_shot(benchmark, shared_data):
    bench, samples = benchmark
    prompt = bench.request(samples[0]).prompt
    assert prompt.startswith("Evaluate the result of a random Boolean expression.\n\nQ: ")
    assert prompt.count("\nA: ") == 4 and "Let's think step by step" not in prompt
    assert prompt.endswith("\n\nQ: not ( True ) and ( True ) is\nA: ")
    for path in sorted((shared_data / "bbh" / "cot-prompts").glob("*.txt")):
        text = answer_only_prompt(path.read_text())
        assert text.count("\nA: ") == 3, path.name


@pytest.mark.parametrize(
    ("output", "target", "lemur", "strict"),
    [
        ("False.", "False", True, True),
        ("(B).", "(B)", True, True),
        ("(B) Adjective order is correct.", "(B)", True, True),
        ("The answer is (C), since the ball is red.", "(C)", True, True),
        ("Plausible.\nActually no.", "plausible", True, True),
        ("Yes!", "Yes", True, False),
        ("valid\n\nQ: next question", "valid", True, True),
        ("Yes", "No", False, False),
        # dyck: punctuation removal makes any bracket string of the same spacing match (a known flaw)
        ("> ] )", "] } ]", True, False),
        ("] } ]", "] } ]", True, True),
    ],
)
def test_extraction_on_realistic_outputs(benchmark, output, target, lemur, strict):
    bench, _ = benchmark
    score = bench.score(Sample(id="x", inputs={"task": "t", "input": "i"}, target=target), output)
    assert (score.value == 1.0, score.details["strict"]) == (lemur, strict)
    assert extract_lemur("  12.  ") == "12"


def test_gold_scores_100_wrong_0_and_mean_is_over_tasks(benchmark):
    bench, samples = benchmark
    right = [bench.score(s, s.target + ".") for s in samples]
    wrong = [bench.score(s, "zzz") for s in samples]
    assert bench.aggregate(right)["exact_match"] == 1.0 and bench.aggregate(right)["exact_match_strict"] == 1.0
    assert bench.aggregate(wrong)["exact_match"] == 0.0
    # macro average: one task all right (187 items) and one all wrong (250 items) average to 0.5, not 187/437
    mixed = [bench.score(s, s.target) for s in samples if s.inputs["task"] == "causal_judgement"]
    mixed += [bench.score(s, "zzz") for s in samples if s.inputs["task"] == "boolean_expressions"]
    assert bench.aggregate(mixed)["exact_match"] == 0.5
