"""The catalog: media, texts, their vectors and the library's records, in one SQLite database.

The catalog is the source of truth. Every write batch bumps a per-collection version and tags the
vectors it wrote with it, so an ANN index (which records the version it covers) can always be
brought up to date from the catalog alone: after a checkpoint, after a crash, or by a reader.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.pool import QueuePool

from core.errors import LibraryIncompatible
from indexer.catalog.fts import create as create_fts_tables
from indexer.catalog.records import KnownFile, MediaRecord, MediaRow, TextRow
from indexer.catalog.schema import (
    COLLECTIONS,
    MIGRATIONS,
    SCHEMA_VERSION,
    VECTOR_TABLES,
    Collection,
    media,
    media_vectors,
    meta,
    metadata,
    text_sources,
    text_vectors,
    texts,
)

# The meta key that lists what encoded the library's picture vectors (Catalog.image_runtimes).
IMAGE_RUNTIMES = "image_runtimes"


def pack(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def unpack_many(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def path_under(column: Any, root: str) -> Any:
    """Rows whose path lies under root; a range on the unique index, safe for any character."""
    prefix = root.rstrip("/") + "/"
    return (column >= prefix) & (column < prefix[:-1] + "0")  # '0' sorts right after '/'


class Catalog:
    """One SQLite database in WAL mode: a writer and many readers at once."""

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.engine = self._connect(path, readonly)
        if readonly:
            self._check_schema()
        else:
            self._create_or_migrate()

    @staticmethod
    def _connect(path: Path, readonly: bool) -> Engine:
        def creator() -> sqlite3.Connection:
            if readonly:
                conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False
                )
            else:
                conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
            return conn

        # A bare "sqlite://" URL would make SQLAlchemy pick its in-memory, one-connection-per-thread pool.
        engine = create_engine("sqlite://", creator=creator, poolclass=QueuePool)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not readonly:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine

    def close(self) -> None:
        self.engine.dispose()

    def reading(self) -> Connection:
        """A connection for several reads that belong together (one snapshot in WAL mode): `with catalog.reading()`."""
        return self.engine.connect()

    # -- schema -------------------------------------------------------------------------------

    def _schema_version(self, conn: Connection) -> int | None:
        has_meta = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").first()
        if not has_meta:
            return None
        value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        return int(value) if value is not None else None

    def _check_schema(self) -> None:
        with self.engine.connect() as conn:
            version = self._schema_version(conn)
        if version is None:
            raise LibraryIncompatible(f"{self.path} is not an xmodal catalog")
        if version != SCHEMA_VERSION:
            raise LibraryIncompatible(
                f"the catalog at {self.path} has schema version {version}; this xmodal reads {SCHEMA_VERSION}",
                "run any writing command (xmodal index) with this version to migrate it, or upgrade xmodal",
            )

    def _create_or_migrate(self) -> None:
        with self.engine.begin() as conn:
            version = self._schema_version(conn)
            if version is None:
                metadata.create_all(conn)
                create_fts_tables(conn)
                self._set(conn, "schema_version", str(SCHEMA_VERSION))
                for collection in COLLECTIONS:
                    self._set(conn, f"{collection}_version", "0")
                return
            if version > SCHEMA_VERSION:
                raise LibraryIncompatible(
                    f"the catalog at {self.path} was written by a newer xmodal (schema {version})",
                    "upgrade xmodal to open this library",
                )
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
                self._set(conn, "schema_version", str(version))

    # -- meta ---------------------------------------------------------------------------------

    @staticmethod
    def _set(conn: Connection, key: str, value: str) -> None:
        conn.execute(delete(meta).where(meta.c.key == key))
        conn.execute(insert(meta).values(key=key, value=value))

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            self._set(conn, key, value)

    def get_json(self, key: str) -> Any:
        raw = self.get_meta(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any) -> None:
        self.set_meta(key, json.dumps(value, sort_keys=True))

    def version(self, collection: Collection) -> int:
        return int(self.get_meta(f"{collection}_version") or 0)

    def _bump(self, conn: Connection, collection: Collection) -> int:
        key = f"{collection}_version"
        current = int(conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar() or 0)
        self._set(conn, key, str(current + 1))
        return current + 1

    # -- media --------------------------------------------------------------------------------

    def known_files(self, roots: Iterable[str]) -> dict[str, KnownFile]:
        cols = (
            media.c.id,
            media.c.path,
            media.c.size,
            media.c.mtime_ns,
            media.c.content_hash,
            media.c.status,
            media_vectors.c.id.is_not(None),
        )
        found: dict[str, KnownFile] = {}
        with self.engine.connect() as conn:
            for root in roots:
                stmt = (
                    select(*cols)
                    .outerjoin(media_vectors, media_vectors.c.id == media.c.id)
                    .where(path_under(media.c.path, root) | (media.c.path == root))
                )
                for row in conn.execute(stmt):
                    found[row.path] = KnownFile(*row)
        return found

    def ids_by_hash(self, content_hash: str) -> list[int]:
        stmt = (
            select(media.c.id)
            .where((media.c.content_hash == content_hash) & (media.c.status == "ok"))
            .join(media_vectors, media_vectors.c.id == media.c.id)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def ok_hashes(self) -> set[str]:
        """Content that has a vector already: a file with it needs no decoding."""
        stmt = select(media.c.content_hash).join(media_vectors, media_vectors.c.id == media.c.id).distinct()
        with self.engine.connect() as conn:
            return {h for h in conn.execute(stmt).scalars() if h}

    def write_media(self, records: Sequence[MediaRecord], vectors: Sequence[np.ndarray | None]) -> list[int]:
        """Insert or update rows and their vectors in one transaction; returns the row ids in order."""
        now = time.time()
        fields = [name for name in MediaRecord.__dataclass_fields__ if name != "id"]
        fresh = [i for i, record in enumerate(records) if record.id is None]
        known = [i for i, record in enumerate(records) if record.id is not None]
        ids: list[int] = [record.id or 0 for record in records]
        with self.engine.begin() as conn:
            version = self._bump(conn, "media")
            if fresh:
                paths = [records[i].path for i in fresh]
                for chunk in chunks(paths, 500):
                    conn.execute(delete(media).where(media.c.path.in_(chunk)))
                rows = [{**{f: getattr(records[i], f) for f in fields}, "indexed_at": now} for i in fresh]
                inserted = conn.execute(
                    insert(media).returning(media.c.id, sort_by_parameter_order=True), rows
                ).scalars()
                for i, row_id in zip(fresh, inserted, strict=True):
                    ids[i] = int(row_id)
            if known:
                rows = [
                    {**{f: getattr(records[i], f) for f in fields}, "indexed_at": now, "row_id": records[i].id}
                    for i in known
                ]
                stmt = update(media).where(media.c.id == bindparam("row_id"))
                conn.execute(stmt.values({f: bindparam(f) for f in [*fields, "indexed_at"]}), rows)
            for chunk in chunks(ids, 500):
                conn.execute(delete(media_vectors).where(media_vectors.c.id.in_(chunk)))
            vector_rows = [
                {"id": row_id, "version": version, "vector": pack(vector)}
                for row_id, vector in zip(ids, vectors, strict=True)
                if vector is not None
            ]
            if vector_rows:
                conn.execute(insert(media_vectors), vector_rows)
        return ids

    def move_media(self, moves: Sequence[tuple[int, str, int, int]]) -> None:
        """Point rows at new paths (id, path, size, mtime_ns): a moved file keeps its id and vector."""
        if not moves:
            return
        with self.engine.begin() as conn:
            for row_id, path, size, mtime_ns in moves:
                conn.execute(delete(media).where((media.c.path == path) & (media.c.id != row_id)))
                conn.execute(update(media).where(media.c.id == row_id).values(path=path, size=size, mtime_ns=mtime_ns))

    def touch_media(self, updates: Sequence[tuple[int, int, int]]) -> None:
        """Record a new size/mtime (id, size, mtime_ns) for a file whose content did not change."""
        if not updates:
            return
        with self.engine.begin() as conn:
            for row_id, size, mtime_ns in updates:
                conn.execute(update(media).where(media.c.id == row_id).values(size=size, mtime_ns=mtime_ns))

    def delete_media(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            self._bump(conn, "media")
            for chunk in chunks(ids, 500):
                conn.execute(delete(media).where(media.c.id.in_(chunk)))

    def media_rows(self, ids: Sequence[int]) -> dict[int, MediaRow]:
        rows: dict[int, MediaRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids, 500):
                for row in conn.execute(select(media).where(media.c.id.in_(chunk))):
                    rows[row.id] = MediaRow.of(row._mapping)
        return rows

    def media_row(self, media_id: int) -> MediaRow | None:
        return self.media_rows([media_id]).get(media_id)

    def media_id_for_path(self, path: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(media.c.id).where(media.c.path == path)).scalar()

    def failures(self) -> list[tuple[str, str]]:
        stmt = select(media.c.path, media.c.error).where(media.c.status == "failed").order_by(media.c.path)
        with self.engine.connect() as conn:
            return [(row.path, row.error or "") for row in conn.execute(stmt)]

    # -- texts --------------------------------------------------------------------------------

    def text_source(self, path: str) -> tuple[int, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(text_sources.c.size, text_sources.c.mtime_ns).where(text_sources.c.path == path)
            ).first()
        return None if row is None else (row.size, row.mtime_ns)

    def sync_text_source(
        self,
        path: str,
        kind: str,
        size: int,
        mtime_ns: int,
        entries: Sequence[tuple[str, int | None]],
        new_vectors: dict[str, np.ndarray],
    ) -> int:
        """Make a source hold exactly `entries` (text, media id); texts already there keep their vectors."""
        with self.engine.begin() as conn:
            version = self._bump(conn, "texts")
            conn.execute(delete(text_sources).where(text_sources.c.path == path))  # cascades to old texts
            conn.execute(insert(text_sources).values(path=path, kind=kind, size=size, mtime_ns=mtime_ns))
            for position, (text, media_id) in enumerate(entries):
                row_id = int(
                    conn.execute(
                        insert(texts).values(source=path, position=position, text=text, media_id=media_id)
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
                conn.execute(insert(text_vectors).values(id=row_id, version=version, vector=pack(new_vectors[text])))
        return len(entries)

    def delete_text_sources(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        with self.engine.begin() as conn:
            self._bump(conn, "texts")
            for chunk in chunks(paths, 500):
                conn.execute(delete(text_sources).where(text_sources.c.path.in_(chunk)))

    def sidecar_sources_under(self, roots: Iterable[str]) -> list[str]:
        with self.engine.connect() as conn:
            found: list[str] = []
            for root in roots:
                stmt = select(text_sources.c.path).where(
                    (text_sources.c.kind == "sidecar")
                    & (path_under(text_sources.c.path, root) | (text_sources.c.path == root))
                )
                found.extend(conn.execute(stmt).scalars())
        return found

    def text_vectors_for(self, path: str) -> dict[str, np.ndarray]:
        """Vectors of the texts a source holds now, keyed by text, to reuse when the source is re-read."""
        stmt = (
            select(texts.c.text, text_vectors.c.vector)
            .join(text_vectors, text_vectors.c.id == texts.c.id)
            .where(texts.c.source == path)
        )
        with self.engine.connect() as conn:
            return {row.text: np.frombuffer(row.vector, dtype="<f4").astype(np.float32) for row in conn.execute(stmt)}

    def text_rows(self, ids: Sequence[int]) -> dict[int, TextRow]:
        rows: dict[int, TextRow] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids, 500):
                stmt = select(texts, text_sources.c.kind).join(text_sources).where(texts.c.id.in_(chunk))
                for row in conn.execute(stmt):
                    rows[row.id] = TextRow.of(row._mapping)
        return rows

    # -- vectors ------------------------------------------------------------------------------

    def vector_count(self, collection: Collection) -> int:
        table = VECTOR_TABLES[collection]
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

    def vector_ids(self, collection: Collection) -> np.ndarray:
        table = VECTOR_TABLES[collection]
        with self.engine.connect() as conn:
            ids = list(conn.execute(select(table.c.id)).scalars())
        return np.asarray(ids, dtype=np.int64)

    def vectors_since(self, collection: Collection, version: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Vectors written after `version`: what an index that covers `version` lacks or holds stale."""
        table = VECTOR_TABLES[collection]
        stmt = select(table.c.id, table.c.vector).where(table.c.version > version).order_by(table.c.id)
        return self._vectors(stmt, dim)

    # ids_since and fetch_vectors run on every query: plain SQL, so that SQLAlchemy compiles nothing (an
    # expanding IN of 400 ids cost more to compile than to run).

    def ids_since(self, collection: Collection, version: int) -> np.ndarray:
        table = VECTOR_TABLES[collection].name
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT id FROM {table} WHERE version > ?", (version,)).all()
        return np.asarray([row[0] for row in rows], dtype=np.int64)

    def fetch_vectors(self, collection: Collection, ids: Sequence[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of those of `ids` that have one, in no particular order."""
        table = VECTOR_TABLES[collection].name
        rows: list[Any] = []
        with self.engine.connect() as conn:
            for chunk in chunks([int(item) for item in ids], 900):
                marks = ",".join("?" * len(chunk))
                rows += conn.exec_driver_sql(
                    f"SELECT id, vector FROM {table} WHERE id IN ({marks})", tuple(chunk)
                ).all()
        return np.asarray([row[0] for row in rows], dtype=np.int64), unpack_many([row[1] for row in rows], dim)

    def _vectors(self, stmt: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        ids = np.asarray([row[0] for row in rows], dtype=np.int64)
        return ids, unpack_many([row[1] for row in rows], dim)

    def drop_all_vectors(self) -> None:
        """Forget every vector (the model changed); rows stay and are re-encoded on the next run."""
        with self.engine.begin() as conn:
            for collection, table in VECTOR_TABLES.items():
                conn.execute(delete(table))
                self._bump(conn, collection)
            conn.execute(update(media).values(size=-1))  # makes every file look changed
            conn.execute(update(text_sources).values(size=-1))
            conn.execute(delete(meta).where(meta.c.key == IMAGE_RUNTIMES))  # what encoded them goes with them

    # -- stats --------------------------------------------------------------------------------

    def image_runtimes(self) -> list[str]:
        """What encoded the picture vectors the library holds (torch, onnx, onnx-int8), in the order they first
        did; recorded by each indexing run before it writes, forgotten with the vectors. Their vectors differ a
        little (int8 within the export's checked cosine of torch's), so a library that holds more than one says
        so. A library indexed before this was recorded holds torch's: the only runtime there was."""
        if not self.holds_media_vectors():
            return []
        recorded = self.get_json(IMAGE_RUNTIMES)
        return ["torch"] if recorded is None else [str(runtime) for runtime in recorded]

    def add_image_runtime(self, runtime: str) -> list[str]:
        """Record that `runtime` encodes picture vectors of this library too; returns those that did before."""
        before = self.image_runtimes()
        self.set_json(IMAGE_RUNTIMES, before if runtime in before else [*before, runtime])
        return before

    def holds_media_vectors(self) -> bool:
        """Whether any picture has a vector; one row read, not a count."""
        with self.engine.connect() as conn:
            return conn.execute(select(media_vectors.c.id).limit(1)).first() is not None

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            by_status: dict[str, int] = {
                status: count
                for status, count in conn.execute(select(media.c.status, func.count()).group_by(media.c.status))
            }
            return {
                "media": int(by_status.get("ok", 0)),
                "failed": int(by_status.get("failed", 0)),
                "media_vectors": int(conn.execute(select(func.count()).select_from(media_vectors)).scalar() or 0),
                "texts": int(conn.execute(select(func.count()).select_from(texts)).scalar() or 0),
                "text_vectors": int(conn.execute(select(func.count()).select_from(text_vectors)).scalar() or 0),
                "text_sources": int(conn.execute(select(func.count()).select_from(text_sources)).scalar() or 0),
            }


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
