"""Embeddings kept by content hash outside the catalog: a cache a reader may write, which costs only time
to lose (the reranker's second-model embeddings live in LIBRARY/rerank/). A library a reader cannot write
keeps them in memory instead."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, create_engine, event, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from indexer.catalog.catalog import chunks

log = logging.getLogger(__name__)

_metadata = MetaData()
vectors = Table(
    "vectors",
    _metadata,
    Column("content_hash", String, primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)


class EmbeddingCache:
    """content hash → packed unit vector. Thread-safe; never fatal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.memory: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.engine: Engine | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(path, timeout=30, check_same_thread=False),
                poolclass=QueuePool,
            )
            event.listen(engine, "connect", _wal)
            _metadata.create_all(engine)
            self.engine = engine
        except (OSError, SQLAlchemyError) as exc:
            log.warning("embedding cache %s is not writable (%s); keeping embeddings in memory", path, exc)

    def get(self, hashes: Sequence[str]) -> dict[str, bytes]:
        with self._lock:
            found = {h: self.memory[h] for h in hashes if h in self.memory}
        missing = [h for h in hashes if h not in found]
        if self.engine is not None and missing:
            try:
                with self.engine.connect() as conn:
                    for chunk in chunks(missing, 500):
                        stmt = select(vectors.c.content_hash, vectors.c.vector).where(vectors.c.content_hash.in_(chunk))
                        found.update((row.content_hash, row.vector) for row in conn.execute(stmt))
            except SQLAlchemyError as exc:  # a locked or damaged cache costs time (embedding again), not the search
                log.warning("embedding cache %s unreadable (%s); embedding again", self.path, exc)
        return found

    def put(self, entries: dict[str, bytes]) -> None:
        if not entries:
            return
        if self.engine is not None:
            try:
                rows = [{"content_hash": key, "vector": value} for key, value in entries.items()]
                with self.engine.begin() as conn:
                    conn.execute(insert(vectors).on_conflict_do_nothing(), rows)
                return
            except SQLAlchemyError as exc:
                log.warning("embedding cache write failed (%s); keeping embeddings in memory", exc)
        with self._lock:
            self.memory.update(entries)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _wal(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
