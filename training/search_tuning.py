"""nprobe, and the re-ranking depth of a compressed index, chosen for one library from a recall target.

Text queries lie apart from the pictures' distribution and need more IVF lists probed than image queries do
(bench/RESULTS.md, text_recall; clip-retrieval #76): a setting checked with image queries, or on synthetic
vectors, promises a recall text queries do not get. So the search stage is measured here with text queries on
the library's own vectors, against exact search: its own texts (captions, sidecars; their vectors are the text
tower's) when it holds enough, else everyday queries through its model. The cheapest setting that reaches the
target is recorded in the index generation's manifest, where searches follow it unless nprobe or
rescore_factor are set; it holds until the index is trained anew.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from indexer.library import Library
from searcher.engine import Searcher
from searcher.retrieval import VectorRetrieval

NPROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
RERANK_DEPTHS = (64, 128, 256, 512, 1024)  # candidates a compressed index hands to re-ranking
MIN_OWN_TEXTS = 50
EXACT_CHUNK = 100_000

# What people type into a photo search, for a library without texts of its own.
EVERYDAY_QUERIES = (
    "a dog on the beach", "sunset over the sea", "birthday cake with candles", "a cat sleeping on a sofa",
    "mountains with snow", "a red car", "children playing in a park", "a wedding", "food on a plate",
    "a city street at night", "a bicycle", "flowers in a garden", "a selfie", "a group photo", "a baby",
    "a receipt", "a screenshot", "a document", "a forest path", "a lake with trees", "fireworks", "a horse",
    "a train station", "an airplane window view", "a cup of coffee", "a Christmas tree", "rain on a window",
    "a river", "a bridge", "a beach with palm trees", "a kitchen", "a living room", "an old building",
    "a concert", "a football match", "a swimming pool", "a snowman", "autumn leaves", "a bird on a branch",
    "a boat on the water", "a desert", "a waterfall", "a hiking trail", "a map", "a whiteboard", "a car interior",
    "a black and white photo", "a close-up of a face", "two people hugging", "a crowded market", "a church",
    "a dog running", "a cat and a dog", "a plate of pasta", "a pizza", "ice cream", "a museum", "a zoo",
    "a playground", "a tent in the woods", "a field of sunflowers", "a lighthouse", "a harbour", "a skyline",
    "a red circle", "two blue squares", "a green triangle on the left", "a yellow star",
)  # fmt: skip


@dataclass(frozen=True)
class TuningRow:
    nprobe: int
    rescore_factor: int
    rerank_candidates: int
    recall: float
    p50_ms: float


@dataclass
class TuningReport:
    collection: str
    kind: str
    nlist: int
    vectors: int
    queries: int
    source: str  # "the library's texts" | "everyday queries"
    target: float
    k: int
    rows: list[TuningRow] = field(default_factory=list)
    chosen: TuningRow | None = None
    reached: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chosen"] = asdict(self.chosen) if self.chosen else None
        return data


def text_queries(library: Library, searcher: Searcher, limit: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """Text-tower vectors to ask with: the library's own texts when it has enough, else everyday queries."""
    text_ids = library.catalog.vector_ids("texts")
    if len(text_ids) >= MIN_OWN_TEXTS:
        chosen = np.sort(np.random.default_rng(seed).choice(text_ids, min(limit, len(text_ids)), replace=False))
        return library.catalog.fetch_vectors("texts", chosen.tolist(), library.dim())[1], "the library's texts"
    queries = list(EVERYDAY_QUERIES)
    random.Random(seed).shuffle(queries)
    return np.asarray(searcher.encoder().encode_texts(queries[:limit]), dtype=np.float32), "everyday queries"


def exact_top(library: Library, queries: np.ndarray, k: int) -> list[set[int]]:
    """Each query's exact top k among the library's picture vectors, read from the vector store in chunks."""
    ids = library.catalog.vector_ids("media")
    ids.sort()
    store = library.catalog.vectors["media"]
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(ids), EXACT_CHUNK):
        chunk = ids[start : start + EXACT_CHUNK]
        scores = queries @ store.read(chunk, library.dim()).T
        pool_ids = np.concatenate([best_ids, np.broadcast_to(chunk, scores.shape)], axis=1)
        pool_scores = np.concatenate([best_scores, scores], axis=1)
        top = np.argsort(-pool_scores, axis=1, kind="stable")[:, :k]
        best_ids = np.take_along_axis(pool_ids, top, axis=1)
        best_scores = np.take_along_axis(pool_scores, top, axis=1)
    return [set(row.tolist()) for row in best_ids]


def tune_search(
    library: Library, searcher: Searcher, target: float = 0.95, k: int = 10, limit: int = 300
) -> TuningReport:
    """Measure recall@k against exact search for each nprobe (and re-ranking depth, for codes); choose the
    fastest setting that reaches `target`, else the one with the best recall."""
    index = library.vector_index("media", mapped=True)
    index.index  # noqa: B018  (loaded: shape and tuning as the searchers see them)
    queries, source = text_queries(library, searcher, limit)
    report = TuningReport("media", index.shape.kind, index.shape.nlist, index.count, len(queries), source, target, k)
    if index.shape.kind == "flat" or not len(queries):
        return report  # exact already: nothing to choose
    truth = exact_top(library, queries, k)
    factor = searcher.settings.rescore_factor
    depths = RERANK_DEPTHS if not index.exact_scores else (searcher.settings.rerank_candidates,)
    for depth in depths:
        for nprobe in (n for n in NPROBES if n <= index.shape.nlist):
            retrieval = VectorRetrieval(library, nprobe, factor, rerank_candidates=depth)
            retrieval.nearest(queries[0], "media", k)  # loaded
            times, recalls = [], []
            for query, exact in zip(queries, truth, strict=True):
                started = time.perf_counter()
                found = retrieval.nearest(query, "media", k).ids
                times.append((time.perf_counter() - started) * 1000)
                recalls.append(len(exact & set(found.tolist())) / k)
            report.rows.append(TuningRow(nprobe, factor, depth, float(np.mean(recalls)), float(np.median(times))))
            if report.rows[-1].recall >= min(1.0, target + 0.02):
                break  # more lists cost more and cannot add much
    good = [row for row in report.rows if row.recall >= target]
    report.reached = bool(good)
    report.chosen = (
        min(good, key=lambda row: (row.p50_ms, row.nprobe))
        if good
        else max(report.rows, key=lambda row: (row.recall, -row.p50_ms))
    )
    return report


def store_tuning(library: Library, report: TuningReport) -> None:
    """Record the chosen setting in the current index generation's manifest (searches follow it at once)."""
    if report.chosen is None:
        return
    library.index_files("media").set_tuning(
        {
            "nprobe": report.chosen.nprobe,
            "rescore_factor": report.chosen.rescore_factor,
            "rerank_candidates": report.chosen.rerank_candidates,
            "recall": round(report.chosen.recall, 4),
            "target": report.target,
            "k": report.k,
            "queries": report.queries,
            "source": report.source,
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
