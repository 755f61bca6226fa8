"""The vectors a collection's catalog holds beyond its index generation, kept in a reader's memory.

A writer leaves up to `delta_limit` changes beside a large index rather than rewrite it for each batch
(indexer.vector_index). Every query searches them exactly; reading them from the catalog on every query would
cost as much as the search, so a reader keeps them and, when the catalog's version moves, reads only the
vectors it does not hold yet. Deleted items leave with the refresh (a delete moves the version too).
"""

from __future__ import annotations

import threading

import numpy as np

from indexer.catalog import Catalog, Collection


class Delta:
    """What one index generation lacks or holds stale: (ids, vectors), refreshed when the catalog moves."""

    def __init__(self, catalog: Catalog, collection: Collection, index_version: int, dim: int) -> None:
        self.catalog = catalog
        self.collection = collection
        self.index_version = index_version
        self.dim = dim
        self._seen: int | None = None  # the catalog version the cache reflects
        self._ids = np.zeros(0, dtype=np.int64)
        self._versions = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._lock = threading.Lock()

    def current(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) by id, as of the catalog now: one read of its version when nothing changed."""
        version = self.catalog.version(self.collection)
        with self._lock:
            if version != self._seen:
                self._refresh()
                self._seen = version
            return self._ids, self._vectors

    def _refresh(self) -> None:
        ids, versions = self.catalog.versions_since(self.collection, self.index_version)
        vectors = np.zeros((len(ids), self.dim), dtype=np.float32)
        same = np.zeros(len(ids), dtype=bool)
        held = np.zeros(len(ids), dtype=np.int64)
        if len(self._ids):
            held = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
            same = (self._ids[held] == ids) & (self._versions[held] == versions)
            vectors[same] = self._vectors[held[same]]
        fresh = ~same
        if fresh.any():
            vectors[fresh] = self.catalog.vectors[self.collection].read(ids[fresh], self.dim)
        self._ids, self._versions, self._vectors = ids, versions, vectors
