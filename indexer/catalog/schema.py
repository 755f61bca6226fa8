"""The catalog's tables, and the migrations that bring an older catalog up to this schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from indexer.catalog.fts import create as create_fts_tables
from indexer.catalog.fts import drop_insert_trigger
from indexer.catalog.names import VECTOR_TABLE_NAMES, Collection

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("path", String, nullable=False, unique=True),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("content_hash", String, index=True),
    Column("status", String, nullable=False),  # "ok" | "failed"
    Column("error", String),
    Column("media_type", String, nullable=False, default="image"),
    Column("format", String),
    Column("width", Integer),
    Column("height", Integer),
    Column("taken_at", String),
    Column("camera_make", String),
    Column("camera_model", String),
    Column("indexed_at", Float, nullable=False),
    # A video's moments are rows here too, so that they share the pictures' ids, index, filters and ranking: a
    # segment points at its video (parent_id), spans start_s..end_s and shows best at frame_s; its path is the
    # video's with a media fragment (clip.mp4#t=5,12). A video's own row holds duration_s and no vector.
    Column("parent_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), index=True),
    Column("start_s", Float),
    Column("end_s", Float),
    Column("frame_s", Float),
    Column("duration_s", Float),
    # The RAW file beside a JPEG/HEIC of the same name: one photo, indexed from the JPEG (indexer.pairs).
    Column("companion_path", String, index=True),
    sqlite_autoincrement=True,  # ids are FAISS ids: never reuse one
)

# Which items have a vector, and the catalog version that wrote it; the vectors themselves lie in the collection's
# file of the vector store (indexer.catalog.vector_store), row = id.
media_vectors = Table(
    "media_vectors",
    metadata,
    Column("id", Integer, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False, index=True),
)

text_sources = Table(
    "text_sources",
    metadata,
    Column("path", String, primary_key=True),
    Column("kind", String, nullable=False),  # "sidecar" | "txt" | "md" | "csv"
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
)

texts = Table(
    "texts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String, ForeignKey("text_sources.path", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("text", String, nullable=False),
    Column("media_id", Integer, ForeignKey("media.id", ondelete="SET NULL")),
    UniqueConstraint("source", "position"),
    Index("ix_texts_media", "media_id"),
    sqlite_autoincrement=True,
)

text_vectors = Table(
    "text_vectors",
    metadata,
    Column("id", Integer, ForeignKey("texts.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False, index=True),
)

# The vectors of a video's sampled frames: its segments are made from them, and can be made again without
# decoding the video (another segmentation, another threshold).
video_frames = Table(
    "video_frames",
    metadata,
    Column("video_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("time_s", Float, primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)

# Picture-looking files a scan found and left out, and why (indexer.unindexed): not media, no ids in any index.
# Each run replaces the rows under the paths it scanned.
skipped_files = Table(
    "skipped_files",
    metadata,
    Column("path", String, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("reason", String, nullable=False),
)

# The words read in a picture (indexer.ocr), one row per picture once it has been read, text or not: a picture
# without a row, or whose content changed since (content_hash), is still to be read. `body` is `text` as the
# full-text index holds it (CJK characters spaced); the triggers in fts.py keep words_fts in step.
picture_words = Table(
    "picture_words",
    metadata,
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("content_hash", String),
    Column("status", String, nullable=False, index=True),  # "text" | "none" | "failed"
    Column("text", String, nullable=False, default=""),
    Column("body", String, nullable=False, default=""),
    Column("reason", String),  # failed: why
    Column("engine", String, nullable=False),  # "tesseract 5.3.0 eng+chi_sim"
    Column("seconds", Float, nullable=False),
    Column("read_at", Float, nullable=False),
)

VECTOR_TABLES: dict[Collection, Table] = {"media": media_vectors, "texts": text_vectors}
assert {name: table.name for name, table in VECTOR_TABLES.items()} == VECTOR_TABLE_NAMES


def add_videos(conn: Connection) -> None:
    """Schema 3: videos and their segments (columns added in place, no table rebuilt) and their frames. Columns
    and tables already there are left as they are (a catalog that an older version's tests rebuilt by hand)."""
    have = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(media)")}
    columns = {
        "parent_id": "INTEGER REFERENCES media(id) ON DELETE CASCADE",
        "start_s": "REAL",
        "end_s": "REAL",
        "frame_s": "REAL",
        "duration_s": "REAL",
    }
    for name, kind in columns.items():
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE media ADD COLUMN {name} {kind}")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_media_parent_id ON media (parent_id)")
    video_frames.create(conn, checkfirst=True)


def add_companions_and_skipped(conn: Connection) -> None:
    """Schema 4: a photo's companion RAW file (a column added in place) and the files scans skip (a table)."""
    have = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(media)")}
    if "companion_path" not in have:
        conn.exec_driver_sql("ALTER TABLE media ADD COLUMN companion_path VARCHAR")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_media_companion_path ON media (companion_path)")
    skipped_files.create(conn, checkfirst=True)


def add_picture_words(conn: Connection) -> None:
    """Schema 5: the words read in pictures, and their full-text table."""
    from indexer.catalog.fts import create_words

    picture_words.create(conn, checkfirst=True)
    create_words(conn)


def move_vectors_to_files(conn: Connection) -> None:
    """Schema 6: the searched vectors leave SQLite for the vector store's files (one row per id), and their tables
    keep (id, version). Done in chunks, in the migration's transaction: a crash leaves schema 5 whole, and the
    rows already written to the files are written again."""
    from indexer.catalog.vector_store import VectorStore, store_folder

    (database,) = [row[2] for row in conn.exec_driver_sql("PRAGMA database_list") if row[1] == "main"]
    for collection, table in VECTOR_TABLES.items():
        name = table.name
        columns = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({name})")}
        if "vector" not in columns:
            continue
        store = VectorStore(store_folder(Path(database)) / f"{collection}.vec", readonly=False)
        store.clear()  # rows of an earlier try that did not commit
        last = -1
        while rows := conn.exec_driver_sql(
            f"SELECT id, vector FROM {name} WHERE id > ? ORDER BY id LIMIT 20000", (last,)
        ).fetchall():
            dim = len(rows[0][1]) // 4
            vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dim)
            store.write([row[0] for row in rows], vectors)
            last = rows[-1][0]
        store.flush()
        store.close()
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_{name}_version")
        conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_before")
        table.create(conn)
        conn.exec_driver_sql(f"INSERT INTO {name} (id, version) SELECT id, version FROM {name}_before")
        conn.exec_driver_sql(f"DROP TABLE {name}_before")


# Migrations from version N to N+1, applied in order on open. Version 1 is the first schema.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: create_fts_tables,  # 2: full-text tables for lexical matching
    2: add_videos,  # 3: video segments and frames
    3: add_companions_and_skipped,  # 4: RAW+JPEG pairs, skipped files
    4: add_picture_words,  # 5: words read in pictures (OCR)
    5: move_vectors_to_files,  # 6: vectors in the vector store's files
    6: drop_insert_trigger,  # 7: new rows' names indexed per transaction, not per row
}
