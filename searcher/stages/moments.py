"""Moments of one video as one hit (`moments`): the best-ranked moment stands for its video, and the video's
other moments in the list ride along under it, best first, as "more moments". Pictures pass untouched."""

from __future__ import annotations

import numpy as np

from indexer.catalog import Catalog
from searcher.candidates import Candidates
from searcher.stages import RankRequest


class MomentsStage:
    name = "moments"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def applies(self, request: RankRequest) -> bool:
        return request.collection == "media" and request.ranking.moments

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        if not len(candidates):
            return candidates
        videos = self.catalog.videos_of(candidates.ids.tolist())
        if not videos:
            return candidates
        first: dict[int, int] = {}  # video id -> position of its best moment
        folded: dict[int, list[tuple[int, float]]] = {}
        keep = np.ones(len(candidates), dtype=bool)
        for position, item in enumerate(candidates.ids.tolist()):
            video = videos.get(item)
            if video is None:
                continue
            if video not in first:
                first[video] = position
                continue
            keep[position] = False
            folded.setdefault(first[video], []).append((item, float(candidates.score[position])))
        moments = tuple(
            (*candidates.moments[position], *folded.get(position, ())) for position in range(len(candidates))
        )
        return candidates.with_columns(moments=moments).keep(keep)
