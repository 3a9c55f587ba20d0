import sqlite3

import pytest

from lemur.envs.sql.mysql_dump import DumpError, convert, create_table_sql, parse_values, split_statements
from lemur.envs.sql.sqlite_exec import SQLiteDatabase


def test_values_with_mysql_escapes():
    rows = parse_values(r"""(1,'O\'Brien','a\\b',NULL,2.5),(2,'it''s','line\nbreak',-3,1e3)""")
    assert rows == [(1, "O'Brien", "a\\b", None, 2.5), (2, "it's", "line\nbreak", -3, 1000.0)]


def test_statements_split_outside_strings_and_comments():
    script = "-- c; x\nUSE `a`;\n/*!40101 SET x=1; */\nINSERT INTO `t` VALUES ('a;b');"
    assert [s.strip() for s in split_statements(script)] == [
        "-- c; x\nUSE `a`",
        "/*!40101 SET x=1; */\nINSERT INTO `t` VALUES ('a;b')",
    ]


def test_create_table_types_collation_and_prefix_keys():
    sql = create_table_sql(
        "CREATE TABLE `e` (\n  `id` int NOT NULL,\n  `y` text COLLATE utf8mb4_general_ci NOT NULL,\n"
        "  `b` double DEFAULT NULL,\n  PRIMARY KEY (`id`,`y`(255)),\n  KEY `k` (`b`)\n) ENGINE=InnoDB"
    )
    assert sql == (
        'CREATE TABLE "e" (\n  "id" INTEGER NOT NULL,\n  "y" TEXT COLLATE NOCASE NOT NULL,\n  "b" REAL,\n'
        '  PRIMARY KEY ("id","y")\n)'
    )
    with pytest.raises(DumpError, match="cannot read CREATE TABLE"):
        create_table_sql("CREATE TABLE nonsense")


@pytest.fixture(scope="module")
def spider_dbs(tmp_path_factory, shared_data):
    dump = shared_data / "intercode" / "data" / "sql" / "spider" / "ic_spider_dbs.sql"
    if not dump.is_file():
        pytest.skip(f"InterCode's Spider dump not found at {dump}")
    return convert(dump, tmp_path_factory.mktemp("sqlite"))


def test_intercode_spider_dump_converts_completely(spider_dbs):
    assert len(spider_dbs) == 20
    tables = {}
    for name, path in spider_dbs.items():
        connection = sqlite3.connect(path)
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            tables[f"{name}.{table}"] = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    assert len(tables) == 81
    assert tables["world_1.city"] == 4079 and tables["car_1.CAR_NAMES"] == 406
    # MySQL's case-insensitive text comparison is kept
    assert sqlite3.connect(spider_dbs["world_1"]).execute(
        "SELECT count(*) FROM city WHERE Name = 'KABUL'"
    ).fetchone() == (1,)
    assert not list(spider_dbs["world_1"].parent.glob("*.part"))


def test_untrusted_sql_is_isolated_and_interruptible(spider_dbs):
    database = SQLiteDatabase(spider_dbs["world_1"], timeout=0.3)
    endless = database.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
    assert endless.timed_out and endless.error == "query timed out"
    assert database.execute("ATTACH DATABASE '/etc/passwd' AS p").error == "not authorized"
    assert database.execute("DELETE FROM city").error is None
    assert database.execute("SELECT count(*) FROM city").rows == [(0,)]
    database.reset()
    assert database.execute("SELECT count(*) FROM city").rows == [(4079,)]
    assert sqlite3.connect(spider_dbs["world_1"]).execute("SELECT count(*) FROM city").fetchone() == (4079,)
    assert "syntax error" in database.execute("SELEC 1").error
