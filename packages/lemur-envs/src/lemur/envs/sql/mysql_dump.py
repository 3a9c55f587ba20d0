"""Convert a ``mysqldump`` file (as InterCode ships Spider's databases) into one SQLite file per database.

Only what such dumps contain is understood: ``CREATE DATABASE``/``USE``, ``CREATE TABLE``
(columns, types, ``PRIMARY KEY``; indexes and foreign keys are dropped) and ``INSERT INTO … VALUES``
with MySQL string escapes. Everything else (``SET``, locks, users, comments) is skipped.

Dialect choices, so that SQLite answers like MySQL as often as it can:

* text columns (``char``, ``varchar``, ``text``, dates) get ``COLLATE NOCASE``, as MySQL's
  ``utf8mb4_general_ci`` compares case-insensitively (NOCASE folds ASCII letters only; MySQL
  also ignores trailing spaces, SQLite does not);
* ``int`` types become ``INTEGER``, ``double``/``float`` ``REAL``, ``decimal`` ``NUMERIC``.

Known differences that remain (counted by the InterCode-SQL agreement test): integer division
(``5/2`` is 2 in SQLite, 2.5000 in MySQL), functions that exist in only one dialect
(``CONCAT``, ``IF``), double-quoted strings, and the order of ties under ``ORDER BY``/``LIMIT``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lemur.core.errors import LemurError

_TYPES = (
    (re.compile(r"^(tiny|small|medium|big)?int"), "INTEGER"),
    (re.compile(r"^(double|float|real)"), "REAL"),
    (re.compile(r"^(decimal|numeric)"), "NUMERIC"),
    (re.compile(r"^(blob|binary|varbinary|longblob)"), "BLOB"),
)
_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "Z": "\x1a"}


class DumpError(LemurError):
    """The dump holds something this converter cannot read; the message says where."""


def split_statements(text: str) -> Iterator[str]:
    """Yield the statements of a SQL script, splitting on ``;`` outside quotes and comments."""
    start, index, length = 0, 0, len(text)
    quote: str | None = None
    while index < length:
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
        elif char == "-" and text.startswith("-- ", index) or char == "#":
            index = text.find("\n", index)
            index = length if index < 0 else index
            continue
        elif char == "/" and text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = length if end < 0 else end + 2
            continue
        elif char == ";":
            statement = text[start:index].strip()
            if statement:
                yield statement
            start = index + 1
        index += 1
    tail = text[start:].strip()
    if tail:
        yield tail


def _strip_comments(statement: str) -> str:
    lines = [line for line in statement.splitlines() if not line.lstrip().startswith("--")]
    return re.sub(r"/\*.*?\*/", "", "\n".join(lines), flags=re.DOTALL).strip()


def parse_values(text: str) -> list[tuple[object, ...]]:
    """Parse the ``(…),(…)`` part of an ``INSERT … VALUES`` into tuples of Python values."""
    rows: list[tuple[object, ...]] = []
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in " ,\n\r\t":
            index += 1
        if index >= length:
            break
        if text[index] != "(":
            raise DumpError(f"expected '(' at offset {index} of a VALUES list, found {text[index : index + 20]!r}")
        index += 1
        row: list[object] = []
        while True:
            while text[index] in " \n\r\t":
                index += 1
            if text[index] == "'":
                value, index = _read_string(text, index + 1)
                row.append(value)
            else:
                end = index
                while text[end] not in ",)":
                    end += 1
                row.append(_literal(text[index:end].strip()))
                index = end
            while text[index] in " \n\r\t":
                index += 1
            if text[index] == ",":
                index += 1
                continue
            if text[index] == ")":
                index += 1
                break
            raise DumpError(f"unexpected {text[index]!r} at offset {index} of a VALUES list")
        rows.append(tuple(row))
    return rows


def _read_string(text: str, index: int) -> tuple[str, int]:
    out: list[str] = []
    while True:
        char = text[index]
        if char == "\\":
            following = text[index + 1]
            out.append(_ESCAPES.get(following, following))
            index += 2
        elif char == "'":
            if text.startswith("''", index):
                out.append("'")
                index += 2
            else:
                return "".join(out), index + 1
        else:
            out.append(char)
            index += 1


def _literal(token: str) -> object:
    if token.upper() == "NULL":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError as error:
        raise DumpError(f"cannot read the value {token!r}") from error


def _sqlite_type(mysql_type: str) -> str:
    lowered = mysql_type.lower()
    for pattern, affinity in _TYPES:
        if pattern.match(lowered):
            return affinity
    return "TEXT COLLATE NOCASE"


def create_table_sql(statement: str) -> str:
    """Translate a MySQL ``CREATE TABLE`` into SQLite's dialect (columns, types, primary key)."""
    match = re.match(r"CREATE TABLE\s+`([^`]+)`\s*\((.*)\)[^)]*$", statement, re.DOTALL | re.IGNORECASE)
    if not match:
        raise DumpError(f"cannot read CREATE TABLE: {statement[:80]!r}")
    table, body = match.groups()
    columns, primary = [], None
    for line in body.split("\n"):
        line = line.strip().rstrip(",")
        column = re.match(r"`([^`]+)`\s+([a-zA-Z]+(?:\([^)]*\))?)(.*)$", line)
        if column:
            name, mysql_type, rest = column.groups()
            not_null = " NOT NULL" if "NOT NULL" in rest.upper() else ""
            columns.append(f'"{name}" {_sqlite_type(mysql_type)}{not_null}')
        elif line.upper().startswith("PRIMARY KEY"):
            # drop MySQL's index prefix lengths: (`Year_awarded`(255)) -> ("Year_awarded")
            primary = re.sub(r"`\((\d+)\)", "`", line[len("PRIMARY KEY") :].strip()).replace("`", '"')
    if primary:
        columns.append(f"PRIMARY KEY {primary}")
    return f'CREATE TABLE "{table}" (\n  ' + ",\n  ".join(columns) + "\n)"


def convert(dump: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<out_dir>/<database>.sqlite`` for every database in ``dump``.

    Each file is written under a temporary name and renamed when complete, so a failed
    conversion leaves no half-written database.

    Returns:
        The SQLite file of each database, by database name.

    Raises:
        DumpError: A statement could not be read; nothing of that database is written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = Path(dump).read_text(encoding="utf-8")
    databases: dict[str, list[str | tuple[str, list[tuple[object, ...]]]]] = {}
    current: str | None = None
    for raw in split_statements(text):
        statement = _strip_comments(raw)
        upper = statement[:30].upper()
        if upper.startswith("CREATE DATABASE"):
            name = re.search(r"`([^`]+)`", statement)
            if name:
                databases.setdefault(name.group(1), [])
        elif upper.startswith("USE "):
            current = statement[4:].strip().strip("`")
            databases.setdefault(current, [])
        elif upper.startswith("CREATE TABLE"):
            databases[_need(current, statement)].append(create_table_sql(statement))
        elif upper.startswith("INSERT INTO"):
            match = re.match(r"INSERT INTO\s+`([^`]+)`\s+VALUES\s*(.*)$", statement, re.DOTALL | re.IGNORECASE)
            if not match:
                raise DumpError(f"cannot read INSERT: {statement[:80]!r}")
            databases[_need(current, statement)].append((match.group(1), parse_values(match.group(2))))
    paths = {}
    for name, items in databases.items():
        paths[name] = _write_database(out_dir / f"{name}.sqlite", items)
    return paths


def _need(current: str | None, statement: str) -> str:
    if current is None:
        raise DumpError(f"statement before any USE <database>: {statement[:60]!r}")
    return current


def _write_database(target: Path, items: list) -> Path:
    descriptor, temporary = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    os.close(descriptor)
    try:
        connection = sqlite3.connect(temporary)
        with connection:
            for item in items:
                if isinstance(item, str):
                    connection.execute(item)
                else:
                    table, rows = item
                    if rows:
                        marks = ",".join("?" * len(rows[0]))
                        connection.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        connection.close()
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target
