"""Reciprocal rank fusion: the vector and lexical rankings, on different scales (cosine, BM25), become
one order (`hybrid`; weights `vector_weight`, `lexical_weight`, constant `rrf_k`).

score(item) = Σ weight_list / (k + rank_list(item)) over the lists that ranked the item. Ranks, not
scores, so nothing needs normalising; k damps the difference between the very top ranks. What a hit shows
is that sum over its best possible value (first in every list): 1.0 at most, in the order of the list.
"""

from __future__ import annotations

import numpy as np

from searcher.candidates import NO_RANK, Candidates
from searcher.stages import RankRequest


def reciprocal_rank_fusion(ranks: dict[str, np.ndarray], weights: dict[str, float], k: int) -> np.ndarray:
    """Fused scores of the rows, given each list's 1-based ranks (NO_RANK where a list did not rank a row)."""
    count = len(next(iter(ranks.values()))) if ranks else 0
    fused = np.zeros(count, dtype=np.float64)
    for name, rank in ranks.items():
        ranked = rank != NO_RANK
        fused[ranked] += weights.get(name, 1.0) / (k + rank[ranked])
    return fused


class FusionStage:
    name = "fusion"

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.hybrid and request.words

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        if not (candidates.lexical_rank != NO_RANK).any():
            return candidates  # nothing matched the words: the vector order stands
        ranking = request.ranking
        fused = reciprocal_rank_fusion(
            {"vector": candidates.vector_rank, "lexical": candidates.lexical_rank},
            {"vector": ranking.vector_weight, "lexical": ranking.lexical_weight},
            ranking.rrf_k,
        )
        best_possible = (ranking.vector_weight + ranking.lexical_weight) / (ranking.rrf_k + 1)
        # Ties (the lexical list's first against the vector list's, an item neither list shares) go to the item that
        # holds every query word, then to the higher cosine, then to the smaller id (stable pages). A rare word read
        # in one picture ties with the vector's best on a library of look-alike pages; by id it lost half the time.
        order = np.lexsort((candidates.ids, -candidates.score, ~candidates.lexical_all_words, -fused))
        return candidates.with_columns(fused=fused, order_score=fused / best_possible).take(order)
