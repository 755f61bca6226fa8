"""The query parameters a search takes: paging, filters, ordering and the ranking stages' switches.

`search_options` is the one dependency every search route reads them through, with the same meaning as
`xmodal search`'s flags.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Query

from core.errors import InputError
from core.options import Filters, Orientation
from searcher.engine import SearchOptions, Sort, Stages

MAX_K = 1000
MAX_OFFSET = 100_000
DAY = r"^\d{4}-\d{2}-\d{2}$"

K = Annotated[int, Query(ge=1, le=MAX_K, description="Hits per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip (paging).")]


def _day(text: str | None) -> date | None:
    """Strictly YYYY-MM-DD: a bare number is not quietly read as a Unix timestamp."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text} is not a day on the calendar", "write dates as YYYY-MM-DD") from None


def search_options(
    k: K = 20,
    offset: Offset = 0,
    folder: Annotated[
        str | None, Query(max_length=4096, description="Only under this folder, or folders matching a glob.")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=DAY, description="Taken on or after this day (EXIF, else file time).")
    ] = None,
    before: Annotated[str | None, Query(pattern=DAY, description="Taken on or before this day (YYYY-MM-DD).")] = None,
    media_type: Annotated[Literal["image", "video"] | None, Query(alias="type")] = None,
    camera: Annotated[str | None, Query(max_length=200, description="Words in the camera make or model.")] = None,
    min_size: Annotated[int | None, Query(ge=1, le=1_000_000, description="Shorter side, pixels.")] = None,
    orientation: Orientation | None = None,
    sort: Annotated[Sort, Query(description="relevance, or date (newest first) among the relevant.")] = "relevance",
    min_score: Annotated[float | None, Query(ge=-1, le=1, description="Drop hits below this similarity.")] = None,
    hybrid: Annotated[bool | None, Query(description="Also match names, folders, captions, camera.")] = None,
    expand: Annotated[bool | None, Query(description='Average words over prompts ("a photo of …").')] = None,
    rerank: Annotated[bool | None, Query(description="Rescore the top with the configured second model.")] = None,
    collapse: Annotated[bool | None, Query(description="Show near-duplicates as one hit.")] = None,
    cutoff: Annotated[bool | None, Query(description="Drop hits not clearly relevant to the words.")] = None,
    mmr: Annotated[float | None, Query(ge=0, le=1, description="Diversify: MMR lambda (1 = relevance only).")] = None,
) -> SearchOptions:
    """The same options as `xmodal search`'s flags."""
    filters = Filters(
        folder=folder,
        after=_day(after),
        before=_day(before),
        media_type=media_type,
        camera=camera,
        min_size=min_size,
        orientation=orientation,
    )
    stages = Stages(hybrid=hybrid, expand=expand, rerank=rerank, collapse=collapse, cutoff=cutoff, mmr=mmr)
    return SearchOptions(k=k, offset=offset, filters=filters, sort=sort, min_score=min_score, stages=stages)


Options = Annotated[SearchOptions, Depends(search_options)]
