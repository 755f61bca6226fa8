"""The first ranking: candidates from the ANN index with exact scores and their stored vectors.

Flat and IVF-Flat indexes score with the whole vectors, so their scores stand and only the best `wanted`
candidates' vectors are read from the catalog; an index whose scores are approximate has every candidate
rescored from the stored vectors.

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
            return self._rescored(query[0], collection, _without(allowed, exclude), wanted)  # narrow: all, exactly
        fetch = (wanted + (exclude is not None)) * self.rescore_factor
        ann_scores, ann_ids = ann.search(index.index, query, fetch, self.nprobe, allowed)
        found, scores = ann_ids[0], ann_scores[0]
        written_since = _without(index.delta_ids(), exclude)  # absent from the index, or there with a stale vector
        if allowed is not None:
            written_since = written_since[np.isin(written_since, allowed)]
        if not index.exact_scores:
            candidates = np.union1d(found[found >= 0], written_since)
            return self._rescored(query[0], collection, _without(candidates, exclude), wanted)
        keep = (found >= 0) & ~np.isin(found, written_since)
        if exclude is not None:
            keep &= found != exclude
        delta_ids, delta_vectors = self.library.catalog.fetch_vectors(collection, written_since.tolist(), index.dim)
        return self._best(
            np.concatenate([found[keep], delta_ids]),
            np.concatenate([scores[keep], delta_vectors @ query[0]]),
            dict(zip(delta_ids.tolist(), delta_vectors, strict=True)),
            collection,
            wanted,
            index.dim,
        )

    def _rescored(self, query: np.ndarray, collection: Collection, candidates: np.ndarray, wanted: int) -> Candidates:
        """Every candidate scored from its stored vector (those the catalog no longer holds drop out)."""
        ids, vectors = self.library.catalog.fetch_vectors(collection, candidates.tolist(), len(query))
        scores = vectors @ query
        order = np.lexsort((ids, -scores))[:wanted]
        return _candidates(ids[order], scores[order], vectors[order], wanted)

    def _best(
        self,
        ids: np.ndarray,
        scores: np.ndarray,
        known: dict[int, np.ndarray],
        collection: Collection,
        wanted: int,
        dim: int,
    ) -> Candidates:
        """The best `wanted` of these already-scored items, with their stored vectors: only theirs are read, and
        an item the catalog deleted after the index was written gives its place to the next one. `known`: vectors
        already read (filled in with the others')."""
        order = np.lexsort((ids, -scores))
        ids, scores = ids[order], scores[order]
        vectors = known
        chosen: list[int] = []
        start = 0
        while len(chosen) < wanted and start < len(ids):
            batch = ids[start : start + wanted - len(chosen)]
            missing = [int(item) for item in batch if int(item) not in vectors]
            if missing:
                got_ids, got_vectors = self.library.catalog.fetch_vectors(collection, missing, dim)
                vectors.update(zip(got_ids.tolist(), got_vectors, strict=True))
            chosen += [start + i for i, item in enumerate(batch.tolist()) if item in vectors]
            start += len(batch)
        rows = np.asarray(chosen, dtype=np.int64)
        stacked = np.stack([vectors[int(item)] for item in ids[rows]]) if len(rows) else np.zeros((0, dim), np.float32)
        return _candidates(ids[rows], scores[rows], stacked, wanted)


def _without(ids: np.ndarray, exclude: int | None) -> np.ndarray:
    return ids if exclude is None else ids[ids != exclude]


def _candidates(ids: np.ndarray, scores: np.ndarray, vectors: np.ndarray, wanted: int) -> Candidates:
    complete = len(ids) < wanted  # the pool holds everything there is
    floor = float(scores[-1]) if len(ids) else -np.inf
    return Candidates.from_vectors(ids, scores, vectors, complete, floor)
