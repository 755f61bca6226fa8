"""Reciprocal rank fusion: rankings on different scales (cosine, BM25, a second model) become one order.

score(item) = Σ weight_list / (k + rank_list(item)), over the lists that ranked the item. Ranks, not
scores, so nothing needs normalising; k damps the difference between the very top ranks.
"""

from __future__ import annotations

import numpy as np


def reciprocal_rank_fusion(
    rankings: dict[str, np.ndarray], weights: dict[str, float], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids of every ranked item, best first, with their fused scores; ties keep the smaller id first."""
    fused: dict[int, float] = {}
    for name, ids in rankings.items():
        weight = weights.get(name, 1.0)
        for position, item in enumerate(ids.tolist()):
            fused[item] = fused.get(item, 0.0) + weight / (k + position + 1)
    if not fused:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    ids = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    scores = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]
