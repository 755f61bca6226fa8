"""The ranking stages after the vector search. Each module holds one stage: what it computes and when it
applies. A stage takes the candidates and the request and returns candidates; it reads the library only
through what it was given when it was made, never through the searcher. searcher/pipeline.py composes
them in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.options import Ranking, Sort
from indexer.catalog import Collection
from searcher.candidates import Candidates
from searcher.query import PreparedQuery


@dataclass(frozen=True)
class RankRequest:
    """What every stage may read about the query being ranked."""

    query: PreparedQuery
    collection: Collection
    ranking: Ranking  # the settings' stages with this query's switches applied
    need: int  # offset + k: how many visible items the page needs
    sort: Sort = "relevance"
    min_score: float | None = None
    allowed: np.ndarray | None = None  # ids the filters let through; None: no filter
    exclude: int | None = None  # an id never to return (the photo itself, for "more like this")
    lexical_exclude_sources: tuple[str, ...] = ()  # evaluation: texts from these files do not count

    @property
    def words(self) -> bool:
        """Words alone, over pictures: only then do names and captions rank, and does the cutoff apply."""
        return self.collection == "media" and self.query.words_only


class Stage(Protocol):
    name: str

    def applies(self, request: RankRequest) -> bool: ...

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates: ...
