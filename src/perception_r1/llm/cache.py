"""Persistent SQLite cache of LLM replies: the accepted ones, and a record of the rejected ones.

Keys are :meth:`perception_r1.llm.client.ChatRequest.cache_key` digests (backend, model, prompt version, exact
messages, schema and sampling settings), so a changed prompt or model can never be served a stale reply. Two tables:

* ``replies``: replies the caller accepted; served again instead of a new call;
* ``rejected``: replies the caller rejected, one row per asking round (``round`` 0 is the first ask). Never served
  as a reply: they record that a round was spent, so that a killed run that is run again resumes the re-asking
  where it stopped instead of repeating finished calls (:meth:`perception_r1.llm.client.LLMClient.agenerate`).

Every write is its own committed transaction, made as the reply arrives. The connection is shared by threads under a
lock; WAL mode lets several processes (e.g. data-parallel ranks) read and write the same file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class CacheError(ValueError):
    """The cache file cannot be used (not a SQLite database, corrupt, locked too long, unwritable); the message
    names the file and what to do."""


_LOCK_WAIT_S = 30.0  # how long to wait for another process that holds the database (e.g. creating it)


def _with_retry(fn: Any) -> Any:
    """Run ``fn``, retrying while SQLite reports the database as locked or busy (another process creating or
    writing it: ``PRAGMA journal_mode=WAL`` does not wait on the busy timeout)."""
    deadline = time.monotonic() + _LOCK_WAIT_S
    delay = 0.01
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _explain(exc: sqlite3.Error) -> str:
    """A clear reason for a SQLite failure on the cache file."""
    text = str(exc)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "no such column" in lowered:
        return f"not a usable reply cache ({text}); delete or move the file, or choose another cache path"
    if "locked" in lowered or "busy" in lowered:
        return f"the reply cache is locked by another process ({text}) for more than {_LOCK_WAIT_S:.0f} s"
    if "readonly" in lowered or "unable to open" in lowered:
        return f"cannot open the reply cache for writing ({text})"
    return f"reply cache error ({text})"


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rejected (key TEXT NOT NULL, round INTEGER NOT NULL, text TEXT NOT NULL, "
    "reason TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (key, round))",
)
_CHUNK = 500  # stay below SQLite's limit on bound parameters


def _create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables that are missing (a cache file of an older version gains ``rejected``), and commit
    (retried as one step by ``_with_retry``)."""
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.commit()


class ResponseCache:
    """SQLite key -> reply text store.

    Args:
        path: Database file; parent directories are created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise CacheError(f"{self.path}: is a folder; the reply cache path must name a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = None
            try:
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=_LOCK_WAIT_S)
                _with_retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
                # WAL + NORMAL: a commit survives the process being killed (only a power loss can drop the
                # last ones), and one reply per commit stays cheap enough to cache every reply as it arrives.
                conn.execute("PRAGMA synchronous=NORMAL")
                _with_retry(lambda: _create_schema(conn))
                conn.execute("SELECT key, text, created FROM replies LIMIT 1").fetchall()
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                raise CacheError(f"{self.path}: {_explain(exc)}") from None
            self._conn = conn
        return self._conn

    def get_many(self, keys: list[str]) -> dict[str, str]:
        """Return ``{key: text}`` for the keys whose accepted reply is stored.

        Raises:
            CacheError: the file is corrupt, not a cache, or locked for too long.
        """
        return dict(self._select("SELECT key, text FROM replies WHERE key IN ({marks})", keys))

    def get_rejected(self, keys: list[str]) -> dict[str, list[tuple[str, str]]]:
        """The rejected replies recorded for ``keys``: ``{key: [(text, reason), ...]}`` in round order.

        Raises:
            CacheError: the file is corrupt, not a cache, or locked for too long.
        """
        found: dict[str, list[tuple[str, str]]] = {}
        rows = self._select("SELECT key, round, text, reason FROM rejected WHERE key IN ({marks})", keys)
        for key, _, text, reason in sorted(rows, key=lambda row: (row[0], row[1])):
            found.setdefault(key, []).append((text, reason))
        return found

    def _select(self, query: str, keys: list[str]) -> list[tuple[Any, ...]]:
        """Rows of ``query`` (with ``{marks}`` for the key placeholders) over ``keys``, in chunks."""
        found: list[tuple[Any, ...]] = []
        with self._lock:
            conn = self._connection()
            try:
                for i in range(0, len(keys), _CHUNK):
                    chunk = keys[i : i + _CHUNK]
                    sql = query.format(marks=",".join("?" * len(chunk)))
                    found += _with_retry(lambda q=sql, c=chunk: conn.execute(q, c).fetchall())
            except sqlite3.Error as exc:
                raise CacheError(f"{self.path}: {_explain(exc)}") from None
        return found

    def put_many(self, items: dict[str, str]) -> None:
        """Store (or replace) accepted replies in one transaction.

        Raises:
            CacheError: the file is corrupt, read-only, or locked for too long.
        """
        stamp = time.time()
        self._write(
            "INSERT OR REPLACE INTO replies (key, text, created) VALUES (?, ?, ?)",
            [(k, v, stamp) for k, v in items.items()],
        )

    def put_rejected(self, key: str, round_no: int, text: str, reason: str) -> None:
        """Record that the reply of asking round ``round_no`` (0: the first ask) of ``key`` was rejected.

        Raises:
            CacheError: the file is corrupt, read-only, or locked for too long.
        """
        self._write(
            "INSERT OR REPLACE INTO rejected (key, round, text, reason, created) VALUES (?, ?, ?, ?, ?)",
            [(key, round_no, text, reason, time.time())],
        )

    def _write(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Run ``statement`` over ``rows`` in one committed transaction."""

        def write() -> None:
            with conn:
                conn.executemany(statement, rows)

        with self._lock:
            conn = self._connection()
            try:
                _with_retry(write)
            except sqlite3.Error as exc:
                raise CacheError(f"{self.path}: {_explain(exc)}") from None

    def __len__(self) -> int:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
            except sqlite3.Error as exc:
                raise CacheError(f"{self.path}: {_explain(exc)}") from None

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        ResponseCache.__init__(self, state["path"])
