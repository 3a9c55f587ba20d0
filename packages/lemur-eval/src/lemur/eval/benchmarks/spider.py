"""Spider: text-to-SQL on the 20 dev databases, scored by execution accuracy (EX).

Paper: Yu et al., "Spider: A Large-Scale Human-Labeled Dataset for Complex and Cross-Domain
Semantic Parsing and Text-to-SQL Task", EMNLP 2018. Questions and gold queries:
``taoyds/spider`` at commit b7b5b8c, ``evaluation_examples/examples/dev.json`` (1,034). The
official SQLite databases are not distributed at a pinned address; the databases come from the
MySQL dump of the same 20 dev databases in ``princeton-nlp/intercode`` at commit c3e46d8
(``data/sql/spider/ic_spider_dbs.sql``), converted to SQLite once (``lemur.envs.sql.mysql_dump``;
text compares case-insensitively as in MySQL). All files are SHA-256 pinned in ``manifests/``.

Setting (Lemur paper, Table 3): 0-shot, greedy, execution accuracy. The paper does not publish
its Spider prompt; this uses the "CreateTable" format of Rajkumar et al. (2022): the schema's
``CREATE TABLE`` statements, ``-- Using valid SQLite, answer the following questions for the
tables provided above.``, ``-- <question>``, then ``SELECT`` for the model to continue; stop at
``;`` or a blank line. Chat form: the same text as the user turn, the assistant turn opened
with ``SELECT``.

Scoring follows the test-suite evaluator's ``eval_exec_match`` (Zhong et al. 2020): gold and
prediction run on the database (each with a real 30 s interrupt); a prediction error is wrong;
results are equal when both are empty, or when some permutation of the prediction's columns
makes the rows equal as a list (the gold query has ``ORDER BY``) or as a multiset (otherwise).
``DISTINCT`` is kept (the test-suite's ``keep_distinct=False`` default strips it from both
queries; reported as ``execution_accuracy_no_distinct``).

Change log:
* 1 (2026-11-27): first version.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from lemur.eval.benchmark import Benchmark, BenchmarkSpec, Sample, Score
from lemur.eval.benchmarks.common import fetch_files
from lemur.eval.models.base import GenerationRequest, Message

STOP = (";", "\n\n")
MAX_TOKENS = 256
TIMEOUT = 30.0
INSTRUCTION = "-- Using valid SQLite, answer the following questions for the tables provided above."
_CODE_BLOCK = re.compile(r"```(?:sql)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_DISTINCT = re.compile(r"\bDISTINCT\b", re.IGNORECASE)


def results_equal(gold: Sequence[tuple], predicted: Sequence[tuple], order_matters: bool) -> bool:
    """Whether two result sets are equal up to a permutation of the prediction's columns.

    Rows compare as a list when ``order_matters``, else as a multiset.
    """
    if not gold and not predicted:
        return True
    if len(gold) != len(predicted):
        return False
    width = len(gold[0])
    if any(len(row) != width for row in predicted):
        return False
    gold_columns = [collections.Counter(row[i] for row in gold) for i in range(width)]
    predicted_columns = [collections.Counter(row[i] for row in predicted) for i in range(width)]
    candidates = [[j for j in range(width) if predicted_columns[j] == gold_columns[i]] for i in range(width)]
    for permutation in itertools.product(*candidates):
        if len(set(permutation)) != width:
            continue
        permuted = [tuple(row[j] for j in permutation) for row in predicted]
        if order_matters and permuted == list(gold):
            return True
        if not order_matters and collections.Counter(permuted) == collections.Counter(gold):
            return True
    return False


def extract_sql(output: str, opened_with_select: bool = True) -> str:
    """The SQL in a model's output: a fenced block if there is one, else the text; ``SELECT`` restored."""
    block = _CODE_BLOCK.search(output)
    sql = (block.group(1) if block else output).strip().rstrip(";").strip()
    if opened_with_select and not block and not sql.upper().startswith(("SELECT", "WITH")):
        sql = "SELECT " + sql
    return sql


class Spider(Benchmark):
    """Spider dev, execution accuracy on SQLite (see the module docstring).

    Args:
        data_dir: Local mirror holding ``spider/…`` and ``intercode/data/sql/spider/…``.
        chat: Put the prompt in a user turn and open the assistant turn with ``SELECT``.
    """

    spec = BenchmarkSpec(
        name="spider",
        version="1",
        category="code",
        metric="execution_accuracy",
        setting={"shots": 0, "prompt": "CreateTable (Rajkumar et al. 2022)", "databases": "SQLite from InterCode dump"},
        description="text-to-SQL, Spider dev, execution accuracy",
    )

    def __init__(self, data_dir=None, chat: bool = False) -> None:
        super().__init__(data_dir)
        self.chat = chat
        self._databases: dict[str, Path] | None = None
        self._schemas: dict[str, str] = {}

    def databases(self) -> dict[str, Path]:
        """The SQLite file of each database (converted on first use)."""
        if self._databases is None:
            from lemur.envs.intercode.data import spider_sqlite_databases

            self._databases = spider_sqlite_databases(self.data_dir)
        return self._databases

    def schema(self, db_id: str) -> str:
        """The ``CREATE TABLE`` statements of database ``db_id``."""
        if db_id not in self._schemas:
            import sqlite3

            connection = sqlite3.connect(f"file:{self.databases()[db_id]}?mode=ro", uri=True)
            rows = connection.execute("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid").fetchall()
            connection.close()
            # the collation is a conversion detail, not part of the schema the model should see
            self._schemas[db_id] = "\n\n".join(row[0] for row in rows).replace(" COLLATE NOCASE", "")
        return self._schemas[db_id]

    def samples(self) -> Iterator[Sample]:
        files = fetch_files("spider", self.data_dir)
        questions = json.loads(files["spider/evaluation_examples/examples/dev.json"].read_text(encoding="utf-8"))
        for index, row in enumerate(questions):
            yield Sample(
                id=f"dev-{index}", inputs={"db_id": row["db_id"], "question": row["question"]}, target=row["query"]
            )

    def request(self, sample: Sample) -> GenerationRequest:
        text = f"{self.schema(sample.inputs['db_id'])}\n\n{INSTRUCTION}\n\n-- {sample.inputs['question']}\n"
        if self.chat:
            messages = (Message("user", text), Message("assistant", "SELECT"))
            return GenerationRequest(messages=messages, stop=STOP, max_tokens=MAX_TOKENS)
        return GenerationRequest(prompt=text + "SELECT", stop=STOP, max_tokens=MAX_TOKENS)

    def score(self, sample: Sample, output: str) -> Score:
        predicted = extract_sql(output)
        exact = self._match(sample, sample.target, predicted)
        loose = self._match(sample, _DISTINCT.sub("", sample.target), _DISTINCT.sub("", predicted))
        return Score(float(exact["match"]), {**exact, "no_distinct": loose["match"], "prediction": predicted})

    def _match(self, sample: Sample, gold_sql: str, predicted_sql: str) -> dict:
        from lemur.envs.sql.sqlite_exec import SQLiteDatabase

        database = SQLiteDatabase(self.databases()[sample.inputs["db_id"]], timeout=TIMEOUT)
        try:
            gold = database.execute(gold_sql)
            if gold.error is not None:
                return {"match": False, "gold_error": gold.error}
            predicted = database.execute(predicted_sql)
            if predicted.error is not None:
                return {"match": False, "error": predicted.error}
            order_matters = "order by" in gold_sql.lower()
            return {"match": results_equal(gold.rows or [], predicted.rows or [], order_matters)}
        finally:
            database.close()

    def aggregate(self, scores) -> dict[str, float]:
        n = len(scores) or 1
        return {
            "execution_accuracy": sum(s.value for s in scores) / n,
            "execution_accuracy_no_distinct": sum(s.details["no_distinct"] for s in scores) / n,
        }
