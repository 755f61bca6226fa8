"""Judged queries through the engine: for each query every true match is known, so what a ranking keeps
and what it hides is a number, for specific queries, broad ones ("something red", "a shape") and absent ones.

A judged-queries CSV has columns query,language,kind,image: one row per true match, an `absent` query one row
with an empty image (data/plain_shapes.py writes one). Relative image paths are read against the CSV's folder.

Per query, at k = DEPTH: recall (share of all true matches returned), kept (share returned of the true matches
the model alone ranks in its top DEPTH: no lexical match, cutoff, rerank, collapse or MMR), precision@5, and
for absent queries the number of pictures returned.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.options import Paging, Ranking
from indexer.catalog.queries import ids_for_paths
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query
from training.evaluate import DEPTH, stage_variants


@dataclass(frozen=True)
class JudgedQuery:
    text: str
    language: str
    kind: str
    truth: tuple[str, ...]  # absolute image paths; empty for an absent concept


@dataclass
class JudgedMetrics:
    """Means over one group's queries; NaN where the group has nothing to measure (recall of absent queries)."""

    queries: int = 0
    recall: float = float("nan")
    kept: float = float("nan")
    kept_min: float = float("nan")  # the worst query: the acceptance asks every query to keep enough
    p5: float = float("nan")
    absent_hits: float = float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            **{
                name: None if np.isnan(value) else value
                for name, value in (
                    ("recall", self.recall),
                    ("kept", self.kept),
                    ("kept_min", self.kept_min),
                    ("P@5", self.p5),
                    ("absent_hits", self.absent_hits),
                )
            },
        }


@dataclass
class QueryResult:
    query: JudgedQuery
    recall: float
    kept: float
    p5: float
    returned: int


@dataclass
class JudgedReport:
    groups: dict[str, dict[tuple[str, str], JudgedMetrics]] = field(default_factory=dict)  # variant → (kind, lang)

    def to_json(self) -> dict[str, Any]:
        return {
            variant: {f"{kind}/{language}": m.to_json() for (kind, language), m in groups.items()}
            for variant, groups in self.groups.items()
        }


def load_judged(path: Path) -> list[JudgedQuery]:
    """The judged queries of a CSV, in file order; relative image paths against the CSV's folder."""
    truth: dict[tuple[str, str, str], list[str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["query"], row["language"], row["kind"])
            images = truth.setdefault(key, [])
            if row["image"]:
                image = Path(row["image"])
                images.append(str((image if image.is_absolute() else path.parent / image).absolute()))
    return [JudgedQuery(text, language, kind, tuple(images)) for (text, language, kind), images in truth.items()]


def judged_images(queries: list[JudgedQuery]) -> list[str]:
    return sorted({image for query in queries for image in query.truth})


def cutoff_variants(base: Ranking) -> dict[str, Ranking]:
    """The model alone with each cutoff method on: what the methods compare on, nothing else changing."""
    bare = stage_variants(base)["vector only"]
    return {
        f"+ cutoff: {method}": bare.model_copy(update={"cutoff": True, "cutoff_method": method})
        for method in ("z", "relative", "gap", "calibrated")
    }


def judged_variants(base: Ranking) -> dict[str, Ranking]:
    """Every stage variant (`xmodal eval --stages`), each cutoff method, and the shipped defaults last."""
    variants = {name: ranking for name, ranking in stage_variants(base).items() if name != "defaults"}
    return {**variants, **cutoff_variants(base), "defaults": base}


def score_query(found: list[int], truth: set[int], model_top: set[int]) -> tuple[float, float, float]:
    """(recall of all true matches, share kept of those in the model's top, precision@5) for one query."""
    returned = set(found)
    recall = len(returned & truth) / len(truth) if truth else float("nan")
    reachable = truth & model_top
    kept = len(returned & reachable) / len(reachable) if reachable else float("nan")
    p5 = sum(1 for item in found[:5] if item in truth) / 5 if truth else float("nan")
    return recall, kept, p5


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarise(results: list[QueryResult]) -> dict[tuple[str, str], JudgedMetrics]:
    """Per (kind, language), in the order kinds first appear."""
    groups: dict[tuple[str, str], list[QueryResult]] = {}
    for result in results:
        groups.setdefault((result.query.kind, result.query.language), []).append(result)
    summary = {}
    for key, members in groups.items():
        absent = [float(r.returned) for r in members if not r.query.truth]
        kept = [r.kept for r in members if not np.isnan(r.kept)]
        summary[key] = JudgedMetrics(
            queries=len(members),
            recall=_mean([r.recall for r in members]),
            kept=_mean(kept),
            kept_min=min(kept) if kept else float("nan"),
            p5=_mean([r.p5 for r in members]),
            absent_hits=_mean(absent),
        )
    return summary


def evaluate_judged(
    library: Library, searcher: Searcher, queries: list[JudgedQuery], variants: dict[str, Ranking]
) -> JudgedReport:
    """Every judged query at k = DEPTH through the engine, once per ranking variant."""
    path_to_id = ids_for_paths(library.catalog, judged_images(queries))
    missing = [image for image in judged_images(queries) if image not in path_to_id]
    if missing:
        raise ValueError(f"{len(missing)} judged pictures are not in the library, e.g. {missing[0]}")
    depth = Paging(k=DEPTH)
    model_alone = stage_variants(searcher.settings.ranking)["vector only"]

    def ask(text: str, ranking: Ranking) -> list[int]:
        return [hit.id for hit in searcher.ask(Query(text), "media", depth, ranking=ranking)]

    model_top = {(q.text, q.language): set(ask(q.text, model_alone)) for q in queries}
    report = JudgedReport()
    for name, ranking in variants.items():
        results = []
        for query in queries:
            found = ask(query.text, ranking)
            truth = {path_to_id[image] for image in query.truth}
            recall, kept, p5 = score_query(found, truth, model_top[(query.text, query.language)])
            results.append(QueryResult(query, recall, kept, p5, len(found)))
        report.groups[name] = summarise(results)
    return report
