"""The catalog's tables by name, for the reads done in plain SQL: a query process reads the catalog through
sqlite3 alone and never imports SQLAlchemy (about a sixth of a cold `xmodal search`)."""

from __future__ import annotations

from typing import Literal

SCHEMA_VERSION = 7
Collection = Literal["media", "texts"]
COLLECTIONS: tuple[Collection, ...] = ("media", "texts")
VECTOR_TABLE_NAMES: dict[Collection, str] = {"media": "media_vectors", "texts": "text_vectors"}
