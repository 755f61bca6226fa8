"""What a search returns: one shape for the CLI, the API and the page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from indexer.catalog import Catalog, Collection, MediaRow, picture_words
from searcher.candidates import Candidates


@dataclass(frozen=True)
class Moment:
    """Another moment of a video hit's video, further down the ranking."""

    id: int
    start: float
    end: float
    frame_time: float
    cosine: float


@dataclass(frozen=True)
class Hit:
    id: int
    rank: int
    score: float | None  # the number the list is ordered by (cosine, fused rank or reranker's; see stages)
    cosine: float  # cosine similarity to the query, exact (rescored from the stored vector)
    kind: str  # "image" | "video" (a moment of one) | "text"
    path: str | None = None  # image and video hits: the file
    companion: str | None = None  # image hits: the photo's RAW file beside its JPEG/HEIC (indexer.pairs)
    text: str | None = None  # text hits: the text
    source: str | None = None  # text hits: the file it came from
    media_id: int | None = None  # text hits: the image it describes, when known
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    camera: str | None = None
    stages: dict[str, float] | None = None  # what each ranking stage said: vector, lexical, rerank, fused, z
    duplicates: tuple[int, ...] | None = None  # near-duplicates shown as this one hit
    video_id: int | None = None  # video hits: the video's own id (the hit's id is the moment's)
    start: float | None = None  # video hits: the moment, in seconds from the video's start
    end: float | None = None
    frame_time: float | None = None  # video hits: the frame that shows the moment best (its thumbnail)
    duration: float | None = None  # video hits: the whole video's length
    moments: tuple[Moment, ...] | None = None  # video hits: the video's other moments in the ranking, best first
    words: str | None = None  # image hits: the words read in the picture (OCR), one line per line

    def to_json(self) -> dict[str, Any]:
        found = {key: value for key, value in asdict(self).items() if value is not None or key == "score"}
        if "duplicates" in found:
            found["duplicates"] = list(found["duplicates"])
        if "moments" in found:
            found["moments"] = list(found["moments"])
        return found


def hits(catalog: Catalog, collection: Collection, page: Candidates, offset: int) -> list[Hit]:
    """One page of ranked candidates as hits; an item deleted since it was ranked is left out."""
    ids = page.ids.tolist()
    found: list[Hit] = []
    if collection == "media":
        folded = [item for moments in page.moments for item, _ in moments]
        rows = catalog.media_rows([*ids, *folded])
        videos = catalog.media_rows(sorted({row.parent_id for row in rows.values() if row.parent_id is not None}))
        words = picture_words.words_of(catalog, ids)
        for position, item in enumerate(ids):
            if (row := rows.get(item)) is None:
                continue
            hit = Hit(
                **_ranked(page, position, offset),
                kind="image",
                path=row.path,
                companion=row.companion_path,
                width=row.width,
                height=row.height,
                taken_at=row.taken_at,
                camera=row.camera,
                duplicates=page.duplicates[position] or None,
                words=words.get(item),
            )
            if row.parent_id is not None:
                if (video := videos.get(row.parent_id)) is None:
                    continue  # the video left since it was ranked
                hit = _moment_hit(hit, row, video, page.moments[position], rows)
            found.append(hit)
        return found
    texts = catalog.text_rows(ids)
    for position, item in enumerate(ids):
        if (text := texts.get(item)) is not None:
            found.append(
                Hit(
                    **_ranked(page, position, offset),
                    kind="text",
                    text=text.text,
                    source=text.source,
                    media_id=text.media_id,
                )
            )
    return found


def _moment_hit(
    hit: Hit, row: MediaRow, video: MediaRow, others: tuple[tuple[int, float], ...], rows: dict[int, MediaRow]
) -> Hit:
    """A picture hit made a moment of its video: the video's file, the moment's times, its other moments."""
    moments = tuple(
        Moment(item, _seconds(rows[item].start_s), _seconds(rows[item].end_s), _seconds(rows[item].frame_s), cosine)
        for item, cosine in others
        if item in rows
    )
    return replace(
        hit,
        kind="video",
        path=video.path,
        video_id=video.id,
        start=_seconds(row.start_s),
        end=_seconds(row.end_s),
        frame_time=_seconds(row.frame_s),
        duration=video.duration_s,
        moments=moments or None,
    )


def _seconds(value: float | None) -> float:
    return round(float(value or 0.0), 3)


def _ranked(page: Candidates, position: int, offset: int) -> dict[str, Any]:
    """What every hit says of its place in the ranking, image or text."""
    return {
        "id": int(page.ids[position]),
        "rank": offset + position + 1,
        "score": _shown(page.order_score[position]),
        "cosine": float(page.score[position]),
        "stages": page.stages_of(position),
    }


def _shown(order_score: float) -> float | None:
    """None past a reranked block: those hits were never scored on the reranker's scale."""
    return None if np.isnan(order_score) else float(order_score)
