"""The catalog: media, texts, their vectors and the library's records, in one SQLite database and, for the
vectors, one file per collection beside it (indexer.catalog.vector_store).

The catalog is the source of truth. Every write batch bumps a per-collection version and tags the
vectors it wrote with it, so an ANN index (which records the version it covers) can always be
brought up to date from the catalog alone: after a checkpoint, after a crash, or by a reader.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import LibraryIncompatible
from indexer.catalog.fts import index_names
from indexer.catalog.names import COLLECTIONS, SCHEMA_VERSION, VECTOR_TABLE_NAMES, Collection
from indexer.catalog.records import KnownFile, MediaRecord, MediaRow, Segment, TextRow
from indexer.catalog.vector_store import VectorStore, store_folder

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

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
    """One SQLite database in WAL mode: a writer and many readers at once.

    Two ways in. Reads are plain SQL on sqlite3 connections of their own, one per thread (`connection()`), so a
    query process never imports SQLAlchemy. Writes, and the reads that compose SQLAlchemy expressions (filters,
    paths under a folder), go through a SQLAlchemy engine, made on first use: at once by a writer (it creates
    or migrates the schema), perhaps never by a reader.
    """

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self._engine: Engine | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if readonly:
            self._check_schema()
        else:
            self._create_or_migrate()
        folder = store_folder(path)
        self.vectors = {c: VectorStore(folder / f"{c}.vec", readonly=readonly) for c in COLLECTIONS}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._connect(self.path, self.readonly)
        return self._engine

    @staticmethod
    def _open(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @classmethod
    def _connect(cls, path: Path, readonly: bool) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import QueuePool

        # A bare "sqlite://" URL would make SQLAlchemy pick its in-memory, one-connection-per-thread pool.
        return create_engine("sqlite://", creator=lambda: cls._open(path, readonly), poolclass=QueuePool)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's read-only connection, for plain-SQL reads (several in a row read what the catalog held
        when each began: committed writes only, never a writer's half-done batch)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        yield conn

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._local = threading.local()
            if self._engine is not None:
                self._engine.dispose()
        for store in getattr(self, "vectors", {}).values():
            store.close()

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self.connection() as conn:
            return conn.execute(sql, tuple(parameters)).fetchall()

    def _dicts(self, sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.connection() as conn:
            cursor = conn.execute(sql, tuple(parameters))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # -- schema -------------------------------------------------------------------------------

    def _schema_version(self) -> int | None:
        if not self._rows("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"):
            return None
        value = self.get_meta("schema_version")
        return int(value) if value is not None else None

    def _check_schema(self) -> None:
        version = self._schema_version()
        if version is None:
            raise LibraryIncompatible(f"{self.path} is not an xmodal catalog")
        if version != SCHEMA_VERSION:
            raise LibraryIncompatible(
                f"the catalog at {self.path} has schema version {version}; this xmodal reads {SCHEMA_VERSION}",
                "run any writing command (xmodal index) with this version to migrate it, or upgrade xmodal",
            )

    def _create_or_migrate(self) -> None:
        from indexer.catalog.fts import create as create_fts_tables
        from indexer.catalog.fts import create_words
        from indexer.catalog.schema import MIGRATIONS, metadata

        with self.engine.begin() as conn:
            has_meta = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").first()
            value = (
                conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").scalar()
                if has_meta
                else None
            )
            version = int(value) if value is not None else None
            if version is None:
                metadata.create_all(conn)
                create_fts_tables(conn)
                create_words(conn)
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
        conn.exec_driver_sql("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

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
        current = int(conn.exec_driver_sql("SELECT value FROM meta WHERE key = ?", (key,)).scalar() or 0)
        self._set(conn, key, str(current + 1))
        return current + 1

    # -- media --------------------------------------------------------------------------------

    def known_files(self, roots: Iterable[str]) -> dict[str, KnownFile]:
        from sqlalchemy import select

        from indexer.catalog.schema import media, media_vectors

        cols = (
            media.c.id,
            media.c.path,
            media.c.size,
            media.c.mtime_ns,
            media.c.content_hash,
            media.c.status,
            media_vectors.c.id.is_not(None) | _whole_video(media),
        )
        found: dict[str, KnownFile] = {}
        with self.engine.connect() as conn:
            for root in roots:
                stmt = (
                    select(*cols)
                    .outerjoin(media_vectors, media_vectors.c.id == media.c.id)
                    .where(path_under(media.c.path, root) | (media.c.path == root))
                    .where(media.c.parent_id.is_(None))  # files only: a video's segments are not on disk
                )
                for row in conn.execute(stmt):
                    found[row.path] = KnownFile(*row)
        return found

    def ids_by_hash(self, content_hash: str) -> list[int]:
        from sqlalchemy import select

        from indexer.catalog.schema import media, media_vectors

        stmt = (
            select(media.c.id)
            .outerjoin(media_vectors, media_vectors.c.id == media.c.id)
            .where((media.c.content_hash == content_hash) & (media.c.status == "ok"))
            .where(media_vectors.c.id.is_not(None) | _whole_video(media))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def ok_hashes(self) -> set[str]:
        """Content that has a vector already (a video: its segments): a file with it needs no decoding."""
        rows = self._rows(
            "SELECT DISTINCT content_hash FROM media WHERE content_hash IS NOT NULL AND "
            "(id IN (SELECT id FROM media_vectors) OR (media_type = 'video' AND status = 'ok' AND parent_id IS NULL "
            "AND id IN (SELECT video_id FROM video_frames)))"
        )
        return {row[0] for row in rows}

    def write_media(self, records: Sequence[MediaRecord], vectors: Sequence[np.ndarray | None]) -> list[int]:
        """Insert or update rows and their vectors in one transaction; returns the row ids in order."""
        with self.engine.begin() as conn:
            return self._write_media(conn, self._bump(conn, "media"), records, vectors)

    def _write_media(
        self, conn: Connection, version: int, records: Sequence[MediaRecord], vectors: Sequence[np.ndarray | None]
    ) -> list[int]:
        from sqlalchemy import bindparam, delete, insert, update

        from indexer.catalog.schema import media, media_vectors

        now = time.time()
        fields = [name for name in MediaRecord.__dataclass_fields__ if name != "id"]
        fresh = [i for i, record in enumerate(records) if record.id is None]
        known = [i for i, record in enumerate(records) if record.id is not None]
        ids: list[int] = [record.id or 0 for record in records]
        if fresh:
            paths = [records[i].path for i in fresh]
            for chunk in chunks(paths, 500):
                conn.execute(delete(media).where(media.c.path.in_(chunk)))
            first = _next_id(conn, "media")
            for offset, i in enumerate(fresh):
                ids[i] = first + offset
            rows = [{**{f: getattr(records[i], f) for f in fields}, "indexed_at": now, "id": ids[i]} for i in fresh]
            conn.execute(insert(media), rows)
            index_names(conn, ids[fresh[0]], ids[fresh[-1]])
        if known:
            rows = [
                {**{f: getattr(records[i], f) for f in fields}, "indexed_at": now, "row_id": records[i].id}
                for i in known
            ]
            stmt = update(media).where(media.c.id == bindparam("row_id"))
            conn.execute(stmt.values({f: bindparam(f) for f in [*fields, "indexed_at"]}), rows)
        for chunk in chunks(ids, 500):
            conn.execute(delete(media_vectors).where(media_vectors.c.id.in_(chunk)))
        self._write_vectors(conn, "media", version, ids, vectors)
        return ids

    def _write_vectors(
        self, conn: Connection, collection: Collection, version: int, ids: Sequence[int], vectors: Sequence[Any]
    ) -> None:
        """Rows in the vector store, flushed to disk, and (id, version) in the catalog: the rows are durable before
        the caller's commit says they exist. A None vector is skipped."""
        from indexer.catalog.schema import VECTOR_TABLES

        kept = [(row_id, vector) for row_id, vector in zip(ids, vectors, strict=True) if vector is not None]
        if not kept:
            return
        store = self.vectors[collection]
        store.write([row_id for row_id, _ in kept], np.stack([vector for _, vector in kept]))
        store.flush()
        table = VECTOR_TABLES[collection]
        conn.execute(table.insert(), [{"id": row_id, "version": version} for row_id, _ in kept])

    def move_media(self, moves: Sequence[tuple[int, str, int, int]]) -> None:
        """Point rows at new paths (id, path, size, mtime_ns): a moved file keeps its id and vector."""
        from sqlalchemy import delete, update

        from indexer.catalog.schema import media

        if not moves:
            return
        with self.engine.begin() as conn:
            for row_id, path, size, mtime_ns in moves:
                conn.execute(delete(media).where((media.c.path == path) & (media.c.id != row_id)))
                conn.execute(update(media).where(media.c.id == row_id).values(path=path, size=size, mtime_ns=mtime_ns))
                conn.exec_driver_sql(  # a video's segments follow it: their paths are its path plus a fragment
                    "UPDATE media SET path = ? || substr(path, instr(path, '#')) WHERE parent_id = ?", (path, row_id)
                )

    def touch_media(self, updates: Sequence[tuple[int, int, int]]) -> None:
        """Record a new size/mtime (id, size, mtime_ns) for a file whose content did not change."""
        from sqlalchemy import update

        from indexer.catalog.schema import media

        if not updates:
            return
        with self.engine.begin() as conn:
            for row_id, size, mtime_ns in updates:
                conn.execute(update(media).where(media.c.id == row_id).values(size=size, mtime_ns=mtime_ns))

    def delete_media(self, ids: Sequence[int]) -> None:
        from sqlalchemy import delete

        from indexer.catalog.schema import media

        if not ids:
            return
        with self.engine.begin() as conn:
            self._bump(conn, "media")
            for chunk in chunks(ids, 500):
                conn.execute(delete(media).where(media.c.id.in_(chunk)))

    def write_video(
        self, record: MediaRecord, frames: Sequence[tuple[float, np.ndarray]], segments: Sequence[Segment]
    ) -> tuple[int, list[int]]:
        """A video, its sampled frames and its segments, in one transaction (ids: the video's, its segments');
        a video written before loses its old frames and segments, whose ids are never reused."""
        from sqlalchemy import insert

        from indexer.catalog.schema import media, video_frames

        video = replace(record, media_type="video")
        now = time.time()
        with self.engine.begin() as conn:
            version = self._bump(conn, "media")
            (video_id,) = self._write_media(conn, version, [video], [None])
            conn.exec_driver_sql("DELETE FROM media WHERE parent_id = ?", (video_id,))  # cascades to vectors
            conn.exec_driver_sql("DELETE FROM video_frames WHERE video_id = ?", (video_id,))
            if frames:
                rows = [{"video_id": video_id, "time_s": float(t), "vector": pack(v)} for t, v in frames]
                conn.execute(insert(video_frames), rows)
            ids: list[int] = []
            for segment in segments:
                row = {
                    "path": f"{video.path}#t={segment.start_s:g},{segment.end_s:g}",
                    "size": video.size,
                    "mtime_ns": video.mtime_ns,
                    "content_hash": None,  # content is the video's: a move is the video's move
                    "status": "ok",
                    "media_type": "video",
                    "width": video.width,
                    "height": video.height,
                    "taken_at": video.taken_at,
                    "camera_make": video.camera_make,
                    "camera_model": video.camera_model,
                    "indexed_at": now,
                    "parent_id": video_id,
                    "start_s": segment.start_s,
                    "end_s": segment.end_s,
                    "frame_s": segment.frame_s,
                }
                ids.append(int(conn.execute(insert(media).values(**row)).inserted_primary_key[0]))  # type: ignore[index]
            if ids:
                index_names(conn, ids[0], ids[-1])
            self._write_vectors(conn, "media", version, ids, [segment.vector for segment in segments])
        return video_id, ids

    def video_frames(self, video_id: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, vectors) of a video's sampled frames, in time order."""
        rows = self._rows("SELECT time_s, vector FROM video_frames WHERE video_id = ? ORDER BY time_s", (video_id,))
        return np.asarray([row[0] for row in rows], dtype=np.float64), unpack_many([row[1] for row in rows], dim)

    def media_rows(self, ids: Sequence[int]) -> dict[int, MediaRow]:
        rows: dict[int, MediaRow] = {}
        for chunk in chunks([int(item) for item in ids], 900):
            for row in self._dicts(f"SELECT * FROM media WHERE id IN ({_marks(chunk)})", chunk):
                rows[row["id"]] = MediaRow.of(row)
        return rows

    def videos_of(self, ids: Sequence[int]) -> dict[int, int]:
        """{segment id: its video's id} for those of `ids` that are moments of a video (pictures are left out)."""
        found: dict[int, int] = {}
        for chunk in chunks([int(item) for item in ids], 900):
            query = f"SELECT id, parent_id FROM media WHERE parent_id IS NOT NULL AND id IN ({_marks(chunk)})"
            found.update((int(item), int(parent)) for item, parent in self._rows(query, chunk))
        return found

    def segments_of(self, video_id: int) -> list[MediaRow]:
        """A video's moments in time order (none for a picture, or a video whose moments were not written)."""
        query = "SELECT * FROM media WHERE parent_id = ? ORDER BY start_s, id"
        return [MediaRow.of(row) for row in self._dicts(query, (video_id,))]

    def media_row(self, media_id: int) -> MediaRow | None:
        return self.media_rows([media_id]).get(media_id)

    def media_id_for_path(self, path: str) -> int | None:
        rows = self._rows("SELECT id FROM media WHERE path = ?", (path,))
        return int(rows[0][0]) if rows else None

    def partial_videos(self) -> list[tuple[str, str]]:
        """Videos indexed up to where they broke off, with what their record says of it."""
        rows = self._rows(
            "SELECT path, error FROM media WHERE media_type = 'video' AND status = 'ok' AND parent_id IS NULL "
            "AND error IS NOT NULL ORDER BY path"
        )
        return [(path, error) for path, error in rows]

    def failures(self) -> list[tuple[str, str]]:
        rows = self._rows("SELECT path, error FROM media WHERE status = 'failed' AND parent_id IS NULL ORDER BY path")
        return [(path, error or "") for path, error in rows]

    # -- companions (RAW+JPEG) and skipped files -----------------------------------------------

    def sync_companions(self, scopes: Sequence[str], pairs: dict[str, str]) -> None:
        """Make the companion RAW of every photo under `scopes` (files and folders a run covered) what the run
        found: `pairs` maps a JPEG/HEIC path to its RAW, and photos under the scopes not in it have none. Only rows
        that change are written, so a run that found nothing new writes nothing."""
        from sqlalchemy import bindparam, select, update

        from indexer.catalog.schema import media

        with self.engine.begin() as conn:
            current: dict[str, str] = {}
            for scope in scopes:
                near = _in_scope(media.c.path, scope) | _in_scope(media.c.companion_path, scope)
                stmt = select(media.c.path, media.c.companion_path).where(
                    media.c.companion_path.is_not(None) & media.c.parent_id.is_(None) & near
                )
                current.update((row.path, row.companion_path) for row in conn.execute(stmt))
            changes = [{"at": path, "raw": None} for path in current if path not in pairs]
            changes += [{"at": path, "raw": raw} for path, raw in pairs.items() if current.get(path) != raw]
            if changes:
                change = update(media).where((media.c.path == bindparam("at")) & media.c.parent_id.is_(None))
                conn.execute(change.values(companion_path=bindparam("raw")), changes)

    def sync_skipped(self, scopes: Sequence[str], found: Sequence[tuple[str, int, int, str]]) -> None:
        """Replace the skipped files recorded under `scopes` with those a run found there (path, size, mtime_ns,
        reason)."""
        from sqlalchemy import delete, insert

        from indexer.catalog.schema import skipped_files

        with self.engine.begin() as conn:
            for scope in scopes:
                conn.execute(delete(skipped_files).where(_in_scope(skipped_files.c.path, scope)))
            rows = [{"path": p, "size": size, "mtime_ns": mtime, "reason": why} for p, size, mtime, why in found]
            for chunk in chunks(rows, 500):
                conn.execute(insert(skipped_files).prefix_with("OR REPLACE"), list(chunk))

    def skipped_by_reason(self, examples: int = 3) -> list[tuple[str, int, list[str]]]:
        """(reason, how many files, the first few of their paths), most files first."""
        with self.connection() as conn:
            counts = conn.execute(
                "SELECT reason, count(*) FROM skipped_files GROUP BY reason ORDER BY count(*) DESC, reason"
            ).fetchall()
            return [
                (
                    reason,
                    int(count),
                    [
                        row[0]
                        for row in conn.execute(
                            "SELECT path FROM skipped_files WHERE reason = ? ORDER BY path LIMIT ?", (reason, examples)
                        )
                    ],
                )
                for reason, count in counts
            ]

    # -- texts --------------------------------------------------------------------------------

    def text_source(self, path: str) -> tuple[int, int] | None:
        rows = self._rows("SELECT size, mtime_ns FROM text_sources WHERE path = ?", (path,))
        return None if not rows else (int(rows[0][0]), int(rows[0][1]))

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
        from sqlalchemy import delete, insert

        from indexer.catalog.schema import text_sources, texts

        with self.engine.begin() as conn:
            version = self._bump(conn, "texts")
            conn.execute(delete(text_sources).where(text_sources.c.path == path))  # cascades to old texts
            conn.execute(insert(text_sources).values(path=path, kind=kind, size=size, mtime_ns=mtime_ns))
            ids: list[int] = []
            for position, (text, media_id) in enumerate(entries):
                row_id = int(
                    conn.execute(
                        insert(texts).values(source=path, position=position, text=text, media_id=media_id)
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
                ids.append(row_id)
            self._write_vectors(conn, "texts", version, ids, [new_vectors[text] for text, _ in entries])
        return len(entries)

    def delete_text_sources(self, paths: Sequence[str]) -> None:
        from sqlalchemy import delete

        from indexer.catalog.schema import text_sources

        if not paths:
            return
        with self.engine.begin() as conn:
            self._bump(conn, "texts")
            for chunk in chunks(paths, 500):
                conn.execute(delete(text_sources).where(text_sources.c.path.in_(chunk)))

    def sidecar_sources_under(self, roots: Iterable[str]) -> list[str]:
        from sqlalchemy import select

        from indexer.catalog.schema import text_sources

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
        rows = self._rows(
            "SELECT t.text, t.id FROM texts t JOIN text_vectors v ON v.id = t.id WHERE t.source = ?", (path,)
        )
        if not rows:
            return {}
        vectors = self.vectors["texts"].read([row[1] for row in rows])
        return {text: vector for (text, _), vector in zip(rows, vectors, strict=True)}

    def text_rows(self, ids: Sequence[int]) -> dict[int, TextRow]:
        rows: dict[int, TextRow] = {}
        for chunk in chunks([int(item) for item in ids], 900):
            sql = (
                "SELECT t.*, s.kind FROM texts t JOIN text_sources s ON s.path = t.source "
                f"WHERE t.id IN ({_marks(chunk)})"
            )
            for row in self._dicts(sql, chunk):
                rows[row["id"]] = TextRow.of(row)
        return rows

    # -- vectors ------------------------------------------------------------------------------

    def ids_with_vectors(self, collection: Collection, ids: Sequence[int]) -> set[int]:
        """The ids among these that have a vector (a failed or deleted item has none)."""
        if not ids:
            return set()
        sql = f"SELECT id FROM {VECTOR_TABLE_NAMES[collection]} WHERE id IN (SELECT value FROM json_each(?))"
        return {row[0] for row in self._rows(sql, (f"[{','.join(map(str, ids))}]",))}

    def vector_count(self, collection: Collection) -> int:
        return int(self._rows(f"SELECT count(*) FROM {VECTOR_TABLE_NAMES[collection]}")[0][0])

    def vector_ids(self, collection: Collection) -> np.ndarray:
        rows = self._rows(f"SELECT id FROM {VECTOR_TABLE_NAMES[collection]}")
        return np.asarray([row[0] for row in rows], dtype=np.int64)

    def vectors_since(self, collection: Collection, version: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Vectors written after `version`: what an index that covers `version` lacks or holds stale."""
        ids = self.ids_since(collection, version)
        ids.sort()
        return ids, self.vectors[collection].read(ids, dim)

    def prefer_precision(self, precision: str) -> None:
        """How vector files started from now on store values ("float32" or "float16"); a file keeps its own."""
        for store in self.vectors.values():
            store.prefer_value_bytes(2 if precision == "float16" else 4)

    def versions_since(self, collection: Collection, version: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, versions) of the vectors written after `version`, by id."""
        sql = f"SELECT id, version FROM {VECTOR_TABLE_NAMES[collection]} WHERE version > ? ORDER BY id"
        rows = np.asarray(self._rows(sql, (version,)), dtype=np.int64).reshape(-1, 2)
        return rows[:, 0].copy(), rows[:, 1].copy()

    def ids_since(self, collection: Collection, version: int) -> np.ndarray:
        rows = self._rows(f"SELECT id FROM {VECTOR_TABLE_NAMES[collection]} WHERE version > ?", (version,))
        return np.asarray([row[0] for row in rows], dtype=np.int64)

    def fetch_vectors(self, collection: Collection, ids: Sequence[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of those of `ids` that have one, in no particular order."""
        found = np.asarray(sorted(self.ids_with_vectors(collection, [int(item) for item in ids])), dtype=np.int64)
        return found, self.vectors[collection].read(found, dim)

    def drop_all_vectors(self) -> None:
        """Forget every vector (the model changed); rows stay and are re-encoded on the next run."""
        from sqlalchemy import delete, update

        from indexer.catalog.schema import VECTOR_TABLES, media, meta, text_sources

        with self.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM media WHERE parent_id IS NOT NULL")  # a video's moments: made anew
            conn.exec_driver_sql("DELETE FROM video_frames")
            for collection, table in VECTOR_TABLES.items():
                conn.execute(delete(table))
                self._bump(conn, collection)
            conn.execute(update(media).values(size=-1))  # makes every file look changed
            conn.execute(update(text_sources).values(size=-1))
            conn.execute(delete(meta).where(meta.c.key == IMAGE_RUNTIMES))  # what encoded them goes with them
        for store in self.vectors.values():  # after the commit: until then the catalog still points at them
            store.clear()

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
        return bool(self._rows("SELECT 1 FROM media_vectors LIMIT 1"))

    def counts(self) -> dict[str, int]:
        with self.connection() as conn:
            files = "SELECT media_type, status, count(*) FROM media WHERE parent_id IS NULL GROUP BY media_type, status"
            by_kind = {(kind, status): count for kind, status, count in conn.execute(files).fetchall()}
            segments = conn.execute("SELECT count(*) FROM media WHERE parent_id IS NOT NULL").fetchone()[0]
            tables = ("media_vectors", "texts", "text_vectors", "text_sources")
            row = conn.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in tables)).fetchone()
        return {
            "media": int(by_kind.get(("image", "ok"), 0)),  # pictures
            "videos": int(by_kind.get(("video", "ok"), 0)),
            "failed": sum(int(count) for (_, status), count in by_kind.items() if status == "failed"),
            "segments": int(segments),  # the videos' moments
            **{table: int(count) for table, count in zip(tables, row, strict=True)},
        }


def _in_scope(column: Any, scope: str) -> Any:
    """A path column at `scope` (a file) or under it (a folder)."""
    return (column == scope) | path_under(column, scope)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _whole_video(media: Any) -> Any:
    """A video's own row, written whole: it has no vector, its frames and segments have (write_video writes them
    all at once; forgetting the vectors forgets them too)."""
    from sqlalchemy import exists

    from indexer.catalog.schema import video_frames

    written = exists().where(video_frames.c.video_id == media.c.id)
    return (media.c.media_type == "video") & (media.c.status == "ok") & media.c.parent_id.is_(None) & written


def _next_id(conn: Connection, table: str) -> int:
    """The id AUTOINCREMENT would give the next row, given by the writer itself: one executemany of rows with their
    ids costs a tenth of an INSERT ... RETURNING, which SQLite runs row by row to keep the order (12k rows/s at 1M
    items, bench/cluster_index.py). The single writer holds the lock, so no one else takes an id meanwhile; SQLite
    moves the table's sequence past the ids inserted, so none is handed out twice."""
    from sqlalchemy import text

    sequence = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :name"), {"name": table}).scalar()
    largest = conn.execute(text(f"SELECT max(id) FROM {table}")).scalar()  # a table name of ours, never input
    return max(int(sequence or 0), int(largest or 0)) + 1
