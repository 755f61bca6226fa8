"""`--min-score`: hits below a cosine similarity are dropped."""

from __future__ import annotations

from searcher.candidates import Candidates
from searcher.stages import RankRequest


class MinScoreStage:
    name = "min_score"

    def applies(self, request: RankRequest) -> bool:
        return request.min_score is not None

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        assert request.min_score is not None
        kept = candidates.keep(candidates.score >= request.min_score)
        # Items beyond the pool score at most the floor: if that is under the bound, none of them would show.
        return kept.with_columns(complete=kept.complete or candidates.floor < request.min_score)
