"""The first ranking: candidates from the ANN index, rescored exactly from the stored vectors.

The index on disk may lag the catalog (a writer mid-run, or a crash before a checkpoint). The vectors
written since the index's version are searched exactly alongside it, so a search always sees every item
the catalog has committed, and never one it has deleted. A new index generation (written by an indexer
or a watcher) is picked up by the next query: one stat of the manifest per query.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from indexer import ann
from indexer.catalog import Collection
from indexer.library import Library
from indexer.vector_index import VectorIndex
from searcher.candidates import Candidates

# Filters that leave at most this many items are answered exactly over all of them; wider ones
# filter inside the ANN search.
EXACT_FILTER_LIMIT = 50_000

FileSignature = tuple[int, int] | None


def _signature(path: Path) -> FileSignature:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns


class LiveIndex:
    """A collection's newest index generation, reloaded when its manifest changes."""

    def __init__(self, library: Library, collection: Collection) -> None:
        self.library = library
        self.collection = collection
        self._loaded: tuple[VectorIndex, FileSignature] | None = None
        self._lock = threading.Lock()

    def current(self) -> VectorIndex:
        signature = _signature(self.library.index_files(self.collection).manifest_path)
        with self._lock:
            if self._loaded is None or self._loaded[1] != signature:
                self._loaded = (self.library.vector_index(self.collection, mapped=True), signature)
            return self._loaded[0]


class VectorRetrieval:
    """Ids, exact scores and stored vectors of the items nearest a query vector."""

    def __init__(self, library: Library, nprobe: int, rescore_factor: int) -> None:
        self.library = library
        self.nprobe = nprobe
        self.rescore_factor = rescore_factor
        self.indexes = {collection: LiveIndex(library, collection) for collection in ("media", "texts")}

    def stored_vector(self, collection: Collection, item: int) -> np.ndarray | None:
        ids, vectors = self.library.catalog.fetch_vectors(collection, [item], self.library.dim())
        return vectors[0] if len(ids) else None

    def scored(self, vector: np.ndarray, collection: Collection, ids: np.ndarray) -> Candidates:
        """These items (those that still have a vector), scored against the query, in the given order."""
        found, vectors = self.library.catalog.fetch_vectors(collection, ids.tolist(), len(vector))
        position = {item: i for i, item in enumerate(found.tolist())}
        order = [position[item] for item in ids.tolist() if item in position]
        found, vectors = found[order], vectors[order]
        return Candidates.from_vectors(found, vectors @ vector, vectors, complete=True, floor=-np.inf)

    def nearest(
        self,
        vector: np.ndarray,
        collection: Collection,
        wanted: int,
        allowed: np.ndarray | None = None,
        exclude: int | None = None,
    ) -> Candidates:
        """The best `wanted` items (among `allowed` ids, without `exclude`), best first; ties broken by id."""
        index = self.indexes[collection].current()
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            candidates = allowed  # a narrow filter: every allowed item, exactly
        else:
            fetch = (wanted + (exclude is not None)) * self.rescore_factor
            _, ann_ids = ann.search(index.index, query, fetch, self.nprobe, allowed)
            candidates = np.union1d(ann_ids[0][ann_ids[0] >= 0], index.delta_ids())
            if allowed is not None:
                candidates = candidates[np.isin(candidates, allowed)]
        if exclude is not None:
            candidates = candidates[candidates != exclude]
        ids, vectors = self.library.catalog.fetch_vectors(collection, candidates.tolist(), index.dim)
        scores = vectors @ query[0]
        order = np.lexsort((ids, -scores))
        order = order[:wanted]
        complete = len(order) < wanted  # the pool holds everything there is
        floor = float(scores[order[-1]]) if len(order) else -np.inf
        return Candidates.from_vectors(ids[order], scores[order], vectors[order], complete, floor)
