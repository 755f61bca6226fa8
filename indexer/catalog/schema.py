"""The catalog's tables, and the migrations that bring an older catalog up to this schema."""

from __future__ import annotations

from collections.abc import Callable

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
    sqlite_autoincrement=True,  # ids are FAISS ids: never reuse one
)

media_vectors = Table(
    "media_vectors",
    metadata,
    Column("id", Integer, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False, index=True),
    Column("vector", LargeBinary, nullable=False),
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
    Column("vector", LargeBinary, nullable=False),
)

VECTOR_TABLES: dict[Collection, Table] = {"media": media_vectors, "texts": text_vectors}
assert {name: table.name for name, table in VECTOR_TABLES.items()} == VECTOR_TABLE_NAMES

# Migrations from version N to N+1, applied in order on open. Version 1 is the first schema.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: create_fts_tables}  # 2: full-text tables for lexical matching
