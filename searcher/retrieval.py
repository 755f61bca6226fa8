"""The first ranking: candidates from the ANN index with exact scores and their stored vectors.

Flat and IVF-Flat indexes score with the whole vectors, so their scores stand and only the best `wanted`
candidates' vectors are read from the catalog; an index whose scores are approximate has every candidate
rescored from the stored vectors.

The index on disk may lag the catalog (a writer mid-run, a crash before a checkpoint, or a small delta a
writer leaves beside a large index). The vectors written since the index's version are searched exactly
alongside it (searcher.delta keeps them in memory), so a search always sees every item the catalog has
committed, and never one it has deleted. A new index generation (written by an indexer
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
from searcher.delta import Delta

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
    """A collection's newest index generation, reloaded when its manifest changes, and what it lacks (Delta)."""

    def __init__(self, library: Library, collection: Collection) -> None:
        self.library = library
        self.collection = collection
        self._loaded: tuple[VectorIndex, Delta, FileSignature] | None = None
        self._lock = threading.Lock()

    def current(self) -> tuple[VectorIndex, Delta]:
        signature = _signature(self.library.index_files(self.collection).manifest_path)
        with self._lock:
            if self._loaded is None or self._loaded[2] != signature:
                index = self.library.vector_index(self.collection, mapped=True)
                index.index  # noqa: B018  (loaded now: its version is the one the delta starts from)
                delta = Delta(self.library.catalog, self.collection, index.version, index.dim)
                self._loaded = (index, delta, signature)
            return self._loaded[0], self._loaded[1]


class VectorRetrieval:
    """Ids, exact scores and stored vectors of the items nearest a query vector."""

    def __init__(
        self,
        library: Library,
        nprobe: int,
        rescore_factor: int,
        *,
        rerank_candidates: int = 256,
        follow_tuning: bool = False,
    ) -> None:
        """`rerank_candidates`: the least a compressed index hands to re-ranking (settings.rerank_candidates).
        `follow_tuning`: where the index carries values `xmodal eval --tune-search` measured for it, they
        replace these defaults (the engine says so for each value the user did not set)."""
        self.library = library
        self.nprobe = nprobe
        self.rescore_factor = rescore_factor
        self.rerank_candidates = rerank_candidates
        self.follow_tuning = follow_tuning
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
        index, delta = self.indexes[collection].current()
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            return self._rescored(query[0], collection, _without(allowed, exclude), wanted)  # narrow: all, exactly
        nprobe, rescore_factor, rerank_candidates = self.search_parameters(index)
        fetch = (wanted + (exclude is not None)) * rescore_factor
        if not index.exact_scores:
            fetch = max(fetch, rerank_candidates)
        ann_scores, ann_ids = ann.search(index.index, query, fetch, nprobe, allowed)
        found, scores = ann_ids[0], ann_scores[0]
        # Written since the index: absent from it, or there with a stale vector; scored here, exactly.
        delta_ids, delta_vectors = delta.current()
        wanted_delta = delta_ids != exclude if exclude is not None else np.ones(len(delta_ids), dtype=bool)
        if allowed is not None:
            wanted_delta &= np.isin(delta_ids, allowed)
        delta_ids, delta_vectors = delta_ids[wanted_delta], delta_vectors[wanted_delta]
        keep = (found >= 0) & ~np.isin(found, delta_ids)
        if exclude is not None:
            keep &= found != exclude
        if not index.exact_scores:  # compressed codes: every candidate re-ranked from its stored vector
            return self._rescored(query[0], collection, found[keep], wanted, (delta_ids, delta_vectors))
        return self._best(
            np.concatenate([found[keep], delta_ids]),
            np.concatenate([scores[keep], delta_vectors @ query[0]]),
            dict(zip(delta_ids.tolist(), delta_vectors, strict=True)),
            collection,
            wanted,
            index.dim,
        )

    def search_parameters(self, index: VectorIndex) -> tuple[int, int, int]:
        """(nprobe, rescore factor, least candidates re-ranked) for this index: the tuned ones where it has them
        and they are followed."""
        tuning = index.tuning if self.follow_tuning else None
        if not tuning:
            return self.nprobe, self.rescore_factor, self.rerank_candidates
        return (
            int(tuning.get("nprobe", self.nprobe)),
            int(tuning.get("rescore_factor", self.rescore_factor)),
            int(tuning.get("rerank_candidates", self.rerank_candidates)),
        )

    def _rescored(
        self,
        query: np.ndarray,
        collection: Collection,
        candidates: np.ndarray,
        wanted: int,
        known: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Candidates:
        """Every candidate scored from its stored vector (those the catalog no longer holds drop out), with the
        `known` (ids, vectors) beside them, already read."""
        ids, vectors = self.library.catalog.fetch_vectors(collection, candidates.tolist(), len(query))
        if known is not None:
            ids, vectors = np.concatenate([ids, known[0]]), np.concatenate([vectors, known[1]])
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
