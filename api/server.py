"""`xmodal serve`: the JSON API and the search page, one FastAPI app over the same searcher as the CLI."""

import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, Response, Security, UploadFile
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyCookie, APIKeyHeader
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api.limits import BodyLimit
from api.metrics import Metrics
from api.schemas import ErrorBody, HealthOut, HitOut, MediaOut, SearchResponse, StatsOut
from api.state import LibraryState, NotReady
from api.stats import library_stats
from api.thumbnails import Thumbnails, bucket
from core.errors import InputError, NotAnImage, NotFound, XmodalError
from core.options import Paging, SearchOptions
from core.settings import Settings, load_settings
from indexer.catalog import MediaRow
from indexer.decode import DecodeError
from searcher.engine import Searcher
from searcher.hits import Hit
from searcher.query import Query as SearchQuery

STATIC = Path(__file__).parent / "static"
API_KEY_HEADER = "X-API-Key"
API_KEY_COOKIE = "xmodal_api_key"
MAX_K = 1000
MAX_OFFSET = 100_000
MAX_ID = 2**63 - 1
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
}

K = Annotated[int, Query(ge=1, le=MAX_K, description="Hits per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip (paging).")]
MediaId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Catalog id of an indexed image.")]
Upload = Annotated[UploadFile, File(description="The query picture: JPEG, PNG, WebP, GIF, BMP, TIFF or HEIC.")]


def current_searcher(request: Request) -> Searcher:
    state: LibraryState = request.app.state.library
    return state.get()


SearcherDep = Annotated[Searcher, Depends(current_searcher)]


def search_options(options: Annotated[SearchOptions, Query()]) -> SearchOptions:
    """The search options as query parameters: the declaration in core/options.py, read as `xmodal search` reads it."""
    return options


def paging(options: Annotated[Paging, Query()]) -> Paging:
    return options


Options = Annotated[SearchOptions, Depends(search_options)]
PageOptions = Annotated[Paging, Depends(paging)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


SEARCH_ERRORS = _errors(400, 503)
UPLOAD_ERRORS = _errors(400, 413, 415, 503)
MEDIA_ERRORS = _errors(404, 503)
SIMILAR_ERRORS = _errors(400, 404, 503)


def create_app(settings: Settings) -> FastAPI:
    state = LibraryState(settings)
    metrics = Metrics(state.counts)
    library_path = settings.library.expanduser().absolute()
    thumbnails = Thumbnails(library_path / "thumbnails", settings.max_file_bytes, settings.max_image_pixels)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(state.open)  # the model is loaded once, before the first query
        yield
        state.close()

    app = FastAPIOffline(
        title="xmodal",
        summary="Semantic search over your photos and texts: text→image, image→image and image→text.",
        version="0.1.0",
        lifespan=lifespan,
        static_url="/static-docs",
        favicon_url="/static/favicon.svg",
    )
    app.state.library = state
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER],
        )

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        route = request.scope.get("route")
        metrics.requests.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).inc()
        return response

    @app.exception_handler(XmodalError)
    async def xmodal_error(_request: Request, exc: XmodalError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 415 if isinstance(exc, NotAnImage) else 400
        if not isinstance(exc, InputError):
            status = 503  # a library or model problem, not the caller's
        return JSONResponse(ErrorBody(detail=exc.message, hint=exc.hint).model_dump(), status_code=status)

    @app.exception_handler(NotReady)
    async def not_ready(_request: Request, exc: NotReady) -> JSONResponse:
        body = ErrorBody(detail=f"the library is not ready: {exc.reason}", hint=exc.hint)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "2"})

    def require_key(
        header: Annotated[str | None, Security(APIKeyHeader(name=API_KEY_HEADER, auto_error=False))] = None,
        cookie: Annotated[str | None, Security(APIKeyCookie(name=API_KEY_COOKIE, auto_error=False))] = None,
    ) -> None:
        given = header or cookie or ""
        if not secrets.compare_digest(given.encode(), (settings.api_key or "").encode()):
            raise HTTPException(401, "a valid API key is required", headers={"WWW-Authenticate": "ApiKey"})

    protected = [Depends(require_key)] if settings.api_key else []
    api = APIRouter(prefix="/api", dependencies=protected, responses=_errors(401) if protected else None)

    def answer(kind: str, query: str, k: int, offset: int, run: Callable[[], list[Hit]]) -> SearchResponse:
        started = time.perf_counter()
        hits = run()
        seconds = time.perf_counter() - started
        metrics.observe_query(kind, seconds)
        return SearchResponse(
            query=query,
            kind=kind,  # type: ignore[arg-type]
            k=k,
            offset=offset,
            hits=[HitOut.of(hit) for hit in hits],
            next_offset=offset + len(hits) if len(hits) == k else None,
            took_ms=round(seconds * 1000, 2),
        )

    def read_upload(upload: UploadFile) -> bytes:
        data = upload.file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"the upload is larger than the limit of {settings.max_upload_bytes:,} bytes")
        return data

    def upload_query(upload: UploadFile, words: str | None = None) -> SearchQuery:
        name = upload.filename or "uploaded image"
        data = read_upload(upload)
        return SearchQuery(words, data, name, max_pixels=settings.max_upload_pixels, pixel_setting="max_upload_pixels")

    def media_row(searcher: Searcher, media_id: int) -> MediaRow:
        row = searcher.library.catalog.media_rows([media_id]).get(media_id)
        if row is None or row.status != "ok":
            raise NotFound(f"no indexed image has id {media_id}")
        return row

    @api.get("/search", responses=SEARCH_ERRORS, summary="Text → images")
    def search_text(
        searcher: SearcherDep,
        q: Annotated[
            str, Query(min_length=1, max_length=1000, description='Words; terms combine: "2:beach + sunset - people".')
        ],
        options: Options,
    ) -> SearchResponse:
        def run() -> list[Hit]:
            return searcher.ask(SearchQuery(q), "media", options)

        return answer("text-to-image", q, options.k, options.offset, run)

    @api.post("/search/image", responses=UPLOAD_ERRORS, summary="Image (and words) → similar images")
    def search_image(
        searcher: SearcherDep,
        file: Upload,
        options: Options,
        q: Annotated[
            str | None, Query(max_length=1000, description='Words to combine with the picture: "+ at night - people".')
        ] = None,
    ) -> SearchResponse:
        def run() -> list[Hit]:
            return searcher.ask(upload_query(file, q or None), "media", options)

        return answer("image-to-image", file.filename or "", options.k, options.offset, run)

    @api.post("/search/image/texts", responses=UPLOAD_ERRORS, summary="Image → texts that describe it")
    def search_image_texts(searcher: SearcherDep, file: Upload, options: PageOptions) -> SearchResponse:
        return answer(
            "image-to-text",
            file.filename or "",
            options.k,
            options.offset,
            lambda: searcher.ask(upload_query(file), "texts", options),
        )

    @api.get("/media/{media_id}", responses=MEDIA_ERRORS, summary="An indexed image's metadata")
    def media(searcher: SearcherDep, media_id: MediaId) -> MediaOut:
        row = media_row(searcher, media_id)
        path = Path(row.path)
        return MediaOut(
            id=media_id,
            path=row.path,
            name=path.name,
            folder=str(path.parent),
            size=row.size,
            format=row.format,
            width=row.width,
            height=row.height,
            taken_at=row.taken_at,
            camera_make=row.camera_make,
            camera_model=row.camera_model,
            indexed_at=datetime.fromtimestamp(row.indexed_at, timezone.utc).isoformat(timespec="seconds"),
            thumbnail_url=f"/api/media/{media_id}/thumbnail",
            file_url=f"/api/media/{media_id}/file",
        )

    @api.get("/media/{media_id}/similar", responses=SIMILAR_ERRORS, summary="Indexed image → similar images")
    def similar(searcher: SearcherDep, media_id: MediaId, options: Options) -> SearchResponse:
        def run() -> list[Hit]:
            return searcher.ask(SearchQuery(media_id=media_id), "media", options, exclude=media_id)

        return answer("image-to-image", f"#{media_id}", options.k, options.offset, run)

    @api.get("/media/{media_id}/texts", responses=MEDIA_ERRORS, summary="Indexed image → texts that describe it")
    def media_texts(searcher: SearcherDep, media_id: MediaId, options: PageOptions) -> SearchResponse:
        def run() -> list[Hit]:
            return searcher.ask(SearchQuery(media_id=media_id), "texts", options)

        return answer("image-to-text", f"#{media_id}", options.k, options.offset, run)

    @api.get(
        "/media/{media_id}/thumbnail",
        responses={**MEDIA_ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail."}},
        response_class=Response,
        summary="A cached JPEG thumbnail",
    )
    def thumbnail(
        request: Request,
        searcher: SearcherDep,
        media_id: MediaId,
        size: Annotated[int, Query(ge=16, le=1024, description="Longest side; rounded up to 128/256/512/1024.")] = 256,
    ) -> Response:
        row = media_row(searcher, media_id)
        size = bucket(size)
        etag = f'"{media_id}-{(row.content_hash or "")[:16]}-{size}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        try:
            data = thumbnails.get(media_id, Path(row.path), row.content_hash or "none", size)
        except FileNotFoundError:
            raise NotFound(
                f"image {media_id} is no longer on disk", "the watcher or the next index run drops it"
            ) from None
        except (OSError, DecodeError) as exc:
            raise NotFound(f"image {media_id} cannot be read now: {exc}") from None
        return Response(data, media_type="image/jpeg", headers=headers)

    @api.get(
        "/media/{media_id}/file",
        responses={**MEDIA_ERRORS, 200: {"content": {"image/*": {}}, "description": "The original file."}},
        response_class=FileResponse,
        summary="The original file",
    )
    def original(searcher: SearcherDep, media_id: MediaId) -> FileResponse:
        row = media_row(searcher, media_id)  # the path comes from the catalog only, never from the URL
        path = Path(row.path)
        if not path.is_file():
            raise NotFound(f"image {media_id} is no longer on disk", "the watcher or the next index run drops it")
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(row.format or "", "application/octet-stream"),
            filename=path.name,
            content_disposition_type="inline",
        )

    @api.get("/stats", responses=_errors(503), summary="What the library holds")
    def stats(searcher: SearcherDep) -> StatsOut:
        return StatsOut(**library_stats(searcher.library))

    app.include_router(api)

    @app.get("/healthz", summary="Liveness, and whether the library is searchable", tags=["service"])
    def healthz() -> HealthOut:
        try:
            state.get()
        except NotReady as exc:
            return HealthOut(status="starting", ready=False, detail=exc.reason)
        return HealthOut(status="ok", ready=True)

    @app.get(
        "/metrics",
        dependencies=protected,
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
        summary="Prometheus metrics",
        tags=["service"],
    )
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn's worker processes call: settings come from XMODAL_* and the config file."""
    return create_app(load_settings())


def export_settings(settings: Settings) -> None:
    """Hand the parent's settings to worker processes through the environment they inherit."""
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, list | dict):
            os.environ[f"XMODAL_{name.upper()}"] = json.dumps(value)
        else:
            os.environ[f"XMODAL_{name.upper()}"] = str(value)
