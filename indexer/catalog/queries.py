"""Read-side questions the searcher and the evaluation ask of the catalog in SQLAlchemy expressions: which items a
filter allows, when pictures were taken, and how pictures and captions are linked. A plain text query asks none
of them, so its process never imports SQLAlchemy: callers import this module when they need it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select

from core.options import Filters
from indexer.catalog.catalog import Catalog, chunks, path_under
from indexer.catalog.schema import media, texts

GLOB_CHARS = frozenset("*?[")


# -- filters -----------------------------------------------------------------------------------


def taken_column() -> Any:
    """When a picture was taken: its EXIF date, else its file's modification time (what a person sorts by)."""
    file_time = func.strftime("%Y-%m-%dT%H:%M:%S", media.c.mtime_ns / 1_000_000_000, "unixepoch")
    return func.coalesce(media.c.taken_at, file_time)


def _folder_condition(folder: str) -> Any:
    folder = folder.rstrip("/") or "/"
    if GLOB_CHARS & set(folder):
        return media.c.path.op("GLOB")(folder + "/*")  # * also crosses "/": the folder and everything below
    return path_under(media.c.path, folder)


def filter_conditions(filters: Filters) -> list[Any]:
    found: list[Any] = [media.c.status == "ok"]
    if filters.folder:
        found.append(_folder_condition(filters.folder))
    if filters.after:
        found.append(taken_column() >= filters.after.isoformat())
    if filters.before:
        found.append(taken_column() < (filters.before + timedelta(days=1)).isoformat())
    if filters.media_type:
        found.append(media.c.media_type == filters.media_type)
    if filters.video is not None:
        found.append(media.c.parent_id == filters.video)
    if filters.camera:
        camera = func.lower(func.coalesce(media.c.camera_make, "") + " " + func.coalesce(media.c.camera_model, ""))
        found += [camera.contains(word.lower(), autoescape=True) for word in filters.camera.split()]
    if filters.min_size:
        found.append(func.min(media.c.width, media.c.height) >= filters.min_size)
    if filters.orientation == "landscape":
        found.append(media.c.width > media.c.height)
    elif filters.orientation == "portrait":
        found.append(media.c.width < media.c.height)
    elif filters.orientation == "square":
        found.append(media.c.width == media.c.height)
    return found


def allowed_ids(catalog: Catalog, filters: Filters) -> np.ndarray:
    """Ids of the indexed pictures the filters let through, ascending."""
    stmt = select(media.c.id).where(and_(*filter_conditions(filters))).order_by(media.c.id)
    with catalog.engine.connect() as conn:
        return np.fromiter((row[0] for row in conn.execute(stmt)), dtype=np.int64)


def taken_dates(catalog: Catalog, ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    with catalog.engine.connect() as conn:
        for chunk in chunks(list(ids), 500):
            stmt = select(media.c.id, taken_column()).where(media.c.id.in_(chunk))
            found.update((row[0], row[1] or "") for row in conn.execute(stmt))
    return found


# -- how pictures and texts are linked (evaluation) ---------------------------------------------


def ids_for_paths(catalog: Catalog, paths: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    with catalog.engine.connect() as conn:
        for chunk in chunks(list(paths), 500):
            found.update(
                (row.path, row.id)
                for row in conn.execute(select(media.c.path, media.c.id).where(media.c.path.in_(chunk)))
            )
    return found


def captions_of(catalog: Catalog, media_ids: Sequence[int] | None = None) -> list[tuple[int, int, str, str]]:
    """(text id, media id, text, source) of every text that describes a picture (of these, when given)."""
    stmt = select(texts.c.id, texts.c.media_id, texts.c.text, texts.c.source).where(texts.c.media_id.isnot(None))
    with catalog.engine.connect() as conn:
        if media_ids is None:
            return [tuple(row) for row in conn.execute(stmt)]  # type: ignore[misc]
        found: list[tuple[int, int, str, str]] = []
        for chunk in chunks(list(media_ids), 500):
            found += [tuple(row) for row in conn.execute(stmt.where(texts.c.media_id.in_(chunk)))]  # type: ignore[misc]
        return found


__all__ = [
    "allowed_ids",
    "captions_of",
    "filter_conditions",
    "ids_for_paths",
    "taken_dates",
]
