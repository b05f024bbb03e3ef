"""Persistent SQLite cache of accepted LLM replies.

Keys are :meth:`perception_r1.llm.client.ChatRequest.cache_key` digests (backend, model, prompt version, exact
messages, schema and sampling settings), so a changed prompt or model can never be served a stale reply. Only
replies the caller accepted are stored. The connection is shared by threads under a lock; WAL mode lets
several processes (e.g. data-parallel ranks) read and write the same file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL, created REAL NOT NULL)"
_CHUNK = 500  # stay below SQLite's limit on bound parameters


class ResponseCache:
    """SQLite key -> reply text store.

    Args:
        path: Database file; parent directories are created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                conn.commit()
            except sqlite3.DatabaseError as exc:
                raise RuntimeError(f"{self.path}: cannot open the LLM reply cache ({exc})") from exc
            self._conn = conn
        return self._conn

    def get_many(self, keys: list[str]) -> dict[str, str]:
        """Return ``{key: text}`` for the keys present."""
        found: dict[str, str] = {}
        with self._lock:
            conn = self._connection()
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(conn.execute(f"SELECT key, text FROM replies WHERE key IN ({marks})", chunk).fetchall())
        return found

    def put_many(self, items: dict[str, str]) -> None:
        """Store (or replace) replies in one transaction."""
        stamp = time.time()
        with self._lock:
            conn = self._connection()
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO replies (key, text, created) VALUES (?, ?, ?)",
                    [(k, v, stamp) for k, v in items.items()],
                )

    def __len__(self) -> int:
        with self._lock:
            return self._connection().execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __getstate__(self) -> dict[str, object]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["path"])  # type: ignore[misc, arg-type]
