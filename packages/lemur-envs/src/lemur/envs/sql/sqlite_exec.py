"""Running untrusted SQL on SQLite safely: a private in-memory copy, no file access, a real timeout.

SQLite is the sandbox here: every query runs on an in-memory copy of the database (so writes
never reach the file and :meth:`SQLiteDatabase.reset` restores the original exactly), an
authorizer refuses ``ATTACH``/``DETACH`` (the only statements that can open other files;
extension loading is off in Python's ``sqlite3``), and a progress handler aborts a query when
its wall-clock budget is spent, which really interrupts it (unlike a timer around the call).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

from lemur.core.errors import LemurError

_DENIED = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}
_CHECK_EVERY = 1000  # SQLite VM instructions between deadline checks


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """What a statement returned: ``rows`` (``None`` for a statement without a result set) or ``error``."""

    rows: list[tuple] | None
    error: str | None = None
    timed_out: bool = False
    truncated: bool = False


class SQLiteDatabase:
    """An isolated, resettable copy of one SQLite database file.

    Args:
        path: The database file (opened read-only, copied into memory once).
        timeout: Default seconds a statement may run.
        max_rows: Rows kept per result; the rest are dropped and ``truncated`` is set.

    Raises:
        LemurError: The file does not exist or is not a SQLite database.
    """

    def __init__(self, path: str | Path, timeout: float = 10.0, max_rows: int = 10_000) -> None:
        path = Path(path)
        if not path.is_file():
            raise LemurError(f"SQLite database {str(path)!r} does not exist")
        self.path, self.timeout, self.max_rows = path, timeout, max_rows
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            self._pristine = sqlite3.connect(":memory:", check_same_thread=False)
            source.backup(self._pristine)
        except sqlite3.DatabaseError as error:
            raise LemurError(f"{path}: not a SQLite database ({error})") from None
        finally:
            source.close()
        self._connection: sqlite3.Connection | None = None
        self.reset()

    def reset(self) -> None:
        """Discard every change made by earlier statements."""
        if self._connection is not None:
            self._connection.close()
        self._connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._pristine.backup(self._connection)
        self._connection.set_authorizer(_authorize)

    def execute(self, sql: str, timeout: float | None = None) -> QueryResult:
        """Run one SQL statement and return its rows or its error message; never raises for bad SQL."""
        assert self._connection is not None
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        expired = False

        def check() -> int:
            nonlocal expired
            expired = time.monotonic() > deadline
            return 1 if expired else 0

        self._connection.set_progress_handler(check, _CHECK_EVERY)
        try:
            cursor = self._connection.execute(sql)
            if cursor.description is None:
                return QueryResult(rows=None)
            rows = cursor.fetchmany(self.max_rows + 1)
            return QueryResult(rows=rows[: self.max_rows], truncated=len(rows) > self.max_rows)
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError) as error:
            if expired:
                return QueryResult(rows=None, error="query timed out", timed_out=True)
            return QueryResult(rows=None, error=str(error))
        finally:
            self._connection.set_progress_handler(None, 0)

    def close(self) -> None:
        """Release both in-memory copies."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._pristine.close()


def _authorize(action: int, *_args: object) -> int:
    return sqlite3.SQLITE_DENY if action in _DENIED else sqlite3.SQLITE_OK
