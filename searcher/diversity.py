"""Diversity: near-duplicates (burst shots, the same photo twice) shown once, and optional MMR."""

from __future__ import annotations

import numpy as np


def collapse_duplicates(vectors: np.ndarray, similarity: float) -> np.ndarray:
    """For each item in ranked order, the position of the better-ranked item it duplicates, or -1.

    An item joins the first kept item it is at least `similarity` (cosine) to; it only depends on the
    items ranked above it, so pages of a longer list agree with pages of a shorter one.
    """
    parent = np.full(len(vectors), -1, dtype=np.int64)
    kept: list[int] = []
    for position in range(len(vectors)):
        if kept:
            sims = vectors[kept] @ vectors[position]
            best = int(np.argmax(sims))
            if sims[best] >= similarity:
                parent[position] = kept[best]
                continue
        kept.append(position)
    return parent


def mmr_order(relevance: np.ndarray, vectors: np.ndarray, lam: float) -> np.ndarray:
    """Maximal marginal relevance: positions in the order that trades relevance against repeating a kept hit.

    relevance is rescaled to [0, 1] so lam means the same whatever stage produced it.
    """
    count = len(relevance)
    if count <= 1 or lam >= 1:
        return np.arange(count)
    spread = float(relevance.max() - relevance.min()) or 1.0
    rel = (relevance - relevance.min()) / spread
    chosen: list[int] = []
    closest = np.full(count, -np.inf)
    left = np.ones(count, dtype=bool)
    for _ in range(count):
        redundancy = np.where(np.isfinite(closest), closest, 0.0)
        value = np.where(left, lam * rel - (1 - lam) * redundancy, -np.inf)
        pick = int(np.argmax(value))
        chosen.append(pick)
        left[pick] = False
        closest = np.maximum(closest, vectors @ vectors[pick])
    return np.asarray(chosen, dtype=np.int64)
