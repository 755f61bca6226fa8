"""Near-duplicate collapse (`collapse`, `duplicate_similarity`): burst shots and copies of one photo are
shown as one hit that lists the others."""

from __future__ import annotations

import numpy as np

from searcher.candidates import Candidates
from searcher.stages import RankRequest


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


class CollapseStage:
    name = "collapse"

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.collapse

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        if not len(candidates):
            return candidates
        parent = collapse_duplicates(candidates.vectors, request.ranking.duplicate_similarity)
        grouped: dict[int, list[int]] = {}
        for position, above in enumerate(parent.tolist()):
            if above >= 0:
                grouped.setdefault(above, []).append(int(candidates.ids[position]))
        duplicates = tuple(tuple(grouped.get(position, ())) for position in range(len(candidates)))
        return candidates.with_columns(duplicates=duplicates).keep(parent < 0)
