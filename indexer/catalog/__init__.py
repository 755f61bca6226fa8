"""The SQLite catalog: the source of truth for what a library holds. Every SQL statement of xmodal
lives in this package: the schema and its migrations (schema.py), the full-text tables (fts.py),
writes and reads by id (catalog.py), and the read-side queries the searcher asks (queries.py)."""

from indexer.catalog.catalog import Catalog, pack, path_under
from indexer.catalog.names import COLLECTIONS, Collection
from indexer.catalog.records import KnownFile, MediaRecord, MediaRow, Segment, TextRow

__all__ = [
    "COLLECTIONS",
    "Catalog",
    "Collection",
    "KnownFile",
    "MediaRecord",
    "MediaRow",
    "Segment",
    "TextRow",
    "pack",
    "path_under",
]
