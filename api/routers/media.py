"""Indexed media by catalog id: metadata, a thumbnail, the original file, similar images and describing texts.

A file is only ever reached through its id and the catalog's path for it, never a path in the URL. A moment of a
video has an id of its own: its file is its video's, its thumbnail the frame that shows it best.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api.answer import AnswerDep
from api.deps import MediaDep, SearcherDep, ThumbnailsDep
from api.errors import error_responses
from api.ranged_file import RangedFile
from api.schemas import ErrorBody, MediaOut, SearchResponse
from api.search_params import Options, PageOptions
from api.thumbnails import bucket, etag
from searcher.query import Query as SearchQuery

MAX_ID = 2**63 - 1  # SQLite's largest integer key
THUMBNAIL_CACHE_CONTROL = "private, max-age=86400"

MEDIA_ERRORS = error_responses(404, 422, 503)
SIMILAR_ERRORS = error_responses(400, 404, 422, 503)

MediaId = Annotated[
    int, PathParam(ge=1, le=MAX_ID, description="Catalog id of an indexed image, a video or a moment of one.")
]
ThumbnailSize = Annotated[int, Query(ge=16, le=1024, description="Longest side; rounded up to 128/256/512/1024.")]

router = APIRouter(prefix="/api/media", tags=["media"])


@router.get("/{media_id}", responses=MEDIA_ERRORS, summary="An indexed image's, video's or moment's metadata")
def metadata(media: MediaDep, media_id: MediaId) -> MediaOut:
    row = media.record(media_id)
    return MediaOut.of(row, media.video_of(row), media.words(row.id))


@router.get("/{media_id}/similar", responses=SIMILAR_ERRORS, summary="Indexed image → similar images")
def similar(searcher: SearcherDep, answer: AnswerDep, media_id: MediaId, options: Options) -> SearchResponse:
    return answer(
        "image-to-image",
        f"#{media_id}",
        options.k,
        options.offset,
        lambda: searcher.ask(SearchQuery(media_id=media_id), "media", options, exclude=media_id),
    )


@router.get("/{media_id}/texts", responses=MEDIA_ERRORS, summary="Indexed image → texts that describe it")
def texts(searcher: SearcherDep, answer: AnswerDep, media_id: MediaId, options: PageOptions) -> SearchResponse:
    return answer(
        "image-to-text",
        f"#{media_id}",
        options.k,
        options.offset,
        lambda: searcher.ask(SearchQuery(media_id=media_id), "texts", options),
    )


@router.get(
    "/{media_id}/thumbnail",
    responses={**MEDIA_ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail."}},
    response_class=Response,
    summary="A cached JPEG thumbnail; of a moment, its best frame (a video's: its first moment's)",
)
def thumbnail(
    request: Request, media: MediaDep, thumbnails: ThumbnailsDep, media_id: MediaId, size: ThumbnailSize = 256
) -> Response:
    item = media.file(media_id)
    size = bucket(size)
    headers = {"ETag": etag(item, size), "Cache-Control": THUMBNAIL_CACHE_CONTROL}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(thumbnails.get(item, size), media_type="image/jpeg", headers=headers)


@router.get(
    "/{media_id}/file",
    responses={
        **MEDIA_ERRORS,
        200: {"content": {"image/*": {}, "video/*": {}}, "description": "The original file."},
        206: {"description": "The byte ranges a Range header asked for (a video player seeking)."},
        416: {"model": ErrorBody, "description": "The range starts past the end; Content-Range gives the size."},
    },
    response_class=FileResponse,
    summary="The original file; a video's for a moment of it. Byte ranges are served (Range: bytes=...).",
)
def original(media: MediaDep, media_id: MediaId) -> FileResponse:
    item = media.file_on_disk(media_id)
    try:
        found = item.path.stat()
    except FileNotFoundError:
        raise item.gone() from None
    return RangedFile(
        item.path,
        media_type=item.content_type,
        filename=item.name,
        stat_result=found,
        content_disposition_type="inline",
    )
