"""Relevance cutoff (`cutoff`, `cutoff_method`): a text query keeps the hits the method judges relevant, and
every hit whose name or caption holds every word.

Every model has its own cosine scale (a real CLIP puts good matches near 0.3, the demo model near 0.85),
and a query about something absent still has a best match. The methods:

- `z`: how far a hit stands above the query's scores over the library, z = (score − μ) / σ over a fixed
  random sample of its vectors, at least `cutoff_z`;
- `relative`: at least `cutoff_fraction` of the best hit's z;
- `gap`: above the largest drop between consecutive scores of the candidates;
- `calibrated`: at least the model's own cosine threshold, learnt from true and random pairs by
  `xmodal eval --pairs` and stored in the library (training/calibration.py); none stored: nothing is cut.

The first three read only the shape of the query's scores: a query everything matches ("a shape") and one
nothing matches ("a giraffe") can look alike to them. Only an absolute level (`calibrated`) can tell them apart.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import numpy as np

from indexer.catalog import Catalog, Collection
from indexer.model_spec import ModelSpec
from searcher.candidates import Candidates
from searcher.stages import RankRequest

SAMPLE_SIZE = 4096
CALIBRATION_KEY = "cutoff_calibration"  # catalog meta: {"model": identity, "cosine": threshold, ...}


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


def calibrated_cosine(catalog: Catalog) -> float | None:
    """The stored threshold, when it was learnt with the library's current model (a reindex makes it stale)."""
    stored, model = catalog.get_json(CALIBRATION_KEY), catalog.get_json("model")
    if not isinstance(stored, dict) or model is None:
        return None
    if _canonical(stored.get("model")) != _canonical(ModelSpec.from_json(model).identity()):
        return None
    return float(stored["cosine"])


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def largest_gap(scores: np.ndarray) -> float | None:
    """The score just above the largest drop between consecutive scores (best first); None for under 2."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if len(ordered) < 2:
        return None
    return float(ordered[int(np.argmax(ordered[:-1] - ordered[1:]))])


class CutoffStage:
    name = "cutoff"

    def __init__(self, sample: LibrarySample) -> None:
        self.sample = sample

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.cutoff and request.words

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        method = request.ranking.cutoff_method
        if method == "calibrated":
            return self._at_least(candidates, calibrated_cosine(self.sample.catalog))
        if method == "gap":
            return self._at_least(candidates, largest_gap(candidates.score[candidates.vector_rank > 0]), True)
        vector = request.query.vector
        norm = score_norm(vector, self.sample.vectors(request.collection, len(vector)))
        if norm is None:
            return candidates
        z = norm.z(candidates.score)
        threshold = request.ranking.cutoff_z
        if method == "relative":
            best = float(np.max(z)) if len(z) else 0.0
            if best <= 0:  # nothing stands above the library's mean: no level to take a share of
                return candidates.with_columns(z=z)
            threshold = request.ranking.cutoff_fraction * best
        kept = candidates.with_columns(z=z).keep((z >= threshold) | candidates.lexical_all_words)
        beyond = float(norm.z(np.asarray([candidates.floor]))[0]) if np.isfinite(candidates.floor) else -np.inf
        return kept.with_columns(complete=kept.complete or beyond < threshold)

    @staticmethod
    def _at_least(candidates: Candidates, cosine: float | None, final: bool = False) -> Candidates:
        """Hits scoring at least `cosine` (and every all-words match); `final`: a larger pool does not move it."""
        if cosine is None:
            return candidates
        kept = candidates.keep((candidates.score >= cosine) | candidates.lexical_all_words)
        return kept.with_columns(complete=kept.complete or final or candidates.floor < cosine)
