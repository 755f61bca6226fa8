"""The ranking stages, composed in one place:

    vector candidates ─► lexical match ─► fusion (RRF) ─► second-model rerank
        ─► min score ─► relevance cutoff ─► near-duplicate collapse ─► a video's moments as one hit ─► MMR
        ─► date sort

Each stage is its own module in searcher/stages/, switched by the query's ranking (core/options.py).
When the stages leave fewer visible items than the page needs, the pool grows and the stages run again.
Every stage but MMR places an item by the items above it alone, so a bigger pool for a later page does not
reorder an earlier one; MMR rescales relevance over the whole pool, so with MMR on, pages asked with
different offsets may disagree at their edges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter

from indexer.catalog import Catalog
from searcher.candidates import Candidates
from searcher.reranker import Rerankers
from searcher.retrieval import VectorRetrieval
from searcher.stages import RankRequest, Stage
from searcher.stages.bounds import MinScoreStage
from searcher.stages.collapse import CollapseStage
from searcher.stages.cutoff import CutoffStage, LibrarySample
from searcher.stages.date_sort import POOL as DATE_SORT_POOL
from searcher.stages.date_sort import DateSortStage
from searcher.stages.fusion import FusionStage
from searcher.stages.lexical import LexicalStage
from searcher.stages.mmr import MmrStage
from searcher.stages.moments import MomentsStage
from searcher.stages.rerank import RerankStage

POOL_GROWTH = 4


def stages(catalog: Catalog, retrieval: VectorRetrieval, rerankers: Rerankers) -> tuple[Stage, ...]:
    """Every stage, in the order they run; each decides from the request whether it applies."""
    return (
        LexicalStage(catalog, retrieval.scored),
        FusionStage(),
        RerankStage(rerankers),
        MinScoreStage(),
        CutoffStage(LibrarySample(catalog)),
        CollapseStage(),
        MomentsStage(catalog),
        MmrStage(),
        DateSortStage(catalog),
    )


@dataclass
class Ranked:
    candidates: Candidates
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, for the latency benchmark


def rank(fetch: Callable[[int], Candidates], stages: Sequence[Stage], request: RankRequest) -> Ranked:
    """Ranked, cut and collapsed candidates: at least `request.need` of them when the library has that many."""
    pool = max(request.need, request.ranking.candidates)
    if request.sort == "date":
        pool = max(pool, DATE_SORT_POOL)
    while True:
        seconds: dict[str, float] = {}
        started = perf_counter()
        candidates = fetch(pool)
        seconds["vector"] = perf_counter() - started
        for stage in stages:
            if stage.applies(request):
                started = perf_counter()
                candidates = stage(candidates, request)
                seconds[stage.name] = perf_counter() - started
        if candidates.complete or len(candidates) >= request.need or request.sort == "date":
            return Ranked(candidates, seconds)
        pool *= POOL_GROWTH
