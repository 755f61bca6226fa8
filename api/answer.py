"""One page of hits as the API answers it: the search run, timed into the metrics, shaped for the client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from api.deps import MetricsDep
from api.metrics import Metrics
from api.schemas import HitOut, SearchKind, SearchResponse
from searcher.hits import Hit


class Answer:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(
        self, kind: SearchKind, query: str, k: int, offset: int, run: Callable[[], list[Hit]]
    ) -> SearchResponse:
        """`run` is timed whole (reading an upload and encoding included): `took_ms` is what the client waited."""
        started = time.perf_counter()
        hits = run()
        seconds = time.perf_counter() - started
        self.metrics.observe_query(kind, seconds)
        return SearchResponse(
            query=query,
            kind=kind,
            k=k,
            offset=offset,
            hits=[HitOut.of(hit) for hit in hits],
            next_offset=offset + len(hits) if len(hits) == k else None,
            took_ms=round(seconds * 1000, 2),
        )


def answer(metrics: MetricsDep) -> Answer:
    return Answer(metrics)


AnswerDep = Annotated[Answer, Depends(answer)]
