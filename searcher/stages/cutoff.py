"""Relevance cutoff (`cutoff`, `cutoff_z`): a text query keeps the hits that stand out from how the query
scores against the library as a whole, or whose name or caption holds every word.

Every model has its own cosine scale (a real CLIP puts good matches near 0.3, the demo model near 0.85),
and a query about something absent still has a best match. What stays comparable is how far a hit stands
above the query's scores over the library: z = (score − μ) / σ over a fixed random sample of its vectors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from indexer.catalog import Catalog, Collection
from searcher.candidates import Candidates
from searcher.stages import RankRequest

SAMPLE_SIZE = 4096


@dataclass(frozen=True)
class ScoreNorm:
    mean: float
    std: float

    def z(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, dtype=np.float64) - self.mean) / self.std


def sample_rows(ids: np.ndarray, size: int = SAMPLE_SIZE, seed: int = 0) -> np.ndarray:
    """A fixed sample of ids: the same library gives the same cutoff every time."""
    if len(ids) <= size:
        return ids
    return np.sort(np.random.default_rng(seed).choice(ids, size=size, replace=False))


def score_norm(query: np.ndarray, sample: np.ndarray) -> ScoreNorm | None:
    """The query's score distribution over the sample; None when the library is too small to say."""
    if len(sample) < 8:
        return None
    scores = sample @ np.asarray(query, dtype=np.float32)
    std = float(scores.std())
    return ScoreNorm(float(scores.mean()), std) if std > 1e-6 else None


class LibrarySample:
    """A fixed sample of a collection's vectors, drawn again when the catalog changes."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._samples: dict[Collection, tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()

    def vectors(self, collection: Collection, dim: int) -> np.ndarray:
        version = self.catalog.version(collection)
        with self._lock:
            cached = self._samples.get(collection)
        if cached is None or cached[0] != version:
            ids = sample_rows(self.catalog.vector_ids(collection))
            cached = (version, self.catalog.fetch_vectors(collection, ids.tolist(), dim)[1])
            with self._lock:
                self._samples[collection] = cached
        return cached[1]


class CutoffStage:
    name = "cutoff"

    def __init__(self, sample: LibrarySample) -> None:
        self.sample = sample

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.cutoff and request.words

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        vector = request.query.vector
        norm = score_norm(vector, self.sample.vectors(request.collection, len(vector)))
        if norm is None:
            return candidates
        z = norm.z(candidates.score)
        threshold = request.ranking.cutoff_z
        kept = candidates.with_columns(z=z).keep((z >= threshold) | candidates.lexical_all_words)
        beyond = float(norm.z(np.asarray([candidates.floor]))[0]) if np.isfinite(candidates.floor) else -np.inf
        return kept.with_columns(complete=kept.complete or beyond < threshold)
