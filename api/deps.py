"""What a route can ask for: the app's shared pieces, the open library, its searcher and its media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.metrics import Metrics
from api.state import LibraryState, OpenLibrary
from api.thumbnails import Thumbnails
from core.settings import Settings
from searcher.engine import Searcher
from searcher.media import MediaService


@dataclass(frozen=True)
class AppContext:
    """One per app (kept in `app.state.context`), so several apps in one process never share a library."""

    settings: Settings
    library: LibraryState
    metrics: Metrics
    thumbnails: Thumbnails


def app_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(app_context)]


def current_settings(context: Context) -> Settings:
    return context.settings


def open_library(context: Context) -> OpenLibrary:
    """The served library; `NotReady` (503, Retry-After) while it cannot be opened."""
    return context.library.get()


Opened = Annotated[OpenLibrary, Depends(open_library)]


def current_searcher(opened: Opened) -> Searcher:
    return opened.searcher


def current_media(opened: Opened) -> MediaService:
    return opened.media


def current_thumbnails(context: Context) -> Thumbnails:
    return context.thumbnails


def current_metrics(context: Context) -> Metrics:
    return context.metrics


SettingsDep = Annotated[Settings, Depends(current_settings)]
SearcherDep = Annotated[Searcher, Depends(current_searcher)]
MediaDep = Annotated[MediaService, Depends(current_media)]
ThumbnailsDep = Annotated[Thumbnails, Depends(current_thumbnails)]
MetricsDep = Annotated[Metrics, Depends(current_metrics)]
