"""Retrieval quality through the engine (ANN, rescoring, ...) next to exact search on the same vectors.

Queries are the stored vectors themselves (a caption's vector is what encoding the caption gives),
so the only difference between the two columns is the search path: a loss from the index or a
gain from a reranker shows as a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np

from core.options import Paging, Ranking
from indexer.catalog import Collection
from indexer.catalog.queries import captions_of, ids_for_paths
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query

DEPTH = 100  # ranks beyond this count as misses for MRR


@dataclass
class Metrics:
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    queries: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**{f"R@{k}": v for k, v in self.recall.items()}, "MRR": self.mrr, "queries": self.queries}


@dataclass
class EvalReport:
    engine: dict[str, Metrics]
    exact: dict[str, Metrics]
    index_kind: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": {d: m.to_json() for d, m in self.engine.items()},
            "exact": {d: m.to_json() for d, m in self.exact.items()},
            "index": self.index_kind,
        }


def metrics_of(ranks: list[int]) -> Metrics:
    """ranks: 0-based rank of the first relevant item, or -1 when not within DEPTH."""
    array = np.asarray(ranks)
    found = array >= 0
    recall = {k: float(np.mean(found & (array < k))) for k in (1, 5, 10)}
    mrr = float(np.mean(np.where(found, 1.0 / np.maximum(array + 1, 1), 0.0)))
    return Metrics(recall, mrr, len(ranks))


def first_relevant(ranked: np.ndarray, relevant: set[int]) -> int:
    for position, item in enumerate(ranked.tolist()):
        if item in relevant:
            return position
    return -1


def evaluate(
    library: Library, searcher: Searcher, image_paths: list[str], sources: list[str] | None = None
) -> EvalReport:
    """text→image for every caption linked to one of the images (from `sources` only, when given: the pairs
    file, not sidecars that say the same), and image→text for every image (any caption of it is relevant)."""
    catalog, dim = library.catalog, library.dim()
    path_to_id = ids_for_paths(catalog, image_paths)
    captions = captions_of(catalog, list(path_to_id.values()))
    links = [(text_id, media_id) for text_id, media_id, _, _ in captions]
    image_ids = sorted(path_to_id.values())
    text_of: dict[int, set[int]] = {}
    for text_id, media_id in links:
        text_of.setdefault(media_id, set()).add(text_id)
    _, image_vectors = catalog.fetch_vectors("media", image_ids, dim)
    if sources is not None:
        text_ids = sorted(text_id for text_id, _, _, source in captions if source in sources)
    else:
        text_ids = sorted(text_id for text_id, _ in links)
    _, text_vectors = catalog.fetch_vectors("texts", text_ids, dim)
    image_of = {text_id: media_id for text_id, media_id in links}

    all_media_ids, all_media = catalog.fetch_vectors("media", catalog.vector_ids("media").tolist(), dim)
    all_text_ids, all_texts = catalog.fetch_vectors("texts", catalog.vector_ids("texts").tolist(), dim)

    # The engine's search path with no stage after the vector search: what the index costs, nothing else.
    vector_only = stage_variants(searcher.settings.ranking)["vector only"]
    depth = Paging(k=DEPTH)

    def engine_ranked(vector: np.ndarray, collection: Collection) -> np.ndarray:
        hits = searcher.ask(Query(vector=vector), collection, depth, ranking=vector_only)
        return np.asarray([hit.id for hit in hits], dtype=np.int64)

    def exact_ranked(vector: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        scores = vectors @ vector
        return ids[np.lexsort((ids, -scores))[:DEPTH]]

    t2i_engine, t2i_exact, i2t_engine, i2t_exact = [], [], [], []
    for text_id, vector in zip(text_ids, text_vectors, strict=True):
        relevant = {image_of[text_id]}
        t2i_engine.append(first_relevant(engine_ranked(vector, "media"), relevant))
        t2i_exact.append(first_relevant(exact_ranked(vector, all_media_ids, all_media), relevant))
    for image_id, vector in zip(image_ids, image_vectors, strict=True):
        relevant = text_of.get(image_id, set())
        if not relevant:
            continue
        i2t_engine.append(first_relevant(engine_ranked(vector, "texts"), relevant))
        i2t_exact.append(first_relevant(exact_ranked(vector, all_text_ids, all_texts), relevant))
    kinds = {name: library.vector_index(name).shape.kind for name in ("media", "texts")}  # type: ignore[arg-type]
    return EvalReport(
        engine={"text→image": metrics_of(t2i_engine), "image→text": metrics_of(i2t_engine)},
        exact={"text→image": metrics_of(t2i_exact), "image→text": metrics_of(i2t_exact)},
        index_kind=kinds,
    )


# -- ranking stages, each on and off -----------------------------------------------------------

# Concepts no demo scene shows: with the cutoff on, these should return little or nothing.
ABSENT_QUERIES = (
    "a giraffe",
    "a red car",
    "a bicycle on a street",
    "a bowl of fruit",
    "a man riding a horse",
    "snow on the mountains",
)


@dataclass
class StageMetrics:
    metrics: Metrics
    absent_hits: float  # mean hits returned for absent concepts (of DEPTH)
    p50_ms: float

    def to_json(self) -> dict[str, Any]:
        return {**self.metrics.to_json(), "absent_hits": self.absent_hits, "p50_ms": self.p50_ms}


def stage_variants(base: Ranking) -> dict[str, Ranking]:
    """The vector ranking alone, each stage added to it alone, and the shipped defaults."""
    bare = base.model_copy(
        update={"expand": False, "hybrid": False, "rerank_model": None, "collapse": False, "mmr": None, "cutoff": False}
    )
    variants = {
        "vector only": bare,
        "+ query expansion": bare.model_copy(update={"expand": True}),
        "+ hybrid lexical (RRF)": bare.model_copy(update={"hybrid": True}),
        "+ duplicate collapse": bare.model_copy(update={"collapse": True}),
        "+ MMR 0.7": bare.model_copy(update={"mmr": 0.7}),
        "+ relevance cutoff": bare.model_copy(update={"cutoff": True}),
    }
    if base.rerank_model is not None:
        variants["+ rerank"] = bare.model_copy(
            update={"rerank_model": base.rerank_model, "rerank_pretrained": base.rerank_pretrained}
        )
    variants["defaults"] = base
    return variants


def evaluate_stages(
    library: Library,
    searcher: Searcher,
    pairs: list[tuple[str, str]],
    variants: dict[str, Ranking],
    exclude_sources: tuple[str, ...] = (),
    absent: tuple[str, ...] = ABSENT_QUERIES,
) -> dict[str, StageMetrics]:
    """text→image through every stage, per variant: each caption's own image is the relevant one.

    The captions asked are never matched lexically against themselves: files holding an asked caption for its
    own image are left out of the lexical stage, along with `exclude_sources`.
    """
    catalog = library.catalog
    path_to_id = ids_for_paths(catalog, sorted({image for image, _ in pairs}))
    asked = [(caption, path_to_id[image]) for image, caption in pairs if image in path_to_id]
    # Any file that holds an asked caption for its own image (the pairs file, an identical sidecar) is left out.
    wanted = {(image_id, caption) for caption, image_id in asked}
    leaking = {source for _, media_id, text, source in captions_of(catalog) if (media_id, text) in wanted}
    exclude_sources = tuple(sorted(set(exclude_sources) | leaking))
    depth = Paging(k=DEPTH)
    report: dict[str, StageMetrics] = {}
    for name, ranking in variants.items():
        ranks, took = [], []

        def ask(text: str, ranking: Ranking = ranking) -> list[int]:
            hits = searcher.ask(Query(text), "media", depth, ranking=ranking, lexical_exclude_sources=exclude_sources)
            return [hit.id for hit in hits]

        for caption, image_id in asked:
            start = perf_counter()
            found = ask(caption)
            took.append(perf_counter() - start)
            ranks.append(first_relevant(np.asarray(found), {image_id}))
        returned = [len(ask(text)) for text in absent]
        report[name] = StageMetrics(
            metrics_of(ranks), float(np.mean(returned)) if returned else 0.0, 1000 * float(np.median(took))
        )
    return report
