"""The ranking stages after the vector search, composed in one place.

    vector candidates ─► lexical match ─► fusion (RRF) ─► model reranker (orders the top)
        ─► exclude / min score / relevance cutoff ─► near-duplicate collapse ─► MMR ─► date sort

Each stage is its own module and can be switched off (RankingSettings, per request through
SearchOptions.ranking); every hit carries what each stage that ranked it said (`stages`).
A ranking only depends on the items above it, so growing the candidate pool for a later page
never reorders an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np

from core.options import Ranking as RankingSettings
from indexer.catalog import Collection
from indexer.catalog.queries import taken_dates
from searcher.diversity import collapse_duplicates, mmr_order
from searcher.fusion import reciprocal_rank_fusion
from searcher.lexical import words_of

if TYPE_CHECKING:
    from PIL import Image

    from searcher.engine import Searcher, SearchOptions
    from searcher.query import Term

# Sorting by date reorders the relevant set: the hits over the cutoff, from at most this many candidates.
DATE_SORT_POOL = 1000


@dataclass(frozen=True)
class PreparedQuery:
    """A query as the stages need it: its vector, and what the lexical stage and the reranker read."""

    vector: np.ndarray
    terms: tuple[Term, ...] = ()
    picture: Image.Image | None = None
    media_id: int | None = None


@dataclass
class Ranked:
    ids: np.ndarray
    scores: np.ndarray  # cosine to the query (the index's model)
    stages: list[dict[str, float]]
    duplicates: list[tuple[int, ...]]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, for the latency bench


def run(searcher: Searcher, query: PreparedQuery, collection: Collection, options: SearchOptions) -> Ranked:
    """Everything ranked, cut and collapsed, up to at least offset + k visible items when there are that many."""
    ranking = searcher.ranking(options)
    need = options.offset + options.k
    pool = max(need + (options.exclude is not None), ranking.candidates)
    if options.sort == "date":
        pool = max(pool, DATE_SORT_POOL)
    while True:
        ranked, exhausted = _rank(searcher, query, collection, options, ranking, pool)
        if exhausted or len(ranked.ids) >= need or options.sort == "date":
            return ranked
        pool *= 4


def _rank(
    searcher: Searcher,
    query: PreparedQuery,
    collection: Collection,
    options: SearchOptions,
    ranking: RankingSettings,
    pool: int,
) -> tuple[Ranked, bool]:
    timings: dict[str, float] = {}
    clock = perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    allowed = searcher.allowed(options.filters, collection)
    lap("filters")
    ids, cosine, candidate_vectors = searcher.candidates(query.vector, collection, pool, allowed)
    vector_of = dict(zip(ids.tolist(), candidate_vectors, strict=True))
    exhausted = len(ids) < pool
    lap("vector")
    stages: dict[int, dict[str, float]] = {
        int(item): {"vector": float(score), "vector_rank": position + 1}
        for position, (item, score) in enumerate(zip(ids.tolist(), cosine.tolist(), strict=True))
    }
    rankings: dict[str, np.ndarray] = {"vector": ids}
    weights = {"vector": ranking.vector_weight, "lexical": ranking.lexical_weight}
    # Words alone: with a picture, the words only modify it ("this photo, but at night").
    words = (
        collection == "media"
        and query.picture is None
        and query.media_id is None
        and any(term.weight > 0 for term in query.terms)
    )

    if ranking.hybrid and words:
        lexical_ids, bm25, whole = searcher.lexical.rank(
            words_of(query.terms), ranking.candidates, options.lexical_exclude_sources
        )
        if allowed is not None:
            keep = np.isin(lexical_ids, allowed)
            lexical_ids, bm25, whole = lexical_ids[keep], bm25[keep], whole[keep]
        for position, (item, score, every) in enumerate(
            zip(lexical_ids.tolist(), bm25.tolist(), whole.tolist(), strict=True)
        ):
            entry = stages.setdefault(int(item), {})
            entry.update(lexical=float(score), lexical_rank=position + 1, lexical_all_words=float(every))
        if len(lexical_ids):
            rankings["lexical"] = lexical_ids
        lap("lexical")

    order = _fuse(rankings, weights, ranking, stages)
    lap("fusion")

    reranker = searcher.reranker(ranking) if collection == "media" else None
    if reranker is not None:
        top = order[: ranking.rerank_depth].tolist()
        target = reranker.query_vector(list(query.terms), query.picture, query.media_id)
        if target is not None:
            embedded = reranker.image_vectors(top)
            scored = [(item, float(embedded[item] @ target)) for item in top if item in embedded]
            scored.sort(key=lambda pair: (-pair[1], pair[0]))
            for position, (item, score) in enumerate(scored):
                stages[item].update(rerank=score, rerank_rank=position + 1)
            # Two-stage ranking: the stronger model orders the top it was shown; the rest keep their order.
            reranked = [item for item, _ in scored]
            unscored = [item for item in top if item not in embedded]
            order = np.asarray(reranked + unscored + order[len(top) :].tolist(), dtype=np.int64)
        lap("rerank")

    missing = [item for item in order.tolist() if "vector" not in stages[item]]
    if missing:  # found only by the lexical stage: their cosine still tells the user something
        found, extra = searcher.library.catalog.fetch_vectors(collection, missing, len(query.vector))
        for item, vector, score in zip(found.tolist(), extra, (extra @ query.vector).tolist(), strict=True):
            stages[item]["vector"] = float(score)
            vector_of[item] = vector
        order = np.asarray([item for item in order.tolist() if "vector" in stages[item]], dtype=np.int64)
    scores = np.asarray([stages[item]["vector"] for item in order.tolist()], dtype=np.float32)

    keep = np.ones(len(order), dtype=bool)
    lowest = float(cosine[-1]) if len(cosine) else 1.0  # more candidates would only score lower than this
    if options.exclude is not None:
        keep &= order != options.exclude
    if options.min_score is not None:
        keep &= scores >= options.min_score
        exhausted |= lowest < options.min_score
    if ranking.cutoff and words:
        norm = searcher.score_norm(query.vector, collection)
        if norm is not None:
            z = norm.z(scores)
            # A name or caption holding every word of the query is relevant whatever the picture scores.
            lexical = np.asarray([stages[item].get("lexical_all_words") == 1 for item in order.tolist()], dtype=bool)
            for item, value in zip(order.tolist(), z.tolist(), strict=True):
                stages[item]["z"] = round(value, 4)
            keep &= (z >= ranking.cutoff_z) | lexical
            exhausted |= float(norm.z(np.asarray([lowest]))[0]) < ranking.cutoff_z
    order, scores = order[keep], scores[keep]
    lap("cutoff")

    duplicates: list[tuple[int, ...]] = [() for _ in range(len(order))]
    vectors: np.ndarray | None = None
    if (ranking.collapse or ranking.mmr is not None) and len(order):
        vectors = np.stack([vector_of[item] for item in order.tolist()])
    if ranking.collapse and vectors is not None:
        parent = collapse_duplicates(vectors, ranking.duplicate_similarity)
        grouped: dict[int, list[int]] = {}
        for position, above in enumerate(parent.tolist()):
            if above >= 0:
                grouped.setdefault(above, []).append(int(order[position]))
        duplicates = [tuple(grouped.get(position, ())) for position in range(len(order))]
        visible = parent < 0
        order, scores, vectors = order[visible], scores[visible], vectors[visible]
        duplicates = [group for group, shown in zip(duplicates, visible.tolist(), strict=True) if shown]
        lap("collapse")
    if ranking.mmr is not None and vectors is not None and len(order) > 1:
        relevance = np.asarray([-position for position in range(len(order))], dtype=np.float64)
        new = mmr_order(relevance, vectors, ranking.mmr)
        order, scores = order[new], scores[new]
        duplicates = [duplicates[position] for position in new.tolist()]
        lap("mmr")

    if options.sort == "date" and len(order):
        dates = taken_dates(searcher.library.catalog, order.tolist())
        new = np.asarray(
            sorted(range(len(order)), key=lambda i: (dates.get(int(order[i]), ""), -int(order[i])), reverse=True),
            dtype=np.int64,
        )
        order, scores = order[new], scores[new]
        duplicates = [duplicates[position] for position in new.tolist()]
        lap("date")
    ranked = Ranked(order, scores, [stages[item] for item in order.tolist()], duplicates, timings)
    return ranked, exhausted


def _fuse(
    rankings: dict[str, np.ndarray],
    weights: dict[str, float],
    ranking: RankingSettings,
    stages: dict[int, dict[str, Any]],
) -> np.ndarray:
    if len(rankings) == 1:
        return rankings["vector"]
    order, fused = reciprocal_rank_fusion(rankings, weights, ranking.rrf_k)
    for item, score in zip(order.tolist(), fused.tolist(), strict=True):
        stages[item]["fused"] = score
    return order
