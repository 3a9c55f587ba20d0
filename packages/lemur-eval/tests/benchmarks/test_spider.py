import pytest

from lemur.eval.benchmarks.spider import Spider, extract_sql, results_equal


@pytest.fixture(scope="module")
def spider(tmp_path_factory, shared_data):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEMUR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        bench = Spider(data_dir=shared_data)
        yield bench, list(bench.samples())


def test_results_equal_follows_the_test_suite_rule():
    gold = [(1, "a"), (2, "b")]
    assert results_equal(gold, [("b", 2), ("a", 1)], order_matters=False)  # column permutation, any order
    assert results_equal(gold, [("a", 1), ("b", 2)], order_matters=True)
    assert not results_equal(gold, [("b", 2), ("a", 1)], order_matters=True)
    assert not results_equal([(1,), (1,)], [(1,)], order_matters=False)  # multiset, not set
    assert not results_equal(gold, [(1, "a", 0), (2, "b", 0)], order_matters=False)
    assert results_equal([], [], order_matters=True) and results_equal([(1,)], [(1.0,)], order_matters=False)


def test_extract_sql_from_completions_and_chat():
    assert extract_sql(" count(*) FROM singer") == "SELECT count(*) FROM singer"
    assert extract_sql("Here you go:\n```sql\nSELECT name FROM t;\n```\nDone.") == "SELECT name FROM t"
    assert extract_sql("SELECT 1;") == "SELECT 1"


def test_prompt_shows_the_schema_and_question(spider):
    bench, samples = spider
    prompt = bench.request(samples[0]).prompt
    assert prompt.startswith('CREATE TABLE "concert"') and "COLLATE" not in prompt
    assert prompt.endswith("-- How many singers do we have?\nSELECT")


@pytest.mark.slow
def test_every_gold_query_matches_itself_and_a_wrong_answer_scores_0(spider):
    bench, samples = spider
    assert len(samples) == 1034
    failures = [s.id for s in samples if bench.score(s, s.target).value != 1.0]
    assert failures == []  # no exceptions on the converted databases
    wrong = [bench.score(s, "SELECT 'lemur-wrong-answer'") for s in samples]
    assert bench.aggregate(wrong) == {"execution_accuracy": 0.0, "execution_accuracy_no_distinct": 0.0}
    right = [bench.score(s, " " + s.target[len("SELECT ") :]) for s in samples[:50]]
    assert bench.aggregate(right)["execution_accuracy"] == 1.0
