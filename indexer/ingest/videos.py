"""A video on its way through a run: its frames' times as they are sampled, their vectors as they are encoded,
and, once the last is encoded, its catalog record and moments."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from indexer.catalog import MediaRecord, Segment
from indexer.ingest.plan import PlannedFile
from indexer.video.moments import make_moments
from indexer.video.probe import VideoInfo


@dataclass(frozen=True)
class MomentRule:
    """How frames become moments (settings.video)."""

    every_seconds: float
    similarity: float
    max_seconds: float


@dataclass
class PendingVideo:
    item: PlannedFile
    content_hash: str
    info: VideoInfo | None = None
    times: list[float] = field(default_factory=list)  # of the frames sampled so far
    cuts: list[bool] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)  # of the frames encoded so far (a prefix of times)
    note: str | None = None  # a video kept in part: where and why it broke off

    def end(self, rule: MomentRule) -> float:
        """Where its last moment ends: the header's duration, else one sampling interval past the last frame."""
        last = self.times[-1] + rule.every_seconds if self.times else 0.0
        if self.note is None and self.info is not None and self.info.duration:
            return max(float(self.info.duration), self.times[-1] if self.times else 0.0)
        return last

    def record(self, rule: MomentRule) -> MediaRecord:
        file, info = self.item.file, self.info
        return MediaRecord(
            file.path,
            file.size,
            file.mtime_ns,
            self.content_hash,
            "ok",
            self.note,
            info.codec if info else None,
            info.width if info else None,
            info.height if info else None,
            id=self.item.known.id if self.item.known is not None else None,
            media_type="video",
            duration_s=round(self.end(rule), 3),
        )

    def frames(self) -> list[tuple[float, np.ndarray]]:
        return list(zip(self.times, self.vectors, strict=True))

    def moments(self, rule: MomentRule) -> list[Segment]:
        vectors = np.stack(self.vectors) if self.vectors else np.zeros((0, 0), np.float32)
        return make_moments(self.times, self.cuts, vectors, self.end(rule), rule.similarity, rule.max_seconds)
