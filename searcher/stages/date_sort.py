"""`--sort date`: the relevant hits, newest first (the EXIF date taken, else the file's time)."""

from __future__ import annotations

import numpy as np

from indexer.catalog import Catalog
from searcher.candidates import Candidates
from searcher.stages import RankRequest

POOL = 1000  # sorting by date reorders the relevant set drawn from at most this many candidates


class DateSortStage:
    name = "date"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def applies(self, request: RankRequest) -> bool:
        return request.sort == "date"

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        if not len(candidates):
            return candidates
        from indexer.catalog.queries import taken_dates  # SQLAlchemy: loaded only when a date sort asks

        dates = taken_dates(self.catalog, candidates.ids.tolist())
        ids = candidates.ids.tolist()
        order = sorted(range(len(ids)), key=lambda i: (dates.get(ids[i], ""), -ids[i]), reverse=True)
        return candidates.take(np.asarray(order, dtype=np.int64))
