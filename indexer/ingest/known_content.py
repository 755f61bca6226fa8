"""Content the library already has a vector for: decide whether a file was touched, moved, or copied.

A moved or renamed file keeps its row (id and vector); a copy reuses the vector of the original without
running the model. The move's source is either a missing row of this run, or a row (outside this run's
paths) whose file is gone from disk: the watcher hands a run the arrival of a move without its departure.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from indexer.catalog import Catalog, MediaRecord
from indexer.decode import ImageInfo
from indexer.ingest.plan import MissingRows, PlannedFile
from indexer.ingest.records import ok_record


@dataclass(frozen=True)
class Touch:
    """Same content at the same path: only size and mtime changed."""

    row_id: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Move:
    """A row follows its file to a new path."""

    row_id: int
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Copy:
    """A file with the content of another: its own row, the original's vector and picture metadata."""

    record: MediaRecord
    vector: np.ndarray


@dataclass(frozen=True)
class ReadAgain:
    """The only row with this content went away meanwhile: decode the file after all."""

    item: PlannedFile


Resolution = Touch | Move | Copy | ReadAgain


class ContentMatcher:
    def __init__(self, catalog: Catalog, missing: MissingRows, dim: int) -> None:
        self.catalog = catalog
        self.missing = missing
        self.dim = dim

    def resolve(self, item: PlannedFile, content_hash: str, moving: Collection[int]) -> Resolution:
        """`moving`: row ids already moved in the batch not yet written, which cannot move twice."""
        file, row = item.file, item.known
        if row is not None and row.content_hash == content_hash and row.has_vector:
            return Touch(row.id, file.size, file.mtime_ns)
        source = self.missing.claim(content_hash)
        if source is not None:
            return Move(source.id, file.path, file.size, file.mtime_ns)
        source_ids = self.catalog.ids_by_hash(content_hash)
        sources = self.catalog.media_rows(source_ids)
        vanished = [i for i, source_row in sources.items() if i not in moving and not os.path.exists(source_row.path)]
        if vanished:
            return Move(vanished[0], file.path, file.size, file.mtime_ns)
        if not source_ids:
            return ReadAgain(item)
        original = sources[source_ids[0]]
        if original.media_type == "video":
            return ReadAgain(item)  # a copy of a video gets moments of its own: sampled again, not copied
        _, vectors = self.catalog.fetch_vectors("media", source_ids[:1], self.dim)
        info = ImageInfo(**{name: getattr(original, name) for name in ImageInfo.__dataclass_fields__})
        record = ok_record(item, content_hash, info)
        return Copy(record, vectors[0])
