"""Database backends of InterCode-SQL: SQLite (embedded default) and a real MySQL/MariaDB server.

Both answer :meth:`SQLBackend.execute` the way InterCode's environment sees a statement: the
rows of a result set (a list of tuples), ``None`` for a statement without one, or the error
text. Both restore a database changed by an episode before the next episode uses it
(InterCode itself never resets its server, so one task's ``DELETE`` leaks into later tasks).

SQLite differs from MySQL in known ways, counted by the agreement test: integer division,
functions that exist in one dialect only, trailing-space-insensitive comparison, the order of
ties. ``SHOW TABLES``, ``SHOW COLUMNS FROM t`` and ``DESCRIBE t``/``DESC t``, which agents use
to explore, are answered from SQLite's catalogue in MySQL's column layout (Field, Type, Null,
Key, Default, Extra), with SQLite's type names.
"""

from __future__ import annotations

import abc
import re
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError

_SHOW_TABLES = re.compile(r"^\s*SHOW\s+(FULL\s+)?TABLES\s*;?\s*$", re.IGNORECASE)
_DESCRIBE = re.compile(r"^\s*(?:DESCRIBE|DESC|SHOW\s+COLUMNS\s+FROM)\s+`?(\w+)`?\s*;?\s*$", re.IGNORECASE)
_READ_ONLY = re.compile(r"^\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|USE)\b", re.IGNORECASE)


class SQLBackendError(LemurError):
    """A database backend cannot be used (server unreachable, database missing)."""


class SQLBackend(abc.ABC):
    """Where InterCode-SQL's statements run."""

    #: Backend name (``sqlite``, ``mysql``).
    name: str = ""

    @abc.abstractmethod
    def use(self, database: str) -> None:
        """Make ``database`` current (as InterCode's ``use <db>`` preprocessing), restoring it if an earlier
        episode changed it.

        Raises:
            SQLBackendError: No such database.
        """

    @abc.abstractmethod
    def execute(self, sql: str) -> list[tuple] | None | str:
        """Run one statement: rows, ``None`` (no result set) or the error message (never raises for bad SQL)."""

    def close(self) -> None:
        """Release connections; the default does nothing."""
        return None


class SQLiteBackend(SQLBackend):
    """SQLite copies of the databases, isolated in memory and reset after any change.

    Args:
        databases: SQLite file of each database, by name.
        timeout: Seconds one statement may run (really interrupted).
    """

    name = "sqlite"

    def __init__(self, databases: dict[str, Path], timeout: float = 10.0) -> None:
        from lemur.envs.sql.sqlite_exec import SQLiteDatabase

        self._factory = SQLiteDatabase
        self.databases, self.timeout = databases, timeout
        self._open: dict[str, Any] = {}
        self._current: Any = None
        self._dirty = False

    def use(self, database: str) -> None:
        if database not in self.databases:
            raise SQLBackendError(
                f"sqlite backend: no database {database!r}; known: {', '.join(sorted(self.databases))}"
            )
        if database not in self._open:
            self._open[database] = self._factory(self.databases[database], timeout=self.timeout)
        if self._dirty and self._current is not None:
            self._current.reset()
        self._current, self._dirty = self._open[database], False

    def execute(self, sql: str) -> list[tuple] | None | str:
        if self._current is None:
            return "Error executing query: No database selected"
        if _SHOW_TABLES.match(sql):
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        described = _DESCRIBE.match(sql)
        if described:
            return self._describe(described.group(1))
        if not _READ_ONLY.match(sql):
            self._dirty = True
        result = self._current.execute(sql)
        if result.error is not None:
            return f"Error executing query: {result.error}"
        return result.rows

    def _describe(self, table: str) -> list[tuple] | str:
        result = self._current.execute(f'PRAGMA table_info("{table}")')
        if result.error is not None or not result.rows:
            return f"Error executing query: Table '{table}' doesn't exist"
        return [
            (name, kind, "NO" if notnull or pk else "YES", "PRI" if pk else "", default, "")
            for _, name, kind, notnull, default, pk in result.rows
        ]

    def close(self) -> None:
        for database in self._open.values():
            database.close()
        self._open.clear()


class MySQLBackend(SQLBackend):
    """A MySQL or MariaDB server loaded from InterCode's dump (see ``tools/mariadb.sh``).

    Args:
        host, port, user, password: The server; InterCode's defaults are 127.0.0.1:3307, admin/admin.
        dump: The dump, used to restore a database that an episode changed.
        timeout: Seconds one statement may run (``max_statement_time`` on MariaDB).

    Raises:
        SQLBackendError: The server cannot be reached; the message says how to start one.
    """

    name = "mysql"

    def __init__(
        self,
        dump: Path,
        host: str = "127.0.0.1",
        port: int = 3307,
        user: str = "admin",
        password: str = "admin",
        timeout: float = 10.0,
    ) -> None:
        try:
            import pymysql
        except ImportError as error:
            from lemur.core.errors import MissingDependencyError

            raise MissingDependencyError(
                "the MySQL backend of InterCode-SQL", "pymysql", "lemur-envs[mysql]"
            ) from error
        self._pymysql = pymysql
        self.dump, self.timeout = Path(dump), timeout
        try:
            self._connection = pymysql.connect(
                host=host, port=int(port), user=user, password=password, autocommit=True, connect_timeout=5
            )
        except pymysql.err.OperationalError as error:
            raise SQLBackendError(
                f"cannot reach MySQL/MariaDB at {host}:{port} ({error.args[-1]}); "
                "start one with `bash tools/mariadb.sh`"
            ) from None
        self._cursor = self._connection.cursor()
        self._current: str | None = None
        self._dirty: set[str] = set()
        self._sections: dict[str, str] | None = None

    def use(self, database: str) -> None:
        for changed in sorted(self._dirty):
            self._restore(changed)
        self._dirty.clear()
        try:
            self._cursor.execute(f"USE `{database}`")
        except self._pymysql.err.MySQLError as error:
            raise SQLBackendError(f"mysql backend: cannot use database {database!r} ({error.args[-1]})") from None
        self._current = database
        try:
            self._cursor.execute(f"SET SESSION max_statement_time = {self.timeout}")
        except self._pymysql.err.MySQLError:
            pass  # MySQL (not MariaDB) has no max_statement_time; statements then run unbounded

    def execute(self, sql: str) -> list[tuple] | None | str:
        try:
            self._cursor.execute(sql)
        except self._pymysql.err.MySQLError as error:
            return f"Error executing query: {error.args[-1]}"
        finally:
            if not _READ_ONLY.match(sql):
                self._dirty.add(self._database())  # restored before the next episode starts
        if self._cursor.description is None:
            return None
        return list(self._cursor.fetchall())

    def _database(self) -> str:
        """The database statements currently run in (an agent may have switched with ``USE``)."""
        cursor = self._connection.cursor()
        cursor.execute("SELECT DATABASE()")
        (name,) = cursor.fetchone()
        return name or self._current or ""

    def _restore(self, database: str) -> None:
        """Drop and reload ``database`` from its section of the dump."""
        from lemur.envs.sql.mysql_dump import split_statements

        if self._sections is None:
            self._sections = dump_sections(self.dump.read_text(encoding="utf-8"))
        if database not in self._sections:
            return  # not one of the dump's databases (e.g. an agent's CREATE DATABASE): nothing to restore
        self._cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        for statement in split_statements(self._sections[database]):
            self._cursor.execute(statement)

    def close(self) -> None:
        self._connection.close()


def dump_sections(text: str) -> dict[str, str]:
    """Split a multi-database dump into one loadable script per database (MariaDB-compatible)."""
    sections: dict[str, str] = {}
    parts = re.split(r"(?m)^(?=CREATE DATABASE )", mariadb_compatible(text))
    for part in parts[1:]:
        name = re.match(r"CREATE DATABASE\s+(?:IF NOT EXISTS\s+)?`([^`]+)`", part)
        if name:
            sections[name.group(1)] = part
    return sections


def mariadb_compatible(text: str) -> str:
    """The dump with the one MySQL 8 clause MariaDB rejects (``DEFAULT ENCRYPTION='N'``) removed."""
    return re.sub(r"/\*!80016 DEFAULT ENCRYPTION='N' \*/", "", text)
