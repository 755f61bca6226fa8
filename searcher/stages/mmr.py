"""Maximal marginal relevance (`mmr` λ): reorder so that a hit like one already shown moves down.

A hit shows the value it was picked with, λ·relevance − (1−λ)·similarity to the closest hit above it: a
pick only ever adds to what the others repeat, so these values never rise down the list.
"""

from __future__ import annotations

import numpy as np

from searcher.candidates import Candidates
from searcher.stages import RankRequest


def mmr_order(relevance: np.ndarray, vectors: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Maximal marginal relevance: positions in the order that trades relevance against repeating a kept hit,
    and the value each was picked with.

    relevance is rescaled to [0, 1] so lam means the same whatever stage produced it.
    """
    count = len(relevance)
    spread = float(relevance.max() - relevance.min()) if count else 0.0
    rel = (relevance - relevance.min()) / (spread or 1.0) if count else relevance
    if count <= 1 or lam >= 1:
        return np.arange(count), lam * rel
    chosen: list[int] = []
    values: list[float] = []
    closest = np.full(count, -np.inf)
    left = np.ones(count, dtype=bool)
    for _ in range(count):
        redundancy = np.where(np.isfinite(closest), closest, 0.0)
        value = np.where(left, lam * rel - (1 - lam) * redundancy, -np.inf)
        pick = int(np.argmax(value))
        chosen.append(pick)
        values.append(float(value[pick]))
        left[pick] = False
        closest = np.maximum(closest, vectors @ vectors[pick])
    return np.asarray(chosen, dtype=np.int64), np.asarray(values)


class MmrStage:
    name = "mmr"

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.mmr is not None

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        assert request.ranking.mmr is not None
        if len(candidates) <= 1:
            return candidates
        relevance = -np.arange(len(candidates), dtype=np.float64)  # the order so far is the relevance
        order, values = mmr_order(relevance, candidates.vectors, request.ranking.mmr)
        return candidates.take(order).with_columns(order_score=values)
