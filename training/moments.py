"""Finding the moment, measured: temporal localisation through the engine, as temporal grounding reports it.

A moments CSV has columns video,start,end,caption (seconds; data/scene_videos.py writes one): the caption names
what is on screen from start to end in that video, and nowhere else in it. Relative video paths are read
against the CSV's folder. For each caption the video's moments are ranked through the engine (the query's text
tower, the index, every default stage; `--video ID` in the CLI), and a moment counts when its temporal IoU
with the true interval reaches 0.5 (0.7): R@1 and R@5. "library" asks the whole library instead (no --video):
the top moment must be in the caption's video and overlap its interval, though another video may show the
same scene.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.options import SearchOptions
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query

BARS = (0.5, 0.7)


@dataclass(frozen=True)
class TrueMoment:
    video: str  # absolute path
    start: float
    end: float
    caption: str


@dataclass(frozen=True)
class MomentsReport:
    queries: int
    videos: int
    moments_per_video: float
    top_moment_seconds: float  # the mean length of the top moment
    r1_iou50: float
    r5_iou50: float
    r1_iou70: float
    r5_iou70: float
    library_r1_iou50: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_moments(path: Path) -> list[TrueMoment]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            TrueMoment(str((path.parent / row["video"]).absolute()), float(row["start"]), float(row["end"]), caption)
            for row in csv.DictReader(handle)
            if (caption := row["caption"].strip())
        ]


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Temporal intersection over union of two intervals."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def evaluate_moments(library: Library, searcher: Searcher, truth: list[TrueMoment]) -> MomentsReport:
    """R@1 and R@5 at each IoU bar over `truth`, whose videos the library has indexed."""
    if not truth:
        raise ValueError("no moments to evaluate")
    catalog = library.catalog
    ids = {path: catalog.media_id_for_path(path) for path in {moment.video for moment in truth}}
    missing = sorted(path for path, found in ids.items() if found is None)
    if missing:
        raise ValueError(f"{len(missing)} videos of the moments file are not in the library, e.g. {missing[0]}")
    hits_at: dict[str, int] = {f"r{k}_iou{round(bar * 100)}": 0 for k in (1, 5) for bar in BARS}
    library_hits = 0
    top_seconds = 0.0
    for moment in truth:
        query = Query(text=moment.caption)
        within = SearchOptions.model_validate({"k": 5, "video": ids[moment.video], "moments": False})
        found = searcher.ask(query, "media", within)
        overlaps = [iou((hit.start or 0.0, hit.end or 0.0), (moment.start, moment.end)) for hit in found]
        for bar in BARS:
            hits_at[f"r1_iou{round(bar * 100)}"] += bool(overlaps) and overlaps[0] >= bar
            hits_at[f"r5_iou{round(bar * 100)}"] += any(overlap >= bar for overlap in overlaps)
        if found:
            top_seconds += (found[0].end or 0.0) - (found[0].start or 0.0)
        top = searcher.ask(query, "media", SearchOptions(k=1, type="video"))
        if top and (best := top[0]).path == moment.video:
            library_hits += iou((best.start or 0.0, best.end or 0.0), (moment.start, moment.end)) >= 0.5
    count = len(truth)
    return MomentsReport(
        queries=count,
        videos=len(ids),
        moments_per_video=catalog.counts()["segments"] / max(1, catalog.counts()["videos"]),
        top_moment_seconds=top_seconds / count,
        library_r1_iou50=library_hits / count,
        **{name: value / count for name, value in hits_at.items()},  # type: ignore[arg-type]
    )
