"""Relevance cutoff relative to the query's own score distribution, not a fixed cosine.

Every model has its own cosine scale (a real CLIP puts good matches near 0.3, the demo model near
0.85), and a query about something absent still has a best match. What stays comparable is how far
a hit stands above what the query scores against the library as a whole: z = (score − μ) / σ over
a fixed random sample of the library's vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
