"""The one thing the ranking stages pass along: candidates in ranked order, each with its stored vector
and what every stage said of it, as typed columns (one array per field, one row per candidate).

A stage reorders or filters rows with `take`, fills its own columns with `with_columns`; nothing else
about a candidate lives anywhere else, so no stage needs to know another's bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

NO_RANK = 0  # in a *_rank column: that stage did not rank this candidate


def _nan(count: int) -> np.ndarray:
    return np.full(count, np.nan, dtype=np.float64)


def _unranked(count: int) -> np.ndarray:
    return np.zeros(count, dtype=np.int64)


@dataclass(frozen=True)
class Candidates:
    ids: np.ndarray  # int64
    score: np.ndarray  # float32: exact cosine to the query, from the stored vector (the index's model)
    order_score: np.ndarray  # float64: the number the current order follows (what a hit shows), NaN if none
    vectors: np.ndarray  # (n, dim) float32 stored vectors: collapse and MMR compare candidates with each other
    vector_rank: np.ndarray  # 1-based rank in the vector ranking, NO_RANK for items only another stage found
    lexical: np.ndarray  # BM25 (higher is better), NaN when the words matched nothing of this item
    lexical_rank: np.ndarray
    lexical_all_words: np.ndarray  # bool: one name or text holds every query word (all of them rank in its table)
    fused: np.ndarray  # reciprocal rank fusion score, NaN when no fusion ran
    rerank: np.ndarray  # the second model's cosine, NaN when it did not see the item
    rerank_rank: np.ndarray
    z: np.ndarray  # standard deviations above the query's mean score over the library, NaN when not computed
    duplicates: tuple[tuple[int, ...], ...]  # near-duplicates collapsed into this candidate
    moments: tuple[tuple[tuple[int, float], ...], ...]  # (id, cosine) of its video's other moments, folded in here
    complete: bool = False  # a larger candidate pool could not add a visible item
    floor: float = -np.inf  # every item beyond the pool scores at most this (cosine)

    @classmethod
    def from_vectors(
        cls, ids: np.ndarray, score: np.ndarray, vectors: np.ndarray, complete: bool, floor: float
    ) -> Candidates:
        """The vector ranking: ids best first, with their exact scores and stored vectors."""
        count = len(ids)
        return cls(
            ids=np.asarray(ids, dtype=np.int64),
            score=np.asarray(score, dtype=np.float32),
            order_score=np.asarray(score, dtype=np.float64),
            vectors=np.asarray(vectors, dtype=np.float32),
            vector_rank=np.arange(1, count + 1, dtype=np.int64),
            lexical=_nan(count),
            lexical_rank=_unranked(count),
            lexical_all_words=np.zeros(count, dtype=bool),
            fused=_nan(count),
            rerank=_nan(count),
            rerank_rank=_unranked(count),
            z=_nan(count),
            duplicates=((),) * count,
            moments=((),) * count,
            complete=complete,
            floor=floor,
        )

    @classmethod
    def none(cls) -> Candidates:
        return cls.from_vectors(np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 0)), True, -np.inf)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, positions: np.ndarray | list[int]) -> Candidates:
        """These rows, in this order: how a stage reorders or drops candidates."""
        picked = np.asarray(positions, dtype=np.int64)
        changes: dict[str, Any] = {}
        for column in fields(self):
            value = getattr(self, column.name)
            if isinstance(value, np.ndarray):
                changes[column.name] = value[picked]
        positions = picked.tolist()
        changes["duplicates"] = tuple(self.duplicates[position] for position in positions)
        changes["moments"] = tuple(self.moments[position] for position in positions)
        return replace(self, **changes)

    def keep(self, mask: np.ndarray) -> Candidates:
        return self.take(np.flatnonzero(mask))

    def with_columns(self, **changes: Any) -> Candidates:
        return replace(self, **changes)

    def extend(self, ids: np.ndarray, score: np.ndarray, vectors: np.ndarray) -> Candidates:
        """Items another stage found that the vector ranking did not, added after the others."""
        if not len(ids):
            return self
        extra = Candidates.from_vectors(ids, score, vectors, self.complete, self.floor)
        extra = extra.with_columns(vector_rank=_unranked(len(ids)))
        joined: dict[str, Any] = {}
        for column in fields(self):
            mine, theirs = getattr(self, column.name), getattr(extra, column.name)
            if isinstance(mine, np.ndarray):
                joined[column.name] = np.concatenate([mine, theirs]) if len(theirs) else mine
        if len(self.vectors) == 0:
            joined["vectors"] = extra.vectors
        joined["duplicates"] = self.duplicates + extra.duplicates
        joined["moments"] = self.moments + extra.moments
        return replace(self, **joined)

    def position_of(self) -> dict[int, int]:
        return {item: position for position, item in enumerate(self.ids.tolist())}

    def stages_of(self, position: int) -> dict[str, float]:
        """What each stage said of one candidate, for the hit (`--json`'s and the API's `stages`)."""
        said: dict[str, float] = {"vector": float(self.score[position])}
        if self.vector_rank[position] != NO_RANK:
            said["vector_rank"] = int(self.vector_rank[position])
        if self.lexical_rank[position] != NO_RANK:
            said["lexical"] = float(self.lexical[position])
            said["lexical_rank"] = int(self.lexical_rank[position])
            said["lexical_all_words"] = float(self.lexical_all_words[position])
        if not np.isnan(self.fused[position]):
            said["fused"] = float(self.fused[position])
        if self.rerank_rank[position] != NO_RANK:
            said["rerank"] = float(self.rerank[position])
            said["rerank_rank"] = int(self.rerank_rank[position])
        if not np.isnan(self.z[position]):
            said["z"] = round(float(self.z[position]), 4)
        return said
