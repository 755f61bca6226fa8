"""Searches: words → images, a picture (and words) → images, a picture → the texts that describe it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from api.answer import AnswerDep
from api.deps import SearcherDep, SettingsDep
from api.errors import error_responses
from api.limits import BodyTooLarge
from api.schemas import SearchResponse
from api.search_params import Options, PageOptions
from core.settings import Settings
from indexer.decode import READABLE_FORMATS
from searcher.query import MAX_QUERY_CHARS
from searcher.query import Query as SearchQuery

SEARCH_ERRORS = error_responses(400, 422, 503)
UPLOAD_ERRORS = error_responses(400, 413, 415, 422, 503)

Upload = Annotated[UploadFile, File(description=f"The query picture: {READABLE_FORMATS}.")]
Words = Annotated[
    str,
    Query(min_length=1, max_length=MAX_QUERY_CHARS, description='Words; terms combine: "2:beach + sunset - people".'),
]
ExtraWords = Annotated[
    str | None,
    Query(max_length=MAX_QUERY_CHARS, description='Words to combine with the picture: "+ at night - people".'),
]

router = APIRouter(prefix="/api", tags=["search"])


def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The body limit already stopped a larger request; this holds when the part arrived another way."""
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BodyTooLarge(max_bytes)
    return data


def picture_query(upload: UploadFile, settings: Settings, words: str | None = None) -> SearchQuery:
    name = upload.filename or "uploaded image"
    data = read_upload(upload, settings.max_upload_bytes)
    return SearchQuery(words, data, name, max_pixels=settings.max_upload_pixels, pixel_setting="max_upload_pixels")


@router.get("/search", responses=SEARCH_ERRORS, summary="Text → images")
def search_text(searcher: SearcherDep, answer: AnswerDep, q: Words, options: Options) -> SearchResponse:
    return answer("text-to-image", q, options.k, options.offset, lambda: searcher.ask(SearchQuery(q), "media", options))


@router.post("/search/image", responses=UPLOAD_ERRORS, summary="Image (and words) → similar images")
def search_image(
    searcher: SearcherDep,
    settings: SettingsDep,
    answer: AnswerDep,
    file: Upload,
    options: Options,
    q: ExtraWords = None,
) -> SearchResponse:
    return answer(
        "image-to-image",
        file.filename or "",
        options.k,
        options.offset,
        lambda: searcher.ask(picture_query(file, settings, q or None), "media", options),
    )


@router.post("/search/image/texts", responses=UPLOAD_ERRORS, summary="Image → texts that describe it")
def search_image_texts(
    searcher: SearcherDep, settings: SettingsDep, answer: AnswerDep, file: Upload, options: PageOptions
) -> SearchResponse:
    return answer(
        "image-to-text",
        file.filename or "",
        options.k,
        options.offset,
        lambda: searcher.ask(picture_query(file, settings), "texts", options),
    )
