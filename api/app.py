"""The web app's factory: shared pieces, middleware, error handlers, routers, the page and its static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api.deps import AppContext
from api.errors import error_responses, install_error_handlers
from api.limits import BodyLimit
from api.metrics import Metrics, RequestCounter
from api.routers import media, search, service
from api.security import API_KEY_HEADER, guarded
from api.state import LibraryState
from api.thumbnails import Thumbnails
from core.settings import Settings

STATIC = Path(__file__).parent / "static"


@asynccontextmanager
async def open_library_once(app: FastAPI) -> AsyncIterator[None]:
    """The model is loaded once, before the first query; a library not there yet is retried on request."""
    library: LibraryState = app.state.context.library
    await anyio.to_thread.run_sync(library.open)
    yield
    library.close()


def create_app(settings: Settings) -> FastAPI:
    library = LibraryState(settings)
    metrics = Metrics(library.counts, library.batching)
    thumbnails = Thumbnails(
        settings.library.expanduser().absolute() / "thumbnails", settings.max_file_bytes, settings.max_image_pixels
    )
    app = FastAPIOffline(
        title="xmodal",
        summary="Semantic search over your photos and texts: text→image, image→image and image→text.",
        version="0.1.0",
        lifespan=open_library_once,
        static_url="/static-docs",
        favicon_url="/static/favicon.svg",
    )
    app.state.context = AppContext(settings, library, metrics, thumbnails)
    add_middleware(app, settings, metrics)
    install_error_handlers(app)
    protected = guarded(settings)
    unauthorized = error_responses(401) if protected else None
    for router in (search.router, media.router, service.reports):
        app.include_router(router, dependencies=protected, responses=unauthorized)
    app.include_router(service.probes)
    add_page(app)
    return app


def add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Outermost last: every answer is counted, CORS headers go on errors too, bodies are bounded first."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER],
        )
    app.add_middleware(RequestCounter, metrics=metrics)


def add_page(app: FastAPI) -> None:
    """The search page and its assets: public, they hold no library data."""

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
