"""Second-model reranking (`rerank`, `rerank_model`, `rerank_depth`): the stronger model orders the top it
is shown; the rest keep their order (classic two-stage ranking). The reranked hits show the second model's
cosine; the ones past its depth were never scored on that scale and show no ranking score (their cosine
stays in `stages`)."""

from __future__ import annotations

import numpy as np

from searcher.candidates import Candidates
from searcher.reranker import Rerankers
from searcher.stages import RankRequest


class RerankStage:
    name = "rerank"

    def __init__(self, rerankers: Rerankers) -> None:
        self.rerankers = rerankers

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.reranks and request.collection == "media"

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        reranker = self.rerankers.get(request.ranking)
        target = reranker.query_vector(request.query) if reranker is not None else None
        if reranker is None or target is None:
            return candidates
        depth = min(request.ranking.rerank_depth, len(candidates))
        top = candidates.ids[:depth].tolist()
        embedded = reranker.image_vectors(top)
        scored = sorted(
            ((position, float(embedded[item] @ target)) for position, item in enumerate(top) if item in embedded),
            key=lambda pair: (-pair[1], top[pair[0]]),
        )
        rerank, rerank_rank = candidates.rerank.copy(), candidates.rerank_rank.copy()
        order_score = np.full(len(candidates), np.nan)
        for rank, (position, score) in enumerate(scored, start=1):
            rerank[position], rerank_rank[position], order_score[position] = score, rank, score
        seen = {position for position, _ in scored}
        order = [position for position, _ in scored] + [p for p in range(depth) if p not in seen]
        order += list(range(depth, len(candidates)))
        reranked = candidates.with_columns(rerank=rerank, rerank_rank=rerank_rank, order_score=order_score)
        return reranked.take(np.asarray(order))
