"""InterCode's task files and databases, fetched at a pinned revision (``princeton-nlp/intercode@c3e46d8``).

Files are listed with their SHA-256 in ``manifests/*.json``; a local mirror (``data_dir``) holds
them under the same relative paths (``intercode/data/sql/spider/…``), as ``../shared/data`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lemur.core.datafiles import fetch_manifest, manifest

PACKAGE = "lemur.envs.intercode"
SQL_TASKS = "intercode/data/sql/spider/ic_spider_dev.json"
SQL_DUMP = "intercode/data/sql/spider/ic_spider_dbs.sql"


def sql_files(data_dir: str | Path | None) -> dict[str, Path]:
    """The Spider-based SQL tasks and the MySQL dump of their 20 databases."""
    return fetch_manifest(PACKAGE, "intercode-sql", data_dir)


def sql_tasks(data_dir: str | Path | None) -> list[dict[str, Any]]:
    """InterCode-SQL's 1,034 tasks: ``{"db", "gold", "query", "hardness", "db_tables"}``."""
    return json.loads(sql_files(data_dir)[SQL_TASKS].read_text(encoding="utf-8"))


def spider_sqlite_databases(data_dir: str | Path | None) -> dict[str, Path]:
    """The 20 Spider dev databases as SQLite files, converted from the dump once into the Lemur cache.

    The conversion is keyed by the dump's checksum and marked complete only after every file
    is written, so an interrupted conversion is redone, never half-used.
    """
    from lemur.core.settings import get_settings
    from lemur.envs.sql.mysql_dump import convert

    dump = sql_files(data_dir)[SQL_DUMP]
    checksum = next(f.sha256 for f in manifest(PACKAGE, "intercode-sql") if f.path == SQL_DUMP)
    out = Path(get_settings().cache_dir).expanduser() / "spider-sqlite" / checksum[:16]
    marker = out / "COMPLETE"
    if marker.is_file():
        return {path.stem: path for path in sorted(out.glob("*.sqlite"))}
    paths = convert(dump, out)
    marker.write_text(f"converted from {checksum}\n")
    return paths
